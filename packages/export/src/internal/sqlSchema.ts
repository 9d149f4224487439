/**
 * The SQL schema of the SQLite and Postgres sinks, in one place: the tables, the numbered
 * migrations and the runner that applies them, the row of an execution (its parameters, from the
 * projection of `Columns.ts`), the statements both sinks share, the state row and the default
 * database path.
 *
 * @internal
 */
import { Clock, Effect } from "effect"
import * as Columns from "../Columns.js"
import type { ExportState, QueuedSteps, Reject, StepRow, StepScope } from "../Sink.js"
import { rejectKey } from "./rejects.js"
import { shouldQueue, stepColumnNames, stepValues } from "./stepRecords.js"

/** The default database file of the SQLite sink (and so of the exporter). */
export const DEFAULT_PATH = "./taskhistory.db"

export type Dialect = "sqlite" | "pg"

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

export interface Tables {
  readonly migrations: string
  readonly executions: string
  readonly state: string
  readonly rejects: string
  /** The step executions of the exported executions (`--steps`). */
  readonly steps: string
  /** Executions whose steps are still to be fetched (`--steps`), oldest first. */
  readonly stepBacklog: string
  /** The step scopes whose stored executions were queued once (`--steps` turned on later). */
  readonly stepScopes: string
  readonly leases: string
  readonly replicas: string
  readonly alerts: string
  /** Prefix of index names (the schema's name and `_`, or nothing). */
  readonly prefix: string
}

/** The table names, qualified by `schema` (Postgres) when there is one. */
export const tables = (schema: string | undefined): Tables => {
  const q = (t: string) => (schema === undefined ? t : `${quoteIdent(schema)}.${t}`)
  return {
    migrations: q("taskhistory_migrations"),
    executions: q("workflow_executions"),
    state: q("export_state"),
    rejects: q("export_rejects"),
    steps: q("step_executions"),
    stepBacklog: q("step_backlog"),
    stepScopes: q("step_scopes"),
    leases: q("export_leases"),
    replicas: q("export_replicas"),
    alerts: q("alert_state"),
    prefix: schema === undefined ? "" : `${schema}_`
  }
}

// ---------------------------------------------------------------------------------------------
// migrations

interface Migration {
  readonly version: number
  readonly name: string
  readonly statements: (dialect: Dialect, t: Tables) => ReadonlyArray<string>
}

const timestampType = (dialect: Dialect) => (dialect === "pg" ? "timestamptz" : "TEXT")

/** Numbered migrations. Append only: never edit a released one. */
export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "create_workflow_executions",
    statements: (dialect, t) => {
      const ts = timestampType(dialect)
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
  },
  {
    version: 2,
    name: "create_step_executions",
    statements: (dialect, t) => {
      const ts = timestampType(dialect)
      return [
        `CREATE TABLE ${t.steps} (
          id TEXT PRIMARY KEY,
          execution_id TEXT NOT NULL,
          step_id TEXT,
          type TEXT,
          status TEXT,
          date_started ${ts},
          date_ended ${ts},
          error_message TEXT,
          output_raw TEXT,
          raw TEXT NOT NULL,
          exported_at ${ts} NOT NULL
        )`,
        `CREATE INDEX ${quoteIdent(`${t.prefix}step_executions_execution_id`)} ON ${t.steps} (execution_id)`,
        `CREATE TABLE ${t.stepBacklog} (
          execution_id TEXT PRIMARY KEY,
          status TEXT NOT NULL,
          date_started ${ts} NOT NULL,
          queued_at ${ts} NOT NULL
        )`,
        `CREATE INDEX ${quoteIdent(`${t.prefix}step_backlog_date_started`)} ON ${t.stepBacklog} (date_started, execution_id)`
      ]
    }
  },
  {
    version: 3,
    name: "create_step_scopes",
    statements: (dialect, t) => [
      `CREATE TABLE ${t.stepScopes} (scope TEXT PRIMARY KEY, queued_at ${timestampType(dialect)} NOT NULL)`
    ]
  },
  {
    version: 4,
    name: "create_export_leases",
    // Leases of streams among replicas (see LeaseStore): one row per stream, and the replicas'
    // heartbeats (how many share the streams).
    statements: (dialect, t) => {
      const ts = timestampType(dialect)
      return [
        `CREATE TABLE ${t.leases} (
          stream TEXT PRIMARY KEY,
          holder TEXT,
          token BIGINT NOT NULL,
          expires_at ${ts} NOT NULL,
          acquired_at ${ts} NOT NULL,
          renewed_at ${ts} NOT NULL
        )`,
        `CREATE TABLE ${t.replicas} (
          holder TEXT PRIMARY KEY,
          expires_at ${ts} NOT NULL
        )`
      ]
    }
  },
  {
    version: 5,
    name: "create_alert_state",
    statements: (dialect, t) => [
      `CREATE TABLE ${t.alerts} (
        stream_key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at ${timestampType(dialect)} NOT NULL
      )`
    ]
  }
]

