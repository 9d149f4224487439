import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, readSqlite, runBin, simEnv, tempDir } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 1500, seed: 7, churn: { lateArrivals: 10, revealPerRequest: 0 } })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

describe("taskhistory-exporter run --once (SQLite)", () => {
  const db = join(dir.path, "once.db")
  const sink = `sqlite:${db}`

  it("exports the whole dataset exactly, then reruns incrementally and stays exact under churn", async () => {
    const first = await runBin(["run", "--once", "--sink", sink], simEnv(sim))
    expect(first.stderr).not.toContain(sim.apiKey)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe("")
    expect(first.stderr).toMatch(/run complete: 1500 seen, 1500 inserted/)
    const afterFirst = await readSqlite(db)
    expect(diff(afterFirst.rows, sim.dataset())).toEqual([])
    expect(afterFirst.count).toBe(1500)

    // A rerun with nothing new reads only the look-back range: a few requests, not 15+.
    const before = sim.stats().requests
    const second = await runBin(["run", "--sink", sink], simEnv(sim))
    expect(second.code, second.stderr).toBe(0)
    const rerunRequests = sim.stats().requests - before
    expect(rerunRequests).toBeGreaterThan(0)
    expect(rerunRequests).toBeLessThanOrEqual(5)
    expect(second.stderr).toMatch(/0 inserted/)

    // The server inserts new executions, expires old ones and reveals late ones. The late ones
    // started weeks ago: a --lookback that covers the dataset's span finds them.
    sim.insert(120)
    const expired = sim.expire(40)
    sim.reveal(5)
    const third = await runBin(["run", "--once", "--lookback", "61d", "--sink", sink], simEnv(sim))
    expect(third.code, third.stderr).toBe(0)
    const afterThird = await readSqlite(db)
    expect(diff(afterThird.rows, sim.dataset(), new Set(expired))).toEqual([])
    expect(afterThird.count).toBe(sim.dataset().length + expired.length)
  })

  it("status shows the high-water mark, last run and counts, as a table or JSON", async () => {
    const json = await runBin(["status", "--sink", sink, "--format", "json"], {})
    expect(json.code, json.stderr).toBe(0)
    const status = JSON.parse(json.stdout) as {
      sink: string
      rows: number
      rejects: number
      streams: Array<{ streamKey: string; highWaterMark: string | null; lastRunAt: string | null }>
    }
    const stored = await readSqlite(db)
    expect(status.rows).toBe(stored.count)
    expect(status.rejects).toBe(0)
    expect(status.streams).toHaveLength(1)
    expect(status.streams[0]?.highWaterMark).not.toBeNull()
    expect(status.streams[0]?.lastRunAt).not.toBeNull()

    const table = await runBin(["status", "--sink", sink], {})
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toContain(`rows      ${stored.count}`)
    expect(table.stdout).toContain("high-water mark")
    expect(table.stdout).toContain("last run")
  })

  it("status of a database that does not exist exits 2 naming it", async () => {
    const missing = join(dir.path, "nothing-here.db")
    const r = await runBin(["status", "--sink", `sqlite:${missing}`], {})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(missing)
  })
})

describe("taskhistory-exporter exit codes", () => {
  it("a bad sink spec exits 2 naming it", async () => {
    const r = await runBin(["run", "--sink", "mysql://db/x"], simEnv(sim))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("mysql://db/x")
    expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2)
  })

  it("a bad --since exits 2 naming the value", async () => {
    const r = await runBin(
      ["run", "--since", "2026-13-45", "--sink", `sqlite:${join(dir.path, "x.db")}`],
      simEnv(sim)
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("2026-13-45")
  })

  it("a bad cron expression exits 2 naming it, as do two schedule flags", async () => {
    const cron = await runBin(
      ["run", "--schedule", "61 * * * *", "--sink", `sqlite:${join(dir.path, "x.db")}`],
      simEnv(sim)
    )
    expect(cron.code).toBe(2)
    expect(cron.stderr).toContain("61 * * * *")
    const both = await runBin(["run", "--once", "--every", "1m"], simEnv(sim))
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("at most one")
  })

  it("a refused key exits 3 and points at PARAGON_API_KEY, without printing the key", async () => {
    const wrongKey = "wrong-key-0123456789"
    const r = await runBin(
      ["run", "--once", "--sink", `sqlite:${join(dir.path, "auth.db")}`],
      simEnv(sim, { PARAGON_API_KEY: wrongKey })
    )
    expect(r.code).toBe(3)
    expect(r.stderr).toContain("PARAGON_API_KEY")
    expect(r.stderr).not.toContain(wrongKey)
  })

  it("--help exits 0 and says --once is the default", async () => {
    const r = await runBin(["run", "--help"], {})
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("--once")
    expect(r.stdout).toMatch(/default when neither --schedule nor --every/)
  })
})
