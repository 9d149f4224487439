/**
 * The SQLite sink on better-sqlite3 itself: the tables and migrations of `sqlSchema.ts`, and one
 * synchronous transaction per batch made of single-row prepared statements.
 *
 * Why not through `@effect/sql`: every statement run through a `SqlClient` costs about 25 µs of
 * Effect work (compilation, span, statement cache lookup), as much as SQLite spends on the row, so
 * the `SqlClient` sink (`sqlSink.ts`) writes 128 rows per statement and looks their ids up first;
 * SQLite itself spends about a third more on those multi-row statements than on prepared
 * single-row ones. Here a row costs one `INSERT ... ON CONFLICT DO NOTHING` (and an `UPDATE` only
 * when the id exists).
 *
 * @internal
 */
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Effect, Option, type Scope } from "effect"
import type {
  Batch,
  BatchResult,
  ExportState,
  Finished,
  SinkShape,
  SinkStatus,
  StepScope,
  StepStore
} from "../Sink.js"
import { transition } from "./finished.js"
import * as ProcessLock from "./processLock.js"
import * as SinkErrors from "./sinkErrors.js"
import * as Driver from "./sqliteDriver.js"
import * as Schema from "./sqlSchema.js"

/** Opens the database (and creates its directory), with the pragmas of an export. */
const open = (filename: string): Driver.Database => {
  if (filename !== ":memory:") mkdirSync(dirname(resolve(filename)), { recursive: true })
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
}

/** Runs `body` in one write transaction (taken at once, so two writers queue rather than fail). */
const transaction = <A>(db: Driver.Database, body: () => A): A => {
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

type Attempt = <A>(
  operation: SinkErrors.Operation,
  f: () => A,
  reason?: "Io" | "Unavailable"
) => Effect.Effect<A, SinkErrors.SinkError>

/** Runs a synchronous driver call; what it throws is a `SinkError` of `operation`. */
const attemptFor =
  (name: string): Attempt =>
  (operation, f, reason = "Io") =>
    Effect.try({
      try: f,
      catch: (cause) => {
        // A driver that is not installed (or has no native binding) is named with its fix.
        const fix = Driver.installProblem(cause)
        return fix === undefined
          ? SinkErrors.fromCause(reason, name, operation)(cause)
          : SinkErrors.make("DriverMissing", name, operation, fix, cause)
      }
    })

/** The migration runner's view of the connection (`sqlSchema.ts`). */
const migrationDriver = (
  db: Driver.Database,
  attempt: Attempt
): Schema.MigrationDriver<SinkErrors.SinkError> => ({
  dialect: "sqlite",
  run: (statement, params = []) =>
    attempt("migrate", () => {
      const prepared = db.prepare(statement)
      if (prepared.reader) return prepared.all(...params)
      prepared.run(...params)
      return []
    }),
  transaction: (body) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        attempt("migrate", () => db.exec("BEGIN IMMEDIATE")),
        restore(body).pipe(
          Effect.matchCauseEffect({
            onFailure: (cause) =>
              Effect.zipRight(
                Effect.sync(() => {
                  if (db.inTransaction) db.exec("ROLLBACK")
                }),
                Effect.failCause(cause)
              ),
            onSuccess: (a) =>
              Effect.as(
                attempt("migrate", () => db.exec("COMMIT")),
                a
              )
          })
        )
      )
    )
})

/** Options of {@link make}. */
export interface Options {
  /** Take the single-writer lock `PATH.lock` for the sink's scope. Default `true`. */
  readonly lock?: boolean | undefined
  /** When another process holds the lock, wait for it instead of failing. Default `false`. */
  readonly waitForLock?: boolean | undefined
}

/** The lock file of a database: `PATH.lock` beside it. */
export const lockFile = (filename: string): string => `${resolve(filename)}.lock`

