/**
 * The SQLite sink on better-sqlite3 itself: the same tables and migrations as the SQL sinks, and
 * one synchronous transaction per batch made of single-row prepared statements.
 *
 * Why not through `@effect/sql`: every statement run through a `SqlClient` costs about 25 µs of
 * Effect work (compilation, span, statement cache lookup), as much as SQLite spends on the row, so
 * the shared sink writes 128 rows per statement and looks their ids up first; SQLite itself spends
 * about a third more on those multi-row statements than on prepared single-row ones. Here a row
 * costs one `INSERT ... ON CONFLICT DO NOTHING` (and an `UPDATE` only when the id exists).
 *
 * @internal
 */
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Effect, Option, type Scope } from "effect"
import {
  type Batch,
  type BatchResult,
  type ExportState,
  SinkError,
  type SinkShape,
  type SinkStatus
} from "../Sink.js"
import * as Driver from "./sqliteDriver.js"
import {
  decodeState,
  EXEC_COLUMNS,
  migrations,
  numberOrNull,
  rejectParams,
  rejectUpsert,
  STATE_COLUMNS,
  type StateRow,
  stateParams,
  stateUpsert,
  stringOrNull,
  tables
} from "./sqlSink.js"

const detailOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Opens (and creates) the database at `filename`, runs the migrations and serves the `Sink`
 * operations; the connection closes with the scope.
 *
 * @internal
 */
