/**
 * The SQL sinks (SQLite and Postgres) share one implementation: numbered migrations in a small
 * table of our own, multi-row upserts, and one transaction per batch holding the rows, the
 * rejects and the export state.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Effect, Option } from "effect"
import {
  type Batch,
  type BatchResult,
  type ExportState,
  type Reject,
  SinkError,
  type SinkShape,
  type SinkStatus
} from "../Sink.js"

/** @internal */
export type Dialect = "sqlite" | "pg"

/** @internal */
export interface SqlSinkOptions {
  readonly dialect: Dialect
  /** Description safe for logs. */
  readonly name: string
  /** Postgres schema holding the tables (quoted identifier); none for the default. */
  readonly schema?: string | undefined
}

/** Largest rows per INSERT statement (10 parameters each: well under both engines' limits). */
const CHUNK = 128

/**
 * Splits `n` rows into statement sizes that are powers of two (at most {@link CHUNK}), so only a
 * handful of distinct statements are ever prepared and cached.
 */
const chunkSizes = (n: number): Array<number> => {
  const sizes: Array<number> = []
  let left = n
  while (left > 0) {
    let size = CHUNK
    while (size > left) size >>= 1
    sizes.push(size)
    left -= size
  }
  return sizes
}

/** @internal */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

/** @internal */
export const toSinkError =
  (sink: string, operation: string) =>
  (error: SqlError): SinkError =>
    new SinkError({ sink, operation, detail: describeSqlError(error) })

const describeSqlError = (error: SqlError): string => {
  const cause = error.cause
  const detail =
    cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause ?? null)
  return detail === undefined || detail === "" ? error.message : `${error.message}: ${detail}`
}

/** @internal */
export interface Tables {
  readonly migrations: string
  readonly executions: string
  readonly state: string
  readonly rejects: string
  readonly prefix: string
}

/** @internal */
export const tables = (schema: string | undefined): Tables => {
  const q = (t: string) => (schema === undefined ? t : `${quoteIdent(schema)}.${t}`)
  return {
    migrations: q("taskhistory_migrations"),
    executions: q("workflow_executions"),
    state: q("export_state"),
    rejects: q("export_rejects"),
    prefix: schema === undefined ? "" : `${schema}_`
  }
}

interface Migration {
  readonly version: number
  readonly name: string
  readonly statements: (dialect: Dialect, t: Tables) => ReadonlyArray<string>
}

/**
 * Numbered migrations. Append only: never edit a released one.
 *
 * @internal
 */
export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "create_workflow_executions",
    statements: (dialect, t) => {
      const ts = dialect === "pg" ? "timestamptz" : "TEXT"
      const num = dialect === "pg" ? "double precision" : "NUMERIC"
      return [
        `CREATE TABLE ${t.executions} (
          id TEXT PRIMARY KEY,
          user_id TEXT,
          workflow_id TEXT,
          status TEXT NOT NULL,
          task_count ${num},
          run_duration_ms ${num},
          date_started ${ts} NOT NULL,
          date_ended ${ts},
          raw TEXT NOT NULL,
          exported_at ${ts} NOT NULL
        )`,
        `CREATE INDEX ${quoteIdent(`${t.prefix}workflow_executions_date_started`)} ON ${t.executions} (date_started)`,
        `CREATE TABLE ${t.state} (
          stream_key TEXT PRIMARY KEY,
          high_water_mark ${ts},
          longest_run_ms ${num} NOT NULL DEFAULT 0,
          last_run_at ${ts},
          cursor TEXT,
          updated_at ${ts} NOT NULL
        )`,
        `CREATE TABLE ${t.rejects} (
          stream_key TEXT NOT NULL,
          reject_key TEXT NOT NULL,
          id TEXT,
          raw TEXT NOT NULL,
          reason TEXT NOT NULL,
          seen_at ${ts} NOT NULL,
          PRIMARY KEY (stream_key, reject_key)
        )`
      ]
    }
  }
]