/** What the migration runner needs of a connection. */
export interface MigrationDriver<E> {
  readonly dialect: Dialect
  /** Runs one statement; the rows it returns (none for DDL). */
  readonly run: (
    statement: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<unknown>, E>
  /** Runs `body` in one write transaction. */
  readonly transaction: <A>(body: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/**
 * Applies the migrations not applied yet, each recorded in the migrations table. Up to date (the
 * common case, e.g. `status` beside a running export), it takes no write lock. Otherwise it
 * migrates in one transaction; on Postgres, two processes migrating the same database wait for
 * each other (an advisory lock).
 */
export const migrate = <E>(
  driver: MigrationDriver<E>,
  schema: string | undefined
): Effect.Effect<ReadonlyArray<string>, E> =>
  Effect.gen(function* () {
    const { dialect } = driver
    const t = tables(schema)
    const createMigrations = driver.run(
      `CREATE TABLE IF NOT EXISTS ${t.migrations} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${timestampType(dialect)} NOT NULL)`
    )
    if (dialect === "pg") {
      // Replicas starting at once on a new database: `IF NOT EXISTS` alone races (a duplicate
      // key in the catalog), so they take turns.
      yield* driver.transaction(
        Effect.gen(function* () {
          yield* driver.run(`SELECT pg_advisory_xact_lock(hashtext($1))`, [t.migrations])
          if (schema !== undefined) yield* driver.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
          yield* createMigrations
        })
      )
    } else {
      yield* createMigrations
    }
    const applied = Effect.map(
      driver.run(`SELECT version FROM ${t.migrations}`),
      (rows) => new Set(rows.map((r) => Number((r as { version: number | string }).version)))
    )
    const before = yield* applied
    if (migrations.every((m) => before.has(m.version))) return []
    const done = yield* driver.transaction(
      Effect.gen(function* () {
        if (dialect === "pg") yield* driver.run(`SELECT pg_advisory_xact_lock(hashtext($1))`, [t.migrations])
        const now = yield* applied
        const names: Array<string> = []
        for (const migration of migrations) {
          if (now.has(migration.version)) continue
          for (const statement of migration.statements(dialect, t)) yield* driver.run(statement)
          const at = new Date(yield* Clock.currentTimeMillis).toISOString()
          yield* driver.run(
            `INSERT INTO ${t.migrations} (version, name, applied_at) VALUES ${placeholders(dialect, 1, 3)}`,
            [migration.version, migration.name, at]
          )
          names.push(`${migration.version} ${migration.name}`)
        }
        return names
      })
    )
    for (const name of done) yield* Effect.logDebug(`applied migration ${name}`)
    return done
  })

// ---------------------------------------------------------------------------------------------
// statements

/** The `n`th parameter of a statement. */
export const ph = (dialect: Dialect, n: number) => (dialect === "pg" ? `$${n}` : "?")

/** `rows` groups of `cols` parameters: `($1, $2), ($3, $4)` or `(?, ?), (?, ?)`. */
export const placeholders = (dialect: Dialect, rows: number, cols: number, start = 1): string => {
  const out: Array<string> = []
  let n = start
  for (let r = 0; r < rows; r++) {
    const cells: Array<string> = []
    for (let c = 0; c < cols; c++) cells.push(ph(dialect, n++))
    out.push(`(${cells.join(", ")})`)
  }
  return out.join(", ")
}

/** The columns of `workflow_executions`, in the order of {@link executionParams}. */
export const executionColumns: ReadonlyArray<string> = [...Columns.names, "raw", "exported_at"]

/** Parameters per execution row. */
export const EXECUTION_WIDTH = executionColumns.length

const RAW = executionColumns.indexOf("raw")

/** The parameters of an execution row: its columns (see `Columns.ts`), `raw`, `exported_at`. */
export const executionParams = (
  record: Readonly<Record<string, unknown>>,
  raw: string,
  exportedAt: string
): Array<unknown> => {
  const params: Array<unknown> = Columns.values(record)
  params.push(raw, exportedAt)
  return params
}

/** `SET user_id = excluded.user_id, ...` for every column but `id`. */
const setExcluded = executionColumns
  .slice(1)
  .map((c) => `${c} = excluded.${c}`)
  .join(", ")

/**
 * Inserts `rows` executions, updating the ones whose id exists. On Postgres, only a row whose
 * `raw` differs is updated, and each written row returns its `id`, `inserted` (false for an
 * update) and `before`, the status it had before the statement (NULL for a new row: the subquery
 * reads the statement's snapshot, taken before its own writes).
 */
export const upsertExecutions = (dialect: Dialect, t: Tables, rows: number): string => {
  const values = placeholders(dialect, rows, EXECUTION_WIDTH)
  const columns = executionColumns.join(", ")
  return dialect === "pg"
    ? `INSERT INTO ${t.executions} AS t (${columns}) VALUES ${values} ` +
        `ON CONFLICT (id) DO UPDATE SET ${setExcluded} WHERE t.raw IS DISTINCT FROM excluded.raw ` +
        `RETURNING t.id, (xmax = 0) AS inserted, (SELECT o.status FROM ${t.executions} o WHERE o.id = t.id) AS before`
    : `INSERT INTO ${t.executions} (${columns}) VALUES ${values} ON CONFLICT (id) DO UPDATE SET ${setExcluded}`
}

/** The records of a batch with the last occurrence of each id (in the position of its first one). */
export const latestOnly = <R extends { readonly id: string }>(
  records: ReadonlyArray<R>
): ReadonlyArray<R> => {
  const ids = new Set<string>()
  for (const record of records) {
    if (ids.has(record.id)) {
      const latest = new Map<string, R>()
      for (const r of records) latest.set(r.id, r)
      return Array.from(latest.values())
    }
    ids.add(record.id)
  }
  return records
}

/** SQLite: inserts one execution unless its id exists (parameters: {@link executionParams}). */
export const insertExecutionIfNew = (t: Tables): string =>
  `INSERT INTO ${t.executions} (${executionColumns.join(", ")}) VALUES ${placeholders("sqlite", 1, EXECUTION_WIDTH)} ON CONFLICT (id) DO NOTHING`

/** SQLite: the stored status and `raw` of one execution (parameter: its id). */
export const selectExecutionRaw = (t: Tables): string =>
  `SELECT status, raw FROM ${t.executions} WHERE id = ?`

/** SQLite: updates one execution whose `raw` differs (parameters: {@link updateParams}). */
export const updateExecution = (t: Tables): string =>
  `UPDATE ${t.executions} SET ${executionColumns
    .slice(1)
    .map((c) => `${c} = ?`)
    .join(", ")} WHERE id = ? AND raw IS NOT ?`

/** The parameters of {@link updateExecution} from those of {@link executionParams}. */
export const updateParams = (row: ReadonlyArray<unknown>): Array<unknown> => {
  const params = row.slice(1)
  params.push(row[0], row[RAW])
  return params
}

/** Stores a reject (parameters: {@link rejectParams}). */
export const rejectUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.rejects} (stream_key, reject_key, id, raw, reason, seen_at) VALUES ${placeholders(dialect, 1, 6)} ` +
  `ON CONFLICT (stream_key, reject_key) DO UPDATE SET id = excluded.id, raw = excluded.raw, reason = excluded.reason, seen_at = excluded.seen_at`

/** The parameters of {@link rejectUpsert}. */
export const rejectParams = (streamKey: string, reject: Reject): Array<unknown> => [
  streamKey,
  rejectKey(reject),
  reject.id ?? null,
  reject.raw,
  reject.reason,
  reject.seenAt
]

/** Stores the state of a stream (parameters: {@link stateParams}). */
export const stateUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.state} (stream_key, high_water_mark, longest_run_ms, last_run_at, cursor, updated_at) VALUES ${placeholders(dialect, 1, 6)} ` +
  `ON CONFLICT (stream_key) DO UPDATE SET high_water_mark = excluded.high_water_mark, longest_run_ms = excluded.longest_run_ms, ` +
  `last_run_at = excluded.last_run_at, cursor = excluded.cursor, updated_at = excluded.updated_at`

/** The parameters of {@link stateUpsert}. */
export const stateParams = (s: ExportState, now: string): Array<unknown> => [
  s.streamKey,
  s.highWaterMark ?? null,
  s.longestRunMs,
  s.lastRunAt ?? null,
  s.cursor === undefined ? null : JSON.stringify(s.cursor),
  now
]

/** The columns of the state table, as read. */
const STATE_COLUMNS = "stream_key, high_water_mark, longest_run_ms, last_run_at, cursor"

/** Reads the state of one stream (parameter: the stream key). */
export const selectState = (dialect: Dialect, t: Tables): string =>
  `SELECT ${STATE_COLUMNS} FROM ${t.state} WHERE stream_key = ${ph(dialect, 1)}`

/** Reads every state, by stream key. */
export const selectStates = (t: Tables): string =>
  `SELECT ${STATE_COLUMNS} FROM ${t.state} ORDER BY stream_key`

/** Counts the rows of a table as `n`. */
export const countRows = (table: string): string => `SELECT COUNT(*) AS n FROM ${table}`

/** A row of {@link selectState}. */
export interface StateRow {
  readonly stream_key: string
  readonly high_water_mark: unknown
  readonly longest_run_ms: number | string | null
  readonly last_run_at: unknown
  readonly cursor: string | null
}

const toIso = (value: unknown): string | undefined =>
  value === null || value === undefined
    ? undefined
    : value instanceof Date
      ? value.toISOString()
      : String(value)

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The export state of a {@link StateRow}. */
export const decodeState = (row: StateRow): ExportState => ({
  streamKey: row.stream_key,
  highWaterMark: toIso(row.high_water_mark),
  longestRunMs: Number(row.longest_run_ms ?? 0),
  lastRunAt: toIso(row.last_run_at),
  cursor: row.cursor === null || row.cursor === undefined ? undefined : parseJson(row.cursor)
})

// ---------------------------------------------------------------------------------------------
// step executions

/** The parameters of a step row, in the order of `stepColumns`. */
export const stepParams = (row: StepRow, exportedAt: string): Array<unknown> => stepValues(row, exportedAt)

/** Upserts one step row by id (parameters: {@link stepParams}). */
export const stepUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.steps} (${stepColumnNames.join(", ")}) VALUES ${placeholders(dialect, 1, stepColumnNames.length)} ` +
  `ON CONFLICT (id) DO UPDATE SET ${stepColumnNames
    .slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(", ")}`

/**
 * Queues an execution's steps (parameters: execution id, status, date started, queued at); a
 * queued execution whose status changed again keeps its place and takes the new status.
 */
export const backlogUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.stepBacklog} (execution_id, status, date_started, queued_at) VALUES ${placeholders(dialect, 1, 4)} ` +
  `ON CONFLICT (execution_id) DO UPDATE SET status = excluded.status`

/**
 * Removes a queued execution once its steps are written, unless its status changed meanwhile
 * (parameters: execution id, the status its steps were fetched for).
 */
export const backlogDelete = (dialect: Dialect, t: Tables): string =>
  `DELETE FROM ${t.stepBacklog} WHERE execution_id = ${ph(dialect, 1)} AND status = ${ph(dialect, 2)}`

/** The oldest queued executions (parameter: how many). */
export const backlogSelect = (dialect: Dialect, t: Tables): string =>
  `SELECT execution_id, status, date_started, queued_at FROM ${t.stepBacklog} ORDER BY date_started, execution_id LIMIT ${ph(dialect, 1)}`

/** A row of {@link backlogSelect}. */
export interface BacklogRow {
  readonly execution_id: string
  readonly status: string
  readonly date_started: unknown
  readonly queued_at: unknown
}

/** The queued execution of a {@link BacklogRow}. */
export const decodeBacklog = (row: BacklogRow): QueuedSteps => ({
  executionId: row.execution_id,
  status: row.status,
  dateStarted: toIso(row.date_started) ?? "",
  queuedAt: toIso(row.queued_at) ?? ""
})

export { shouldQueue }

/** The parameters of {@link backlogUpsert}. */
export const backlogParams = (
  record: { readonly id: string; readonly status: string; readonly dateStarted: string },
  now: string
): Array<unknown> => [record.id, record.status, record.dateStarted, now]

/** Whether the stored executions of a scope were queued already (parameter: the scope). */
export const scopeSelect = (dialect: Dialect, t: Tables): string =>
  `SELECT scope FROM ${t.stepScopes} WHERE scope = ${ph(dialect, 1)} OR scope = 'all'`

/** Marks a scope's stored executions as queued (parameters: scope, queued at). */
export const scopeInsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.stepScopes} (scope, queued_at) VALUES ${placeholders(dialect, 1, 2)} ON CONFLICT (scope) DO NOTHING`

/**
 * Queues the stored executions of a scope that have no step rows (parameter: queued at): what
 * was exported before `--steps` was turned on.
 */
export const queueStored = (dialect: Dialect, t: Tables, scope: StepScope): string =>
  `INSERT INTO ${t.stepBacklog} (execution_id, status, date_started, queued_at) ` +
  `SELECT e.id, e.status, e.date_started, ${ph(dialect, 1)} FROM ${t.executions} e ` +
  `WHERE ${scope === "failed" ? "e.status = 'FAILED' AND " : ""}NOT EXISTS (SELECT 1 FROM ${t.steps} s WHERE s.execution_id = e.id) ` +
  `ON CONFLICT (execution_id) DO NOTHING`

/** Stores the alert state of a stream (parameters: stream key, state JSON text, now). */
export const alertStateUpsert = (dialect: Dialect, t: Tables): string =>
  `INSERT INTO ${t.alerts} (stream_key, state, updated_at) VALUES ${placeholders(dialect, 1, 3)} ` +
  `ON CONFLICT (stream_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`

/** Reads the alert state of a stream as `state` (parameter: the stream key). */
export const selectAlertState = (dialect: Dialect, t: Tables): string =>
  `SELECT state FROM ${t.alerts} WHERE stream_key = ${ph(dialect, 1)}`

/** The alert state of a row of {@link selectAlertState}: its JSON, parsed (`undefined` when unreadable). */
export const decodeAlertState = (text: unknown): unknown =>
  typeof text === "string" ? parseJson(text) : undefined