/**
 * Opens (and creates) the database at `filename`, runs the migrations and serves the `Sink`
 * operations; the connection closes with the scope. Unless `lock: false`, the database's lock file
 * is held for the scope: a second writer (another exporter) is refused, naming the holder.
 */
export const make = (
  filename: string,
  name: string,
  options: Options = {}
): Effect.Effect<SinkShape, SinkErrors.SinkError, Scope.Scope> =>
  Effect.gen(function* () {
    const attempt = attemptFor(name)
    if (filename !== ":memory:" && options.lock !== false) {
      yield* attempt("open", () => mkdirSync(dirname(resolve(filename)), { recursive: true }), "Unavailable")
      yield* ProcessLock.acquireFile(lockFile(filename), name, { wait: options.waitForLock })
    }
    const db = yield* Effect.acquireRelease(
      attempt("open", () => open(filename), "Unavailable"),
      (db) => Effect.sync(() => db.close())
    )
    const t = Schema.tables(undefined)

    yield* Schema.migrate(migrationDriver(db, attempt), undefined)

    const statements = yield* attempt("open", () => ({
      insert: db.prepare(Schema.insertExecutionIfNew(t)),
      lookup: db.prepare(Schema.selectExecutionRaw(t)),
      update: db.prepare(Schema.updateExecution(t)),
      reject: db.prepare(Schema.rejectUpsert("sqlite", t)),
      state: db.prepare(Schema.stateUpsert("sqlite", t)),
      loadState: db.prepare(Schema.selectState("sqlite", t)),
      states: db.prepare(Schema.selectStates(t)),
      rows: db.prepare(Schema.countRows(t.executions)),
      rejects: db.prepare(Schema.countRows(t.rejects)),
      queue: db.prepare(Schema.backlogUpsert("sqlite", t)),
      step: db.prepare(Schema.stepUpsert("sqlite", t)),
      dequeue: db.prepare(Schema.backlogDelete("sqlite", t)),
      backlog: db.prepare(Schema.backlogSelect("sqlite", t)),
      stepRows: db.prepare(Schema.countRows(t.steps)),
      backlogRows: db.prepare(Schema.countRows(t.stepBacklog)),
      scope: db.prepare(Schema.scopeSelect("sqlite", t)),
      scopeInsert: db.prepare(Schema.scopeInsert("sqlite", t)),
      queueFailed: db.prepare(Schema.queueStored("sqlite", t, "failed")),
      queueAll: db.prepare(Schema.queueStored("sqlite", t, "all")),
      alertState: db.prepare(Schema.selectAlertState("sqlite", t)),
      saveAlertState: db.prepare(Schema.alertStateUpsert("sqlite", t))
    }))

    /**
     * Writes a record; returns what happened to its row (a final-status transition is added to
     * `finished`). A new id costs one statement; a known one a look-up of its stored status and
     * `raw`, and an update only when `raw` differs.
     */
    const upsert = (
      record: WorkflowExecution,
      now: string,
      finished: Array<Finished>,
      scope: StepScope | undefined
    ): "inserted" | "updated" | "unchanged" => {
      const raw = JSON.stringify(record)
      const row = Schema.executionParams(record, raw, now)
      if (statements.insert.run(row).changes > 0) {
        const reached = transition(undefined, row)
        if (reached !== undefined) finished.push(reached)
        if (Schema.shouldQueue(scope, undefined, record.status))
          statements.queue.run(Schema.backlogParams(record, now))
        return "inserted"
      }
      const stored = statements.lookup.get(record.id) as { status: string; raw: string } | undefined
      if (stored !== undefined && stored.raw === raw) return "unchanged"
      if (statements.update.run(Schema.updateParams(row)).changes === 0) return "unchanged"
      const reached = transition(stored?.status, row)
      if (reached !== undefined) finished.push(reached)
      if (Schema.shouldQueue(scope, stored?.status, record.status))
        statements.queue.run(Schema.backlogParams(record, now))
      return "updated"
    }

    const write = (batch: Batch, now: string): BatchResult =>
      transaction(db, () => {
        const records = Schema.latestOnly(batch.records)
        let inserted = 0
        let updated = 0
        // An earlier occurrence of an id in the same batch counts as unchanged.
        let unchanged = batch.records.length - records.length
        const finished: Array<Finished> = []
        for (const record of records) {
          const outcome = upsert(record, now, finished, batch.steps)
          if (outcome === "inserted") inserted++
          else if (outcome === "updated") updated++
          else unchanged++
        }
        const streamKey = batch.state?.streamKey ?? ""
        for (const reject of batch.rejects) statements.reject.run(Schema.rejectParams(streamKey, reject))
        if (batch.state !== undefined) statements.state.run(Schema.stateParams(batch.state, now))
        return { inserted, updated, unchanged, rejected: batch.rejects.length, finished }
      })

    // A batch is one synchronous call: written whole or rolled back, never interrupted halfway.
    const writeBatch = (batch: Batch): Effect.Effect<BatchResult, SinkErrors.SinkError> =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) =>
        attempt("write batch", () => write(batch, new Date(ms).toISOString()))
      )

    const loadState = (streamKey: string): Effect.Effect<Option.Option<ExportState>, SinkErrors.SinkError> =>
      attempt("load state", () => {
        const row = statements.loadState.get(streamKey) as Schema.StateRow | undefined
        return row === undefined ? Option.none() : Option.some(Schema.decodeState(row))
      })

    const steps: StepStore = {
      backlog: (limit) =>
        attempt("read backlog", () =>
          (statements.backlog.all(limit) as Array<Schema.BacklogRow>).map(Schema.decodeBacklog)
        ),
      backlogSize: attempt("read backlog", () => Number((statements.backlogRows.get() as { n: number }).n)),
      writeSteps: (batch) =>
        Effect.flatMap(Clock.currentTimeMillis, (ms) =>
          attempt("write steps", () => {
            const now = new Date(ms).toISOString()
            transaction(db, () => {
              for (const row of batch.rows) statements.step.run(Schema.stepParams(row, now))
              for (const reject of batch.rejects)
                statements.reject.run(Schema.rejectParams(batch.streamKey, reject))
              for (const done of batch.done) statements.dequeue.run(done.executionId, done.status)
            })
          })
        ),
      queueStored: (scope) =>
        Effect.flatMap(Clock.currentTimeMillis, (ms) =>
          attempt("write steps", () =>
            transaction(db, () => {
              if (statements.scope.get(scope) !== undefined) return 0
              const now = new Date(ms).toISOString()
              const queued = (scope === "all" ? statements.queueAll : statements.queueFailed).run(now).changes
              statements.scopeInsert.run(scope, now)
              return queued
            })
          )
        )
    }

    const status: Effect.Effect<SinkStatus, SinkErrors.SinkError> = attempt("read status", () => ({
      sink: name,
      rows: Number((statements.rows.get() as { n: number }).n),
      rejects: Number((statements.rejects.get() as { n: number }).n),
      states: (statements.states.all() as Array<Schema.StateRow>).map(Schema.decodeState),
      steps: {
        rows: Number((statements.stepRows.get() as { n: number }).n),
        backlog: Number((statements.backlogRows.get() as { n: number }).n)
      }
    }))

    const loadAlertState = (streamKey: string) =>
      attempt("load alert state", () => {
        const row = statements.alertState.get(streamKey) as { state: string } | undefined
        return Option.fromNullable(row === undefined ? undefined : Schema.decodeAlertState(row.state))
      })

    const saveAlertState = (streamKey: string, state: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) =>
        attempt("save alert state", () => {
          statements.saveAlertState.run(streamKey, JSON.stringify(state), new Date(ms).toISOString())
        })
      )

    return { name, loadState, writeBatch, status, steps, loadAlertState, saveAlertState }
  })