const runMigrations = (sql: SqlClient, options: SqlSinkOptions, t: Tables) =>
  Effect.gen(function* () {
    if (options.dialect === "pg" && options.schema !== undefined) {
      yield* sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`)
    }
    const ts = options.dialect === "pg" ? "timestamptz" : "TEXT"
    yield* sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${t.migrations} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${ts} NOT NULL)`
    )
    yield* Effect.gen(function* () {
      if (options.dialect === "pg") {
        // Two processes migrating the same database wait for each other.
        yield* sql.unsafe(`SELECT pg_advisory_xact_lock(hashtext($1))`, [t.migrations])
      }
      const rows = yield* sql.unsafe<{ version: number | string }>(`SELECT version FROM ${t.migrations}`)
      const applied = new Set(rows.map((r) => Number(r.version)))
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        for (const statement of migration.statements(options.dialect, t)) {
          yield* sql.unsafe(statement)
        }
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        yield* sql.unsafe(
          `INSERT INTO ${t.migrations} (version, name, applied_at) VALUES (${ph(options.dialect, 1)}, ${ph(options.dialect, 2)}, ${ph(options.dialect, 3)})`,
          [migration.version, migration.name, now]
        )
        yield* Effect.logDebug(`applied migration ${migration.version} ${migration.name}`)
      }
    }).pipe(sql.withTransaction)
  })

const ph = (dialect: Dialect, n: number) => (dialect === "pg" ? `$${n}` : "?")

const placeholders = (dialect: Dialect, rows: number, cols: number, start = 1): string => {
  const out: Array<string> = []
  let n = start
  for (let r = 0; r < rows; r++) {
    const cells: Array<string> = []
    for (let c = 0; c < cols; c++) cells.push(ph(dialect, n++))
    out.push(`(${cells.join(", ")})`)
  }
  return out.join(", ")
}

/** @internal */
export const numberOrNull = (value: unknown): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null

/** @internal */
export const stringOrNull = (value: unknown): string | null => (typeof value === "string" ? value : null)

/** Appends the row of a record to `params`, in the column order of {@link EXEC_COLUMNS}. */
const pushRow = (params: Array<unknown>, record: WorkflowExecution, raw: string, now: string): void => {
  params.push(
    record.id,
    stringOrNull(record.userId),
    stringOrNull(record.workflowId),
    record.status,
    numberOrNull(record.taskCount),
    numberOrNull(record.runDuration),
    record.dateStarted,
    stringOrNull(record.dateEnded),
    raw,
    now
  )
}

/** @internal */
export const EXEC_COLUMNS =
  "id, user_id, workflow_id, status, task_count, run_duration_ms, date_started, date_ended, raw, exported_at"

/**
 * Stores a reject (parameters: stream key, reject key, id, raw, reason, seen at).
 *
 * @internal
 */
export const rejectUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.rejects} (stream_key, reject_key, id, raw, reason, seen_at) VALUES ${placeholders(dialect, 1, 6)} ` +
  `ON CONFLICT (stream_key, reject_key) DO UPDATE SET id = excluded.id, raw = excluded.raw, reason = excluded.reason, seen_at = excluded.seen_at`

/**
 * Stores the state of a stream (parameters: stream key, high-water mark, longest run, last run,
 * cursor JSON, updated at).
 *
 * @internal
 */
export const stateUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.state} (stream_key, high_water_mark, longest_run_ms, last_run_at, cursor, updated_at) VALUES ${placeholders(dialect, 1, 6)} ` +
  `ON CONFLICT (stream_key) DO UPDATE SET high_water_mark = excluded.high_water_mark, longest_run_ms = excluded.longest_run_ms, ` +
  `last_run_at = excluded.last_run_at, cursor = excluded.cursor, updated_at = excluded.updated_at`

/** The parameters of {@link stateUpsert}, in its order. @internal */
export const stateParams = (s: ExportState, now: string): Array<unknown> => [
  s.streamKey,
  s.highWaterMark ?? null,
  s.longestRunMs,
  s.lastRunAt ?? null,
  s.cursor === undefined ? null : JSON.stringify(s.cursor),
  now
]

