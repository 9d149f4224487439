import { hostname } from "node:os"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, readSqlite, runBin, simEnv, spawnBin, tempDir, waitFor } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 600, seed: 11 })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

const sinks = [
  { label: "SQLite file", sink: () => `sqlite:${join(dir.path, "one.db")}` },
  { label: "file-sink directory", sink: () => `ndjson:${join(dir.path, "ndjson")}` }
]

describe("one exporter per SQLite file or file-sink directory", () => {
  for (const { label, sink } of sinks) {
    it(`a second exporter on the same ${label} is refused at start (exit 2, naming the holder), or waits with --wait-for-lock`, async () => {
      const first = spawnBin(["run", "--every", "1h", "--sink", sink()], simEnv(sim))
      expect(await waitFor(() => /run complete/.test(first.stderr()), 60_000, 20), first.stderr()).toBe(true)

      const second = await runBin(["run", "--once", "--sink", sink()], simEnv(sim))
      expect(second.code, second.stderr).toBe(2)
      const lines = second.stderr.trim().split("\n")
      expect(lines.length, second.stderr).toBeLessThanOrEqual(2)
      expect(second.stderr).toContain(`locked by pid ${first.child.pid} on host ${hostname()}`)
      expect(second.stderr).toContain("--wait-for-lock")
      expect(second.stderr).not.toMatch(/run complete/)

      // status reads beside the running exporter, without its lock.
      const status = await runBin(["status", "--sink", sink(), "--format", "json"], {})
      expect(status.code, status.stderr).toBe(0)
      expect((JSON.parse(status.stdout) as { rows: number }).rows).toBe(600)

      const waiting = spawnBin(["run", "--once", "--wait-for-lock", "--sink", sink()], simEnv(sim))
      expect(
        await waitFor(() => /waiting for the lock/.test(waiting.stderr()), 30_000, 20),
        waiting.stderr()
      ).toBe(true)
      expect(waiting.stderr()).toContain(`pid ${first.child.pid} on host ${hostname()}`)
      expect(waiting.stderr()).not.toMatch(/run complete/)
      first.child.kill("SIGTERM")
      expect((await first.done).code).toBe(0)
      const waited = await waiting.done
      expect(waited.code, waited.stderr).toBe(0)
      expect(waited.stderr).toMatch(/run complete: \d+ seen, 0 inserted/)
    })
  }

  it("a SQLite file left locked by a killed exporter is taken over at once", async () => {
    const db = join(dir.path, "killed.db")
    const first = spawnBin(["run", "--every", "1h", "--sink", `sqlite:${db}`], simEnv(sim))
    expect(await waitFor(() => /run complete/.test(first.stderr()), 60_000, 20), first.stderr()).toBe(true)
    first.child.kill("SIGKILL")
    await first.done
    const next = await runBin(["run", "--once", "--sink", `sqlite:${db}`], simEnv(sim))
    expect(next.code, next.stderr).toBe(0)
    expect(diff((await readSqlite(db)).rows, sim.dataset())).toEqual([])
  })
})
