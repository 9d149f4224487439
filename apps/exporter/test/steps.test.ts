// `run --steps` through the built binary against the simulator: exactly the served steps and
// errors in SQLite and in file sinks (the `step_executions/date=DAY/part.*` files read by standard
// consumers: JSON.parse for NDJSON, DuckDB for Parquet in a New York session); SIGKILLs during the
// step work then a complete run give the same rows as one run.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
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
const zone = "America/New_York"
const previousTz = process.env.TZ
afterAll(async () => {
  if (previousTz === undefined) delete process.env.TZ
  else process.env.TZ = previousTz
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

/**
 * Four runs of `run --once ARGS` each killed with SIGKILL after a random number (1 to 60) of
 * step requests (or when it finished first); returns where each was killed.
 */
const killDuringSteps = async (args: ReadonlyArray<string>, seed: number) => {
  const random = prng(seed)
  const points: Array<string> = []
  for (let i = 0; i < 4; i++) {
    const start = stepRequests()
    const after = 1 + Math.floor(random() * 60)
    const running = spawnBin(["run", "--once", ...args], simEnv(sim))
    let exited = false
    void running.done.then(() => {
      exited = true
    })
    await waitFor(() => exited || stepRequests() - start >= after, 60_000, 2)
    running.child.kill("SIGKILL")
    await running.done
    points.push(`after ${after} step requests${exited ? " (finished first)" : ""}`)
  }
  return points.join("\n")
}

type Row = Record<string, unknown>

/** The error message the exporter takes from a served output (the shapes the simulator serves). */
const expectedMessage = (detail: Readonly<Record<string, unknown>>): string | null => {
  const output = detail.output
  if (detail.isLargeOutput === true) return null
  if (typeof output === "string") return output.startsWith("Error: ") ? output.slice(7) : null
  return (output as { error?: { message?: string } }).error?.message ?? null
}

/** What `step_executions` should hold for the failed executions, by step id (with the day of the partition). */
const expectedSteps = () => {
  const out = new Map<string, Row>()
  for (const execution of sim.dataset().filter((r) => r.status === "FAILED")) {
    for (const { summary, detail } of sim.steps(String(execution.id)) ?? []) {
      const failed = summary.status === "FAILED"
      out.set(String(summary.id), {
        id: summary.id,
        execution_id: execution.id,
        step_id: summary.stepId ?? null,
        type: summary.type ?? null,
        status: summary.status ?? null,
        date_started: summary.dateStarted ?? null,
        date_ended: summary.dateEnded ?? null,
        error_message: failed ? expectedMessage(detail) : null,
        output_raw: failed ? JSON.stringify(detail.output) : null,
        raw: JSON.stringify(summary),
        day: String(execution.dateStarted).slice(0, 10)
      })
    }
  }
  return out
}

/** The step rows of an NDJSON export (JSON.parse of each line), without `exported_at`, sorted by id. */
const readNdjsonSteps = (out: string): Array<Row> => {
  const root = join(out, "step_executions")
  const rows: Array<Row> = []
  for (const day of readdirSync(root).filter((d) => d.startsWith("date="))) {
    for (const line of readFileSync(join(root, day, "part.ndjson"), "utf8").split("\n")) {
      if (line.length === 0) continue
      const { exported_at, ...rest } = JSON.parse(line) as Row
      expect(typeof exported_at).toBe("string")
      rows.push({ ...rest, day: day.slice("date=".length) })
    }
  }
  return rows.sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1))
}

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
    const points = await killDuringSteps(["--steps", "failed", "--sink", `sqlite:${db}`], 16)
    const killed = await readSteps(db)
    expect(killed.backlog, points).toBeGreaterThan(0)
    const final = await runBin(["run", "--once", "--steps", "failed", "--sink", `sqlite:${db}`], simEnv(sim))
    expect(final.code, final.stderr).toBe(0)
    const resumed = await readSteps(db)
    expect(resumed.backlog).toBe(0)
    expect(resumed.rows, points).toEqual(expected.rows)

    const status = await runBin(["status", "--sink", `sqlite:${db}`], simEnv(sim))
    expect(status.stdout).toMatch(
      new RegExp(`steps\\s+${expected.rows.length} rows, 0 execution\\(s\\) in the step backlog`)
    )
  }, 240_000)

  it("refuses bad step flags (exit 2, one line)", async () => {
    for (const [args, named] of [
      [["--steps", "some"], "failed"],
      [["--steps", "failed", "--steps-budget", "1.5"], "--steps-budget"],
      [["--steps", "failed", "--steps-budget", "0"], "--steps-budget"],
      [["--steps", "failed", "--steps-max-requests", "0"], "--steps-max-requests"]
    ] as const) {
      const result = await runBin(["run", "--once", ...args], simEnv(sim), { cwd: dir.path })
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toContain(named)
      expect(result.stderr.trim().split("\n").length).toBeLessThanOrEqual(2)
    }
  }, 120_000)

  it("ndjson: exactly the served steps and errors; SIGKILLs during the step work, then a rerun: the same rows", async () => {
    const reference = join(dir.path, "reference")
    const whole = await runBin(
      ["run", "--once", "--steps", "failed", "--sink", `ndjson:${reference}`],
      simEnv(sim)
    )
    expect(whole.code, whole.stderr).toBe(0)
    const expected = expectedSteps()
    const rows = readNdjsonSteps(reference)
    expect(rows.length).toBe(expected.size)
    for (const row of rows) expect(row, String(row.id)).toEqual(expected.get(String(row.id)))
    expect(rows.some((r) => r.error_message !== null)).toBe(true)
    expect(rows.some((r) => r.status === "FAILED" && r.error_message === null)).toBe(true)
    const status = await runBin(["status", "--sink", `ndjson:${reference}`], simEnv(sim))
    expect(status.stdout).toMatch(
      new RegExp(`steps\\s+${expected.size} rows, 0 execution\\(s\\) in the step backlog`)
    )

    const killed = join(dir.path, "killed")
    const points = await killDuringSteps(
      ["--steps", "failed", "--batch-size", "200", "--sink", `ndjson:${killed}`],
      41
    )
    const between = await runBin(["status", "--sink", `ndjson:${killed}`], simEnv(sim))
    expect(between.stdout, points).not.toMatch(/, 0 execution\(s\) in the step backlog/)
    const final = await runBin(
      ["run", "--once", "--steps", "failed", "--sink", `ndjson:${killed}`],
      simEnv(sim)
    )
    expect(final.code, final.stderr).toBe(0)
    expect(readNdjsonSteps(killed), points).toEqual(rows)
    const after = await runBin(["status", "--sink", `ndjson:${killed}`], simEnv(sim))
    expect(after.stdout).toMatch(
      new RegExp(`steps\\s+${expected.size} rows, 0 execution\\(s\\) in the step backlog`)
    )
  }, 240_000)

  it("parquet: DuckDB in America/New_York reads every step as served, and joins it with the executions", async () => {
    const out = join(dir.path, "parquet")
    const result = await runBin(
      ["run", "--once", "--steps", "failed", "--sink", `parquet:${out}`],
      simEnv(sim, { TZ: zone })
    )
    expect(result.code, result.stderr).toBe(0)
    process.env.TZ = zone
    const instance = await DuckDBInstance.create(":memory:")
    const connection = await instance.connect()
    const query = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Row>
    try {
      await connection.run(`SET TimeZone = '${zone}'`)
      const steps = `read_parquet('${out}/step_executions/date=*/part.parquet', hive_partitioning = true)`
      const columns = await query(`DESCRIBE SELECT * FROM ${steps}`)
      expect(Object.fromEntries(columns.map((c) => [c.column_name, c.column_type]))).toEqual({
        id: "VARCHAR",
        execution_id: "VARCHAR",
        step_id: "VARCHAR",
        type: "VARCHAR",
        status: "VARCHAR",
        date_started: "TIMESTAMP WITH TIME ZONE",
        date_ended: "TIMESTAMP WITH TIME ZONE",
        error_message: "VARCHAR",
        output_raw: "VARCHAR",
        raw: "VARCHAR",
        exported_at: "TIMESTAMP WITH TIME ZONE",
        date: "DATE"
      })
      const rows = await query(`
        SELECT id, execution_id, step_id, type, status,
               epoch_ms(date_started) AS started_ms, epoch_ms(date_ended) AS ended_ms,
               error_message, output_raw, raw, CAST(date AS VARCHAR) AS day
        FROM ${steps} ORDER BY id`)
      const expected = expectedSteps()
      expect(rows.length).toBe(expected.size)
      const ms = (v: unknown) => (typeof v === "string" ? BigInt(Date.parse(v)) : null)
      for (const row of rows) {
        const { date_started, date_ended, ...want } = expected.get(String(row.id)) ?? {}
        expect(row, String(row.id)).toEqual({
          ...want,
          started_ms: ms(date_started),
          ended_ms: ms(date_ended)
        })
      }
      // What a warehouse asks: failed steps by workflow and message, joined with the executions.
      const executions = `read_parquet('${out}/date=*/part.parquet', hive_partitioning = true)`
      const grouped = await query(`
        SELECT e.workflow_id, s.error_message, count(*) AS failures
        FROM ${steps} s JOIN ${executions} e ON e.id = s.execution_id
        WHERE s.status = 'FAILED' GROUP BY ALL ORDER BY ALL`)
      const byWorkflow = new Map(sim.dataset().map((r) => [String(r.id), r.workflowId ?? null]))
      const counts = new Map<string, number>()
      for (const step of expected.values()) {
        if (step.status !== "FAILED") continue
        const key = JSON.stringify([byWorkflow.get(String(step.execution_id)), step.error_message])
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      expect(
        new Map(grouped.map((g) => [JSON.stringify([g.workflow_id, g.error_message]), Number(g.failures)]))
      ).toEqual(counts)
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
  }, 240_000)

  it("the first run's cost notice counts the step requests, and says they are an estimate", async () => {
    // 2,000 executions at 10 requests a minute: the plan takes minutes, so the notice is logged.
    const running = spawnBin(
      ["run", "--once", "--steps", "failed", "--sink", `sqlite:${join(dir.path, "notice.db")}`],
      simEnv(sim, { PARAGON_RATE_LIMIT: "10/1m" })
    )
    await waitFor(() => running.stderr().includes("later runs read only what is new"), 60_000, 20)
    running.child.kill("SIGTERM")
    const result = await running.done
    expect(result.code, result.stderr).toBe(0)
    const failed = sim.dataset().filter((r) => r.status === "FAILED").length
    const line = result.stderr.split("\n").find((l) => l.includes("the first run"))
    expect(line).toContain(
      `needs about ${20 + 2 * failed} requests (20 list page request(s) for 2000 executions`
    )
    expect(line).toContain(
      `+ about ${2 * failed} step request(s), an estimate: one per failed execution (${failed})`
    )
    expect(line).toMatch(/at the rate limit of 10\/1m/)
  }, 120_000)
})