export const make = (filename: string, name: string): Effect.Effect<SinkShape, SinkError, Scope.Scope> =>
  Effect.gen(function* () {
    const attempt = <A>(operation: string, f: () => A): Effect.Effect<A, SinkError> =>
      Effect.try({
        try: f,
        catch: (cause) => {
          // A driver that is not installed (or has no native binding) is named with its fix.
          const fix = Driver.installProblem(cause)
          return fix === undefined
            ? new SinkError({ sink: name, operation, detail: detailOf(cause) })
            : new SinkError({ sink: name, operation, detail: fix, reason: "DriverMissing" })
        }
      })
    const db = yield* Effect.acquireRelease(
      attempt("open", () => {
        const db = Driver.open(filename)
        try {
          // busy_timeout first: switching to WAL waits for other connections too.
          db.exec("PRAGMA busy_timeout = 5000")
          db.exec("PRAGMA journal_mode = WAL")
          // WAL + NORMAL: a committed batch survives a killed process.
          db.exec("PRAGMA synchronous = NORMAL")
          // better-sqlite3's default page cache is 16 MB; the ids arrive in random order, so past a few
          // MB the cache holds leaf pages that are rarely touched again: 4 MB keeps the inner pages
          // of the indexes at the same CPU cost (the OS caches the file) and 12 MB less memory.
          db.exec("PRAGMA cache_size = -4000")
          // Checkpoint every ~40 MB of WAL instead of 4 MB: the random ids spread each batch over
          // hundreds of index pages, and a page changed by many batches between two checkpoints
          // is copied into the database (and synced) once. 300k rows: 16 s -> 9 s of writing.
          db.exec("PRAGMA wal_autocheckpoint = 10000")
        } catch (e) {
          db.close()
          throw e
        }
        return db
      }),
      (db) => Effect.sync(() => db.close())
    )
    const t = tables(undefined)

    /** Runs `body` in one write transaction (taken at once, so two writers queue rather than fail). */
    const transaction = <A>(body: () => A): A => {
      db.exec("BEGIN IMMEDIATE")
      try {
        const result = body()
        db.exec("COMMIT")
        return result
      } catch (e) {
        if (db.inTransaction) db.exec("ROLLBACK")
        throw e
      }
    }

    const migratedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const applied = yield* attempt("migrate", () => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${t.migrations} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`
      )
      const versions = db.prepare(`SELECT version FROM ${t.migrations}`)
      const appliedNow = () =>
        new Set((versions.all() as Array<{ version: number }>).map((r) => Number(r.version)))
      // Up to date (the common case, e.g. `status` beside a running export): no write lock taken.
      const before = appliedNow()
      if (migrations.every((m) => before.has(m.version))) return []
      return transaction(() => {
        const done = appliedNow()
        const record = db.prepare(`INSERT INTO ${t.migrations} (version, name, applied_at) VALUES (?, ?, ?)`)
        const now: Array<string> = []
        for (const migration of migrations) {
          if (done.has(migration.version)) continue
          for (const statement of migration.statements("sqlite", t)) db.exec(statement)
          record.run(migration.version, migration.name, migratedAt)
          now.push(`${migration.version} ${migration.name}`)
        }
        return now
      })
    })
    for (const migration of applied) yield* Effect.logDebug(`applied migration ${migration}`)

    const statements = yield* attempt("open", () => ({
      insert: db.prepare(
        `INSERT INTO ${t.executions} (${EXEC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
      ),
      update: db.prepare(
        `UPDATE ${t.executions} SET user_id = ?, workflow_id = ?, status = ?, task_count = ?, run_duration_ms = ?, ` +
          "date_started = ?, date_ended = ?, raw = ?, exported_at = ? WHERE id = ? AND raw IS NOT ?"
      ),
      reject: db.prepare(rejectUpsert("sqlite", t)),
      state: db.prepare(stateUpsert("sqlite", t)),
      loadState: db.prepare(`SELECT ${STATE_COLUMNS} FROM ${t.state} WHERE stream_key = ?`),
      states: db.prepare(`SELECT ${STATE_COLUMNS} FROM ${t.state} ORDER BY stream_key`),
      rows: db.prepare(`SELECT COUNT(*) AS n FROM ${t.executions}`),
      rejects: db.prepare(`SELECT COUNT(*) AS n FROM ${t.rejects}`)
    }))

    /** Writes a record; returns what happened to its row. */
    const upsert = (record: WorkflowExecution, now: string): "inserted" | "updated" | "unchanged" => {
      const raw = JSON.stringify(record)
      const userId = stringOrNull(record.userId)
      const workflowId = stringOrNull(record.workflowId)
      const taskCount = numberOrNull(record.taskCount)
      const runDuration = numberOrNull(record.runDuration)
      const dateEnded = stringOrNull(record.dateEnded)
      const { id, status, dateStarted } = record
      const inserted = statements.insert.run(
        id,
        userId,
        workflowId,
        status,
        taskCount,
        runDuration,
        dateStarted,
        dateEnded,
        raw,
        now
      )
      if (inserted.changes > 0) return "inserted"
      const updated = statements.update.run(
        userId,
        workflowId,
        status,
        taskCount,
        runDuration,
        dateStarted,
        dateEnded,
        raw,
        now,
        id,
        raw
      )
      return updated.changes > 0 ? "updated" : "unchanged"
    }

    const write = (batch: Batch, now: string): BatchResult =>
      transaction(() => {
        const records = latestOnly(batch.records)
        let inserted = 0
        let updated = 0
        // An earlier occurrence of an id in the same batch counts as unchanged.
        let unchanged = batch.records.length - records.length
        for (const record of records) {
          const outcome = upsert(record, now)
          if (outcome === "inserted") inserted++
          else if (outcome === "updated") updated++
          else unchanged++
        }
        const streamKey = batch.state?.streamKey ?? ""
        for (const reject of batch.rejects) statements.reject.run(...rejectParams(streamKey, reject))
        if (batch.state !== undefined) statements.state.run(...stateParams(batch.state, now))
        return { inserted, updated, unchanged, rejected: batch.rejects.length }
      })

    // A batch is one synchronous call: written whole or rolled back, never interrupted halfway.
    const writeBatch = (batch: Batch): Effect.Effect<BatchResult, SinkError> =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) =>
        attempt("write batch", () => write(batch, new Date(ms).toISOString()))
      )

    const loadState = (streamKey: string): Effect.Effect<Option.Option<ExportState>, SinkError> =>
      attempt("load state", () => {
        const row = statements.loadState.get(streamKey) as StateRow | undefined
        return row === undefined ? Option.none() : Option.some(decodeState(row))
      })

    const status: Effect.Effect<SinkStatus, SinkError> = attempt("read status", () => ({
      sink: name,
      rows: Number((statements.rows.get() as { n: number }).n),
      rejects: Number((statements.rejects.get() as { n: number }).n),
      states: (statements.states.all() as Array<StateRow>).map(decodeState)
    }))

    return { name, loadState, writeBatch, status }
  })

/** The records with the last occurrence of each id (in the position of its first one). */
const latestOnly = (records: ReadonlyArray<WorkflowExecution>): ReadonlyArray<WorkflowExecution> => {
  const ids = new Set<string>()
  for (const record of records) {
    if (ids.has(record.id)) {
      const latest = new Map<string, WorkflowExecution>()
      for (const r of records) latest.set(r.id, r)
      return Array.from(latest.values())
    }
    ids.add(record.id)
  }
  return records
}
