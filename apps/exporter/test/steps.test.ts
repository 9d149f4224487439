import { join } from "node:path"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { Effect } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { killAll, prng, runBin, simEnv, spawnBin, tempDir, waitFor } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 2000, seed: 23, latency: { minMs: 20, maxMs: 60 } })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

/** The step rows of a SQLite sink without `exported_at`, sorted by id, and the backlog's size. */
const readSteps = (path: string) =>
  Effect.gen(function* () {
    const sql = yield* SqliteClient.SqliteClient
    const rows = yield* sql<Record<string, unknown>>`SELECT * FROM step_executions ORDER BY id`
    const [backlog] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM step_backlog`
    return {
      rows: rows.map(({ exported_at: _, ...rest }) => rest),
      backlog: backlog?.n ?? 0
    }
  }).pipe(
    Effect.provide(SqliteClient.layer({ filename: path, readonly: true })),
    Effect.scoped,
    Effect.runPromise
  )

const stepRequests = () => sim.stats().byRoute.get + sim.stats().byRoute.step

describe("run --steps", () => {
  it("SIGKILL at 4 points of the step work, then a complete run: the same step rows as one run", async () => {
    const reference = join(dir.path, "reference.db")
    const whole = await runBin(
      ["run", "--once", "--steps", "failed", "--sink", `sqlite:${reference}`],
      simEnv(sim)
    )
    expect(whole.code, whole.stderr).toBe(0)
    const expected = await readSteps(reference)
    const failed = sim.dataset().filter((r) => r.status === "FAILED").length
    expect(new Set(expected.rows.map((r) => r.execution_id)).size).toBe(failed)
    expect(expected.backlog).toBe(0)

    const db = join(dir.path, "killed.db")
    const random = prng(16)
    const points: Array<string> = []
    for (let i = 0; i < 4; i++) {
      const start = stepRequests()
      const after = 1 + Math.floor(random() * 60)
      const running = spawnBin(["run", "--once", "--steps", "failed", "--sink", `sqlite:${db}`], simEnv(sim))
      let exited = false
      void running.done.then(() => {
        exited = true
      })
      await waitFor(() => exited || stepRequests() - start >= after, 60_000, 2)
      running.child.kill("SIGKILL")
      await running.done
      points.push(`after ${after} step requests${exited ? " (finished first)" : ""}`)
    }
    const killed = await readSteps(db)
    expect(killed.backlog, points.join("\n")).toBeGreaterThan(0)
    const final = await runBin(["run", "--once", "--steps", "failed", "--sink", `sqlite:${db}`], simEnv(sim))
    expect(final.code, final.stderr).toBe(0)
    const resumed = await readSteps(db)
    expect(resumed.backlog).toBe(0)
    expect(resumed.rows, points.join("\n")).toEqual(expected.rows)

    const status = await runBin(["status", "--sink", `sqlite:${db}`], simEnv(sim))
    expect(status.stdout).toMatch(
      new RegExp(`steps\\s+${expected.rows.length} rows, 0 execution\\(s\\) in the step backlog`)
    )
  }, 240_000)

  it("refuses bad step flags and sinks that do not store steps (exit 2, one line)", async () => {
    for (const [args, named] of [
      [["--steps", "some"], "failed"],
      [["--steps", "failed", "--steps-budget", "1.5"], "--steps-budget"],
      [["--steps", "failed", "--steps-budget", "0"], "--steps-budget"],
      [["--steps", "failed", "--steps-max-requests", "0"], "--steps-max-requests"],
      [["--steps", "failed", "--sink", `ndjson:${join(dir.path, "nd")}`], "--steps"]
    ] as const) {
      const result = await runBin(["run", "--once", ...args], simEnv(sim), { cwd: dir.path })
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toContain(named)
      expect(result.stderr.trim().split("\n").length).toBeLessThanOrEqual(2)
    }
  }, 120_000)
})