/** The parameters of {@link rejectUpsert}, in its order. @internal */
export const rejectParams = (streamKey: string, reject: Reject): Array<unknown> => [
  streamKey,
  rejectKey(reject),
  reject.id ?? null,
  reject.raw,
  reject.reason,
  reject.seenAt
]

/** @internal */
export const rejectKey = (reject: Reject): string =>
  reject.id !== undefined ? `id:${reject.id}` : `sha1:${createHash("sha1").update(reject.raw).digest("hex")}`

/**
 * Builds the sink over a SQL client: runs the migrations, then serves the `Sink` operations.
 *
 * @internal
 */
export const make = (sql: SqlClient, options: SqlSinkOptions): Effect.Effect<SinkShape, SinkError> =>
  Effect.gen(function* () {
    const { dialect, name } = options
    const t = tables(options.schema)
    if (dialect === "sqlite") {
      // WAL (set by the client) + NORMAL: a committed batch survives a killed process.
      yield* sql
        .unsafe("PRAGMA synchronous = NORMAL")
        .pipe(
          Effect.zipRight(sql.unsafe("PRAGMA busy_timeout = 5000")),
          Effect.mapError(toSinkError(name, "open"))
        )
    }
    yield* runMigrations(sql, options, t).pipe(Effect.mapError(toSinkError(name, "migrate")))

    const insertSql = new Map<number, string>()
    const upsertText = (rows: number): string => {
      let text = insertSql.get(rows)
      if (text === undefined) {
        const update =
          "SET user_id = excluded.user_id, workflow_id = excluded.workflow_id, status = excluded.status, " +
          "task_count = excluded.task_count, run_duration_ms = excluded.run_duration_ms, " +
          "date_started = excluded.date_started, date_ended = excluded.date_ended, raw = excluded.raw, " +
          "exported_at = excluded.exported_at"
        text =
          dialect === "pg"
            ? `INSERT INTO ${t.executions} AS t (${EXEC_COLUMNS}) VALUES ${placeholders(dialect, rows, 10)} ` +
              `ON CONFLICT (id) DO UPDATE ${update} WHERE t.raw IS DISTINCT FROM excluded.raw ` +
              `RETURNING (xmax = 0) AS inserted`
            : `INSERT INTO ${t.executions} (${EXEC_COLUMNS}) VALUES ${placeholders(dialect, rows, 10)} ` +
              `ON CONFLICT (id) DO UPDATE ${update}`
        insertSql.set(rows, text)
      }
      return text
    }
    const selectSql = new Map<number, string>()
    const selectText = (rows: number): string => {
      let text = selectSql.get(rows)
      if (text === undefined) {
        text = `SELECT id, raw FROM ${t.executions} WHERE id IN (${Array.from({ length: rows }, (_, i) => ph(dialect, i + 1)).join(", ")})`
        selectSql.set(rows, text)
      }
      return text
    }

    const rejectText = rejectUpsert(dialect, t)
    const stateText = stateUpsert(dialect, t)

    /** Upserts the records; returns [inserted, updated, unchanged]. */
    const upsert = (records: ReadonlyArray<WorkflowExecution>, now: string) =>
      Effect.gen(function* () {
        // Last occurrence of an id wins (a batch may hold the same id twice).
        const latest = new Map<string, WorkflowExecution>()
        for (const record of records) latest.set(record.id, record)
        const unique = Array.from(latest.values())
        let inserted = 0
        let updated = 0
        let unchanged = records.length - unique.length
        let i = 0
        for (const size of chunkSizes(unique.length)) {
          const chunk = unique.slice(i, i + size)
          i += size
          const raws = chunk.map((r) => JSON.stringify(r))
          if (dialect === "pg") {
            const params: Array<unknown> = []
            chunk.forEach((r, j) => {
              pushRow(params, r, raws[j]!, now)
            })
            const rows = yield* sql.unsafe<{ inserted: boolean }>(upsertText(chunk.length), params)
            for (const row of rows) {
              if (row.inserted) inserted++
              else updated++
            }
            unchanged += chunk.length - rows.length
          } else {
            const existing = yield* sql.unsafe<{ id: string; raw: string }>(
              selectText(chunk.length),
              chunk.map((r) => r.id)
            )
            const known = new Map<string, string>()
            for (const row of existing) known.set(row.id, row.raw)
            // The rows to write, flat (10 parameters per row): one array, no per-row arrays.
            const pending: Array<unknown> = []
            chunk.forEach((r, j) => {
              const raw = raws[j]!
              const before = known.get(r.id)
              if (before === undefined) inserted++
              else if (before === raw) {
                unchanged++
                return
              } else updated++
              pushRow(pending, r, raw, now)
            })
            const rows = pending.length / 10
            let k = 0
            for (const size of chunkSizes(rows)) {
              const params = k === 0 && size === rows ? pending : pending.slice(k * 10, (k + size) * 10)
              yield* sql.unsafe(upsertText(size), params)
              k += size
            }
          }
        }
        return [inserted, updated, unchanged] as const
      })

    const writeBatch = (batch: Batch): Effect.Effect<BatchResult, SinkError> =>
      Effect.gen(function* () {
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        const [inserted, updated, unchanged] =
          batch.records.length === 0 ? ([0, 0, 0] as const) : yield* upsert(batch.records, now)
        const streamKey = batch.state?.streamKey ?? ""
        for (const reject of batch.rejects) yield* sql.unsafe(rejectText, rejectParams(streamKey, reject))
        if (batch.state !== undefined) {
          yield* sql.unsafe(stateText, stateParams(batch.state, now))
        }
        return { inserted, updated, unchanged, rejected: batch.rejects.length }
      }).pipe(
        sql.withTransaction,
        Effect.mapError(toSinkError(name, "write batch")),
        // A batch is written whole or rolled back; an interrupt waits for the outcome.
        Effect.uninterruptible
      )

    const loadState = (streamKey: string): Effect.Effect<Option.Option<ExportState>, SinkError> =>
      sql
        .unsafe<StateRow>(`SELECT ${STATE_COLUMNS} FROM ${t.state} WHERE stream_key = ${ph(dialect, 1)}`, [
          streamKey
        ])
        .pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), decodeState)),
          Effect.mapError(toSinkError(name, "load state"))
        )

    const status: Effect.Effect<SinkStatus, SinkError> = Effect.gen(function* () {
      const [rows] = yield* sql.unsafe<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${t.executions}`)
      const [rejects] = yield* sql.unsafe<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${t.rejects}`)
      const states = yield* sql.unsafe<StateRow>(
        `SELECT ${STATE_COLUMNS} FROM ${t.state} ORDER BY stream_key`
      )
      return {
        sink: name,
        rows: Number(rows?.n ?? 0),
        rejects: Number(rejects?.n ?? 0),
        states: states.map(decodeState)
      }
    }).pipe(Effect.mapError(toSinkError(name, "read status")))

    return { name, loadState, writeBatch, status }
  })

const toIso = (value: unknown): string | undefined =>
  value === null || value === undefined
    ? undefined
    : value instanceof Date
      ? value.toISOString()
      : String(value)

/** @internal */
export const decodeState = (row: StateRow): ExportState => ({
  streamKey: row.stream_key,
  highWaterMark: toIso(row.high_water_mark),
  longestRunMs: Number(row.longest_run_ms ?? 0),
  lastRunAt: toIso(row.last_run_at),
  cursor: row.cursor === null || row.cursor === undefined ? undefined : parseJson(row.cursor)
})

/** The columns of the state table, as read. @internal */
export const STATE_COLUMNS = "stream_key, high_water_mark, longest_run_ms, last_run_at, cursor"

/** @internal */
export interface StateRow {
  readonly stream_key: string
  readonly high_water_mark: unknown
  readonly longest_run_ms: number | string | null
  readonly last_run_at: unknown
  readonly cursor: string | null
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
