// `run --since` relative to now (`3d`), and durations without a unit, on the built binary.
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { killAll, readSqlite, runBin, simEnv, tempDir } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 400, seed: 31 })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

describe("taskhistory-exporter status --format", () => {
  it("takes table and json in any case, and names a bad one as the CLI does (exit 2)", async () => {
    const db = join(dir.path, "status.db")
    expect((await runBin(["run", "--once", "--sink", `sqlite:${db}`], simEnv(sim))).code).toBe(0)
    const [json, table, bad] = await Promise.all([
      runBin(["status", "--sink", `sqlite:${db}`, "--format", "JSON"], {}),
      runBin(["status", "--sink", `sqlite:${db}`], {}),
      runBin(["status", "--sink", `sqlite:${db}`, "--format", "yaml"], {})
    ])
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout).rows).toBe(400)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^rows {6}400$/m)
    expect(table.stdout).toMatch(
      /read through {7}\S+Z \(\d+s ago\): the last successful run read every execution/
    )
    expect(table.stdout).toContain("longest execution")
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('invalid --format "yaml": expected one of table, json')
  })
})

describe("taskhistory-exporter run --since DATE", () => {
  it("--since 3d starts a first run three days before now; a bare number is exit 2", async () => {
    const db = join(dir.path, "since.db")
    const starts = sim.dataset().map((r) => Date.parse(String(r.dateStarted)))
    const t0 = Date.now()
    const run = await runBin(["run", "--once", "--since", "3d", "--sink", `sqlite:${db}`], simEnv(sim))
    const t1 = Date.now()
    expect(run.code, run.stderr).toBe(0)
    const { count } = await readSqlite(db)
    const DAY = 86_400_000
    // The binary's now lies between t0 and t1 (records started since then are not in the dataset's past).
    expect(count).toBeGreaterThan(0)
    expect(count).toBeLessThan(starts.length)
    expect(count).toBeGreaterThanOrEqual(starts.filter((t) => t >= t1 - 3 * DAY).length)
    expect(count).toBeLessThanOrEqual(starts.filter((t) => t >= t0 - 3 * DAY).length)

    const [bareSince, bareEvery] = await Promise.all([
      runBin(["run", "--once", "--since", "3", "--sink", `sqlite:${join(dir.path, "x.db")}`], simEnv(sim)),
      runBin(["run", "--every", "5", "--sink", `sqlite:${join(dir.path, "y.db")}`], simEnv(sim))
    ])
    expect(bareSince.code).toBe(2)
    expect(bareSince.stderr).toContain('--since "3"')
    expect(bareSince.stderr).toContain("7d")
    expect(bareEvery.code).toBe(2)
    expect(bareEvery.stderr).toContain('--every "5"')
    expect(bareEvery.stderr).toContain("unit")
  })
})
