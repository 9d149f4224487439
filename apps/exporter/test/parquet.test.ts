// A `parquet:DIR` export read as a warehouse reads it: DuckDB (@duckdb/node-api) in a session
// whose time zone is America/New_York, over the files the built binary wrote, compared column by
// column with the simulator's dataset. Instants must be the served ones whatever the session's
// zone (the columns are UTC-adjusted TIMESTAMPs), counts BIGINT, absent values NULL.
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { killAll, runBin, simEnv, tempDir } from "./utils/harness.js"

const zone = "America/New_York"
let sim: RunningSimulator
const dir = tempDir()
const out = join(dir.path, "parquet")
const previousTz = process.env.TZ

beforeAll(async () => {
  sim = await startSimulator({ records: 1500, seed: 11 })
  sim.insert(20)
  // DuckDB's default session zone is the process's: New York from here on, and SET below too.
  process.env.TZ = zone
})
afterAll(async () => {
  killAll()
  if (previousTz === undefined) delete process.env.TZ
  else process.env.TZ = previousTz
  await sim.close()
  dir.remove()
})

type Row = Record<string, unknown>

const query = async (sql: string): Promise<Array<Row>> => {
  const instance = await DuckDBInstance.create(":memory:")
  const connection = await instance.connect()
  try {
    await connection.run(`SET TimeZone = '${zone}'`)
    const reader = await connection.runAndReadAll(sql)
    return reader.getRowObjectsJS() as Array<Row>
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

const files = `${out}/date=*/part.parquet`

/** Every file under `path`, with its size. */
const walk = (path: string): Array<{ readonly name: string; readonly size: number }> =>
  readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(path, e.name))
      : [{ name: join(path, e.name).slice(out.length + 1), size: statSync(join(path, e.name)).size }]
  )

describe("parquet:DIR read by DuckDB in America/New_York", () => {
  it("exports with the built binary (its own TZ set to New York too)", async () => {
    const result = await runBin(["run", "--once", "--sink", `parquet:${out}`], simEnv(sim, { TZ: zone }), {
      timeoutMs: 180_000
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/run complete: 1520 seen, 1520 inserted/)
  }, 200_000)

  it("has the session in New York, the instants as TIMESTAMP WITH TIME ZONE, counts as BIGINT", async () => {
    const [setting] = await query("SELECT current_setting('TimeZone') AS zone")
    expect(setting?.zone).toBe(zone)
    const columns = await query(`DESCRIBE SELECT * FROM read_parquet('${files}', hive_partitioning = true)`)
    expect(Object.fromEntries(columns.map((c) => [c.column_name, c.column_type]))).toEqual({
      id: "VARCHAR",
      user_id: "VARCHAR",
      workflow_id: "VARCHAR",
      status: "VARCHAR",
      task_count: "BIGINT",
      run_duration_ms: "BIGINT",
      date_started: "TIMESTAMP WITH TIME ZONE",
      date_ended: "TIMESTAMP WITH TIME ZONE",
      exported_at: "TIMESTAMP WITH TIME ZONE",
      raw: "VARCHAR",
      date: "DATE"
    })
  }, 120_000)

  it("gives every column of every execution as served: same instants, NULL where absent", async () => {
    const rows = await query(`
      SELECT id, user_id, workflow_id, status, task_count, run_duration_ms,
             -- As a session in New York takes them: a TIMESTAMP without the UTC flag would be
             -- taken as New York wall-clock time here, 5 hours off.
             epoch_ms(CAST(date_started AS TIMESTAMPTZ)) AS started_ms,
             epoch_ms(CAST(date_ended AS TIMESTAMPTZ)) AS ended_ms,
             CAST(date_started AS VARCHAR) AS started_local,
             strftime(date_started AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS started_utc,
             CAST(date AS VARCHAR) AS day, raw, exported_at
      FROM read_parquet('${files}', hive_partitioning = true)
      ORDER BY id`)
    const dataset = sim.dataset()
    expect(rows.length).toBe(dataset.length)
    const served = new Map(dataset.map((r) => [String(r.id), r]))
    const differences: Array<string> = []
    const bigint = (v: unknown) => (typeof v === "number" ? BigInt(Math.round(v)) : null)
    const ms = (v: unknown) => (typeof v === "string" ? BigInt(Date.parse(v)) : null)
    let nullEnds = 0
    for (const row of rows) {
      const record = served.get(String(row.id))
      if (record === undefined) {
        differences.push(`extra ${String(row.id)}`)
        continue
      }
      const expected: Row = {
        id: record.id,
        user_id: record.userId ?? null,
        workflow_id: record.workflowId ?? null,
        status: record.status,
        task_count: bigint(record.taskCount),
        run_duration_ms: bigint(record.runDuration),
        started_ms: ms(record.dateStarted),
        ended_ms: ms(record.dateEnded),
        started_utc: new Date(String(record.dateStarted)).toISOString(),
        day: String(record.dateStarted).slice(0, 10),
        raw: JSON.stringify(record)
      }
      const got = Object.fromEntries(Object.keys(expected).map((k) => [k, row[k]]))
      if (JSON.stringify(got, replacer) !== JSON.stringify(expected, replacer)) {
        differences.push(
          `${String(row.id)}: read ${JSON.stringify(got, replacer)}, served ${JSON.stringify(expected, replacer)}`
        )
      }
      // Shown in the session's zone: New York's offset (-05 in winter, -04 in summer).
      if (!/ [0-9:.]+-0[45]$/.test(String(row.started_local)))
        differences.push(`${String(row.id)}: ${String(row.started_local)}`)
      if (!(row.exported_at instanceof Date))
        differences.push(`${String(row.id)}: exported_at ${String(row.exported_at)}`)
      if (row.ended_ms === null) nullEnds++
    }
    expect(differences.slice(0, 10)).toEqual([])
    // The dataset has executions still running: their date_ended is NULL, not 1970 or "".
    expect(nullEnds).toBe(dataset.filter((r) => r.dateEnded === null || r.dateEnded === undefined).length)
    expect(nullEnds).toBeGreaterThan(0)
  }, 120_000)

  it("keeps no bookkeeping beside the data larger than the data", () => {
    const all = walk(out)
    const data = all.filter((f) => f.name.endsWith("/part.parquet"))
    const own = all.filter((f) => !f.name.endsWith("/part.parquet"))
    expect(data.length).toBeGreaterThan(1)
    // _state.json (and _lock while running) only: no hidden copy of the rows.
    expect(own.map((f) => f.name).filter((n) => n !== "_state.json")).toEqual([])
    const sum = (fs: typeof all) => fs.reduce((n, f) => n + f.size, 0)
    expect(sum(own)).toBeLessThan(sum(data))
  })
})

const replacer = (_key: string, value: unknown) => (typeof value === "bigint" ? `${value}n` : value)
