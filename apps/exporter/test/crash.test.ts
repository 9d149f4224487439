import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  diff,
  killAll,
  prng,
  readSqlite,
  runBin,
  simEnv,
  spawnBin,
  tempDir,
  waitFor
} from "./utils/harness.js"

// ~50 requests at 100-200 ms each, read by up to 8 windows at once: a full run takes well over a
// second, so kills up to 700 ms after the first request land mid-run.
const RECORDS = 4000
let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: RECORDS, seed: 11, latency: { minMs: 100, maxMs: 200 } })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

const listRequests = () => sim.stats().byRoute.list

/**
 * Starts a run and SIGKILLs it once it has made `afterRequests` list requests (counted by the
 * simulator), or `afterMs` after its first request. Returns how many requests it made.
 */
const killedRun = async (
  sink: string,
  point: { readonly afterRequests?: number; readonly afterMs?: number }
): Promise<{ readonly requests: number; readonly exited: boolean }> => {
  const start = listRequests()
  const running = spawnBin(["run", "--once", "--sink", sink], simEnv(sim))
  let exited = false
  void running.done.then(() => {
    exited = true
  })
  if (point.afterMs !== undefined) {
    // Measured from the run's first request, so that the kill lands while it pages and writes.
    await waitFor(() => exited || listRequests() - start >= 1, 30_000, 2)
    await new Promise((r) => setTimeout(r, point.afterMs))
  } else {
    await waitFor(() => exited || listRequests() - start >= (point.afterRequests ?? 1), 30_000, 2)
  }
  running.child.kill("SIGKILL")
  const result = await running.done
  return { requests: listRequests() - start, exited: result.signal !== "SIGKILL" && result.code !== null }
}

describe("crash and resume", () => {
  // Two databases, five kills each: three counted in list requests (a page written or not, a
  // transaction in flight or not) and two at random instants after the first request (paging,
  // writing, between batches); then a complete run, compared exactly with the dataset.
  for (const round of [1, 2]) {
    it(`SIGKILL at 5 different points (round ${round}), then a complete run: nothing missing, nothing twice`, async () => {
      const db = join(dir.path, `crash-${round}.db`)
      const sink = `sqlite:${db}`
      const random = prng(2026 + round)
      const points: Array<string> = []
      for (let i = 0; i < 5; i++) {
        const point =
          i % 2 === 0
            ? { afterRequests: 1 + Math.floor(random() * 8) }
            : { afterMs: Math.floor(random() * 700) }
        const r = await killedRun(sink, point)
        points.push(
          `${JSON.stringify(point)} -> ${r.requests} requests${r.exited ? " (finished first)" : ""}`
        )
      }
      console.info(`kill points, round ${round}:\n  ${points.join("\n  ")}`)
      const final = await runBin(["run", "--once", "--sink", sink], simEnv(sim))
      expect(final.code, final.stderr).toBe(0)
      const stored = await readSqlite(db)
      expect(diff(stored.rows, sim.dataset()), points.join("\n")).toEqual([])
      expect(stored.count).toBe(RECORDS)
      // The kills really interrupted runs in the middle: most did not finish on their own. (A run
      // after one that did finish is incremental, a couple of requests, and may finish first.)
      expect(points.filter((p) => p.includes("finished first")).length, points.join("\n")).toBeLessThan(3)
    })
  }

  it("SIGTERM stops a run cleanly with exit 0; the next run completes it exactly", async () => {
    const db = join(dir.path, "sigterm.db")
    const sink = `sqlite:${db}`
    const start = listRequests()
    const running = spawnBin(["run", "--once", "--sink", sink], simEnv(sim))
    expect(await waitFor(() => listRequests() - start >= 5, 30_000, 2)).toBe(true)
    running.child.kill("SIGTERM")
    const stopped = await running.done
    expect(stopped.code, stopped.stderr).toBe(0)
    expect(stopped.stderr).not.toMatch(/error/i)
    // What was written is consistent: every stored row is a served execution, stored once.
    const partial = await readSqlite(db)
    expect(partial.count).toBeLessThan(RECORDS)
    const served = new Map(sim.dataset().map((r) => [String(r.id), r]))
    for (const id of partial.rows.keys()) expect(served.has(id)).toBe(true)

    const rest = await runBin(["run", "--once", "--sink", sink], simEnv(sim))
    expect(rest.code, rest.stderr).toBe(0)
    const stored = await readSqlite(db)
    expect(diff(stored.rows, sim.dataset())).toEqual([])
  })
})
