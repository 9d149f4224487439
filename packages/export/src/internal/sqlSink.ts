/**
 * The SQL sink over any `@effect/sql` `SqlClient` (Postgres, or SQLite through a client of its
 * own): the tables of `sqlSchema.ts`, multi-row upserts, and one transaction per batch holding
 * the rows, the rejects and the export state.
 *
 * @internal
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Effect, Option } from "effect"
import type {
  Batch,
  BatchResult,
  ExportState,
  Finished,
  Lease,
  LeaseStore,
  SinkShape,
  SinkStatus,
  StepStore
} from "../Sink.js"
import { transition } from "./finished.js"
import * as SinkErrors from "./sinkErrors.js"
import * as Schema from "./sqlSchema.js"

export interface SqlSinkOptions {
  readonly dialect: Schema.Dialect
  /** Description safe for logs. */
  readonly name: string
  /** Postgres schema holding the tables; none for the default. */
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

/** Statement texts by row count, built once each. */
const cached = (build: (rows: number) => string) => {
  const texts = new Map<number, string>()
  return (rows: number): string => {
    let text = texts.get(rows)
    if (text === undefined) {
      text = build(rows)
      texts.set(rows, text)
    }
    return text
  }
}

/** The statements of the execution upserts, by row count (each text built once). */
interface Texts {
  readonly dialect: Schema.Dialect
  readonly upsert: (rows: number) => string
  readonly select: (rows: number) => string
}

/**
 * Upserts one chunk of distinct records (`raws`: their JSON); returns [inserted, updated,
 * unchanged] and adds the final-status transitions to `finished`.
 */
type UpsertChunk = (
  sql: SqlClient,
  texts: Texts,
  chunk: ReadonlyArray<WorkflowExecution>,
  raws: ReadonlyArray<string>,
  now: string,
  finished: Array<Finished>,
  queue: (record: WorkflowExecution, before: unknown) => void
) => Effect.Effect<readonly [number, number, number], SqlError>

/**
 * Postgres: the upsert itself tells inserted from updated (unchanged rows return nothing), and
 * the status the row had before (a subquery of `RETURNING` reads the statement's snapshot).
 */
const upsertPg: UpsertChunk = (sql, texts, chunk, raws, now, finished, queue) =>
  Effect.gen(function* () {
    const params: Array<unknown> = []
    const rowsById = new Map<string, Array<unknown>>()
    const recordsById = new Map<string, WorkflowExecution>()
    chunk.forEach((r, j) => {
      const row = Schema.executionParams(r, raws[j]!, now)
      rowsById.set(r.id, row)
      recordsById.set(r.id, r)
      params.push(...row)
    })
    const rows = yield* sql.unsafe<{ id: string; inserted: boolean; before: string | null }>(
      texts.upsert(chunk.length),
      params
    )
    let inserted = 0
    for (const row of rows) {
      if (row.inserted) inserted++
      const written = rowsById.get(row.id)
      const reached = written === undefined ? undefined : transition(row.before ?? undefined, written)
      if (reached !== undefined) finished.push(reached)
      const record = recordsById.get(row.id)
      if (record !== undefined) queue(record, row.inserted ? undefined : (row.before ?? undefined))
    }
    return [inserted, rows.length - inserted, chunk.length - rows.length] as const
  })

/** SQLite: reads the stored `raw` of the chunk's ids first, then writes only what changed. */
const upsertSqlite: UpsertChunk = (sql, texts, chunk, raws, now, finished, queue) =>
  Effect.gen(function* () {
    const existing = yield* sql.unsafe<{ id: string; raw: string; status: string }>(
      texts.select(chunk.length),
      chunk.map((r) => r.id)
    )
    const known = new Map<string, string>()
    const statuses = new Map<string, string>()
    for (const row of existing) {
      known.set(row.id, row.raw)
      statuses.set(row.id, row.status)
    }
    let inserted = 0
    let updated = 0
    let unchanged = 0
    // The rows to write, flat: one array, no per-row arrays.
    const pending: Array<unknown> = []
    chunk.forEach((r, j) => {
      const raw = raws[j]!
      const before = known.get(r.id)
      if (before === raw) {
        unchanged++
        return
      }
      if (before === undefined) inserted++
      else updated++
      const row = Schema.executionParams(r, raw, now)
      const reached = transition(statuses.get(r.id), row)
      if (reached !== undefined) finished.push(reached)
      queue(r, statuses.get(r.id))
      pending.push(...row)
    })
    const rows = pending.length / Schema.EXECUTION_WIDTH
    let k = 0
    for (const size of chunkSizes(rows)) {
      const params =
        k === 0 && size === rows
          ? pending
          : pending.slice(k * Schema.EXECUTION_WIDTH, (k + size) * Schema.EXECUTION_WIDTH)
      yield* sql.unsafe(texts.upsert(size), params)
      k += size
    }
    return [inserted, updated, unchanged] as const
  })

/** Upserts the records; returns [inserted, updated, unchanged] (transitions added to `finished`). */
const upsert = (
  sql: SqlClient,
  texts: Texts,
  records: ReadonlyArray<WorkflowExecution>,
  now: string,
  finished: Array<Finished>,
  queue: (record: WorkflowExecution, before: unknown) => void
) =>
  Effect.gen(function* () {
    // Last occurrence of an id wins (a batch may hold the same id twice).
    const unique = Schema.latestOnly(records)
    let inserted = 0
    let updated = 0
    let unchanged = records.length - unique.length
    let i = 0
    for (const size of chunkSizes(unique.length)) {
      const chunk = unique.slice(i, i + size)
      i += size
      const raws = chunk.map((r) => JSON.stringify(r))
      const counts = yield* (texts.dialect === "pg" ? upsertPg : upsertSqlite)(
        sql,
        texts,
        chunk,
        raws,
        now,
        finished,
        queue
      )
      inserted += counts[0]
      updated += counts[1]
      unchanged += counts[2]
    }
    return [inserted, updated, unchanged] as const
  })

/**
 * `sql.withTransaction` with every failure typed. `@effect/sql` turns a failed `COMMIT` or
 * `ROLLBACK` into a defect; on a connection the server terminated (`pg_terminate_backend`, a
 * restart, a network cut) that is an ordinary outage, so it becomes a `SqlError` failure like the
 * statements': the batch is whole or not at all either way, and a rerun upserts it again.
 */
const transaction =
  (sql: SqlClient) =>
  <A, E>(body: Effect.Effect<A, E>): Effect.Effect<A, E | SqlError> =>
    sql
      .withTransaction(body)
      .pipe(
        Effect.catchSomeDefect((defect) =>
          defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none()
        )
      )

/** Builds the sink over a SQL client: runs the migrations, then serves the `Sink` operations. */
export const make = (
  sql: SqlClient,
  options: SqlSinkOptions
): Effect.Effect<SinkShape, SinkErrors.SinkError> =>
  Effect.gen(function* () {
    const { dialect, name } = options
    const t = Schema.tables(options.schema)
    const fail = (operation: SinkErrors.Operation) => (error: SqlError) =>
      SinkErrors.fromSql(name, operation, error)
    if (dialect === "sqlite") {
      // WAL (set by the client) + NORMAL: a committed batch survives a killed process.
      yield* sql
        .unsafe("PRAGMA synchronous = NORMAL")
        .pipe(Effect.zipRight(sql.unsafe("PRAGMA busy_timeout = 5000")), Effect.mapError(fail("open")))
    }
    yield* Schema.migrate<SqlError>(
      {
        dialect,
        run: (statement, params) => sql.unsafe(statement, params),
        transaction: transaction(sql)
      },
      options.schema
    ).pipe(Effect.mapError(fail("migrate")))

    const texts: Texts = {
      dialect,
      upsert: cached((rows) => Schema.upsertExecutions(dialect, t, rows)),
      select: cached(
        (rows) =>
          `SELECT id, raw, status FROM ${t.executions} WHERE id IN (${Array.from({ length: rows }, (_, i) => Schema.ph(dialect, i + 1)).join(", ")})`
      )
    }
    const rejectText = Schema.rejectUpsert(dialect, t)
    const stateText = Schema.stateUpsert(dialect, t)
    const queueText = Schema.backlogUpsert(dialect, t)
    const stepText = Schema.stepUpsert(dialect, t)
    const dequeueText = Schema.backlogDelete(dialect, t)
    const backlogText = Schema.backlogSelect(dialect, t)

    const fenceText = `SELECT token FROM ${t.leases} WHERE stream = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp() FOR SHARE`
    /**
     * First in a write transaction under a lease: the row lock (FOR SHARE) makes a takeover wait
     * until this transaction is committed or rolled back, so the new holder reads the state after
     * it. A writer paused in the middle of it (SIGSTOP, a long GC) would hold the row lock and
     * block every takeover: the server ends its session after a lease idle.
     */
    const checkFence = (lease: Lease | undefined, operation: SinkErrors.Operation) =>
      lease === undefined
        ? Effect.void
        : Effect.gen(function* () {
            yield* sql.unsafe(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [
              String(Math.max(1000, Math.round(lease.ttlMs)))
            ])
            const held = yield* sql.unsafe(fenceText, [lease.stream, lease.holder, lease.token])
            if (held.length === 0) {
              return yield* Effect.fail(
                SinkErrors.make(
                  "Fenced",
                  name,
                  operation,
                  `the lease of stream ${lease.stream} (token ${lease.token}) is no longer held by ${lease.holder}; nothing was written`
                )
              )
            }
          })
    const writeBatch = (batch: Batch, lease?: Lease): Effect.Effect<BatchResult, SinkErrors.SinkError> =>
      Effect.gen(function* () {
        yield* checkFence(lease, "write batch")
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        const finished: Array<Finished> = []
        const queued: Array<WorkflowExecution> = []
        const scope = batch.steps
        const queue = (record: WorkflowExecution, before: unknown) => {
          if (Schema.shouldQueue(scope, before, record.status)) queued.push(record)
        }
        const [inserted, updated, unchanged] =
          batch.records.length === 0
            ? ([0, 0, 0] as const)
            : yield* upsert(sql, texts, batch.records, now, finished, queue)
        for (const record of queued) yield* sql.unsafe(queueText, Schema.backlogParams(record, now))
        const streamKey = batch.state?.streamKey ?? ""
        for (const reject of batch.rejects)
          yield* sql.unsafe(rejectText, Schema.rejectParams(streamKey, reject))
        if (batch.state !== undefined) yield* sql.unsafe(stateText, Schema.stateParams(batch.state, now))
        return { inserted, updated, unchanged, rejected: batch.rejects.length, finished }
      }).pipe(
        transaction(sql),
        Effect.mapError((e) => (e._tag === "SinkError" ? e : fail("write batch")(e))),
        // A batch is written whole or rolled back; an interrupt waits for the outcome.
        Effect.uninterruptible
      )

    const loadState = (streamKey: string): Effect.Effect<Option.Option<ExportState>, SinkErrors.SinkError> =>
      sql.unsafe<Schema.StateRow>(Schema.selectState(dialect, t), [streamKey]).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), Schema.decodeState)),
        Effect.mapError(fail("load state"))
      )

    const status: Effect.Effect<SinkStatus, SinkErrors.SinkError> = Effect.gen(function* () {
      const [rows] = yield* sql.unsafe<{ n: number | string }>(Schema.countRows(t.executions))
      const [rejects] = yield* sql.unsafe<{ n: number | string }>(Schema.countRows(t.rejects))
      const states = yield* sql.unsafe<Schema.StateRow>(Schema.selectStates(t))
      const [stepRows] = yield* sql.unsafe<{ n: number | string }>(Schema.countRows(t.steps))
      const [backlog] = yield* sql.unsafe<{ n: number | string }>(Schema.countRows(t.stepBacklog))
      return {
        sink: name,
        rows: Number(rows?.n ?? 0),
        rejects: Number(rejects?.n ?? 0),
        states: states.map(Schema.decodeState),
        steps: { rows: Number(stepRows?.n ?? 0), backlog: Number(backlog?.n ?? 0) }
      }
    }).pipe(Effect.mapError(fail("read status")))

    const stepsOf = (lease: Lease | undefined): StepStore => ({
      backlog: (limit) =>
        sql.unsafe<Schema.BacklogRow>(backlogText, [limit]).pipe(
          Effect.map((rows) => rows.map(Schema.decodeBacklog)),
          Effect.mapError(fail("read backlog"))
        ),
      backlogSize: sql.unsafe<{ n: number | string }>(Schema.countRows(t.stepBacklog)).pipe(
        Effect.map((rows) => Number(rows[0]?.n ?? 0)),
        Effect.mapError(fail("read backlog"))
      ),
      writeSteps: (batch) =>
        Effect.gen(function* () {
          yield* checkFence(lease, "write steps")
          const now = new Date(yield* Clock.currentTimeMillis).toISOString()
          for (const row of batch.rows) yield* sql.unsafe(stepText, Schema.stepParams(row, now))
          for (const reject of batch.rejects)
            yield* sql.unsafe(rejectText, Schema.rejectParams(batch.streamKey, reject))
          for (const done of batch.done) yield* sql.unsafe(dequeueText, [done.executionId, done.status])
        }).pipe(
          transaction(sql),
          Effect.mapError((e) => (e._tag === "SinkError" ? e : fail("write steps")(e))),
          Effect.uninterruptible
        ),
      queueStored: (scope) =>
        Effect.gen(function* () {
          yield* checkFence(lease, "write steps")
          const done = yield* sql.unsafe(Schema.scopeSelect(dialect, t), [scope])
          if (done.length > 0) return 0
          const now = new Date(yield* Clock.currentTimeMillis).toISOString()
          const before = yield* sql.unsafe<{ n: number | string }>(Schema.countRows(t.stepBacklog))
          yield* sql.unsafe(Schema.queueStored(dialect, t, scope), [now])
          const after = yield* sql.unsafe<{ n: number | string }>(Schema.countRows(t.stepBacklog))
          yield* sql.unsafe(Schema.scopeInsert(dialect, t), [scope, now])
          return Number(after[0]?.n ?? 0) - Number(before[0]?.n ?? 0)
        }).pipe(
          transaction(sql),
          Effect.mapError((e) => (e._tag === "SinkError" ? e : fail("write steps")(e))),
          Effect.uninterruptible
        )
    })

    const loadAlertState = (streamKey: string): Effect.Effect<Option.Option<unknown>, SinkErrors.SinkError> =>
      sql.unsafe<{ state: unknown }>(Schema.selectAlertState(dialect, t), [streamKey]).pipe(
        Effect.map((rows) => Option.fromNullable(Schema.decodeAlertState(rows[0]?.state))),
        Effect.mapError(fail("load alert state"))
      )

    /** Saves the alert state; with a lease, in one transaction with the check of the fence. */
    const saveAlertState =
      (lease?: Lease) =>
      (streamKey: string, state: unknown): Effect.Effect<void, SinkErrors.SinkError> =>
        Effect.gen(function* () {
          yield* checkFence(lease, "save alert state")
          const ms = yield* Clock.currentTimeMillis
          yield* sql.unsafe(Schema.alertStateUpsert(dialect, t), [
            streamKey,
            JSON.stringify(state),
            new Date(ms).toISOString()
          ])
        }).pipe(
          transaction(sql),
          Effect.mapError((e) => (e._tag === "SinkError" ? e : fail("save alert state")(e))),
          Effect.uninterruptible
        )

    if (dialect !== "pg") {
      return {
        name,
        loadState,
        writeBatch: (batch) => writeBatch(batch),
        status,
        steps: stepsOf(undefined),
        loadAlertState,
        saveAlertState: saveAlertState()
      }
    }

    const leases = makeLeases(sql, t, name)
    const pgStatus = Effect.zipWith(status, leases.list, (s, l) => ({ ...s, leases: l }))
    const shape = (lease: Lease | undefined): SinkShape => ({
      name,
      loadState,
      writeBatch: (batch) => writeBatch(batch, lease),
      status: pgStatus,
      steps: stepsOf(lease),
      leases,
      fenced: (next) => shape(next),
      loadAlertState,
      saveAlertState: saveAlertState(lease)
    })
    return shape(undefined)
  })

const iso = (value: unknown): string =>
  value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString()

/** Milliseconds after the database's clock, as a Postgres expression of parameter `n`. */
const after = (n: number) => `clock_timestamp() + ($${n}::double precision * interval '1 millisecond')`

/**
 * Leases as rows (see `LeaseStore`): every statement is one transaction of its own, on whichever
 * pooled connection, and time is the database's (`clock_timestamp()`).
 */
const makeLeases = (sql: SqlClient, t: Schema.Tables, name: string): LeaseStore => {
  const fail = (operation: SinkErrors.Operation) => (error: SqlError) =>
    SinkErrors.fromSql(name, operation, error)
  const acquireText =
    `WITH old AS (SELECT holder, expires_at FROM ${t.leases} WHERE stream = $1) ` +
    `INSERT INTO ${t.leases} AS l (stream, holder, token, expires_at, acquired_at, renewed_at) ` +
    `VALUES ($1, $2, 1, ${after(3)}, clock_timestamp(), clock_timestamp()) ` +
    `ON CONFLICT (stream) DO UPDATE SET holder = excluded.holder, token = l.token + 1, expires_at = excluded.expires_at, ` +
    `acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at ` +
    `WHERE l.holder IS NULL OR l.holder = excluded.holder OR l.expires_at <= clock_timestamp() ` +
    `RETURNING l.token, l.expires_at, (SELECT holder FROM old) AS previous`
  const renewText =
    `UPDATE ${t.leases} SET expires_at = ${after(4)}, renewed_at = clock_timestamp() ` +
    `WHERE stream = $1 AND holder = $2 AND token = $3 RETURNING expires_at`
  const releaseText = `UPDATE ${t.leases} SET holder = NULL, expires_at = clock_timestamp() WHERE stream = $1 AND holder = $2 AND token = $3`
  const heartbeatText =
    `INSERT INTO ${t.replicas} AS r (holder, expires_at) VALUES ($1, ${after(2)}) ` +
    `ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at`
  const liveText = `SELECT COUNT(*) AS n FROM ${t.replicas} WHERE expires_at > clock_timestamp()`
  const pruneText = `DELETE FROM ${t.replicas} WHERE expires_at < clock_timestamp() - interval '1 day'`
  const listText = `SELECT stream, holder, token, expires_at, acquired_at, (expires_at <= clock_timestamp()) AS expired FROM ${t.leases} ORDER BY stream`
  return {
    heartbeat: (holder, ttlMs) =>
      Effect.gen(function* () {
        yield* sql.unsafe(heartbeatText, [holder, ttlMs])
        yield* sql.unsafe(pruneText)
        const [row] = yield* sql.unsafe<{ n: number | string }>(liveText)
        return Number(row?.n ?? 1)
      }).pipe(Effect.mapError(fail("lease"))),
    acquire: (stream, holder, ttlMs) =>
      Effect.zipRight(
        // Behind a writer's batch in flight (it holds the row), wait at most a lease.
        sql.unsafe(`SELECT set_config('lock_timeout', $1, true)`, [
          String(Math.max(1000, Math.round(ttlMs)))
        ]),
        sql.unsafe<{ token: number | string; expires_at: unknown; previous: string | null }>(acquireText, [
          stream,
          holder,
          ttlMs
        ])
      ).pipe(
        transaction(sql),
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row) => ({
            lease: { stream, holder, token: Number(row.token), expiresAt: iso(row.expires_at), ttlMs },
            takenFrom: row.previous === null || row.previous === holder ? undefined : row.previous
          }))
        ),
        Effect.mapError(fail("lease"))
      ),
    renew: (lease, ttlMs) =>
      sql.unsafe<{ expires_at: unknown }>(renewText, [lease.stream, lease.holder, lease.token, ttlMs]).pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row) => ({ ...lease, expiresAt: iso(row.expires_at) }))
        ),
        Effect.mapError(fail("lease"))
      ),
    release: (lease) =>
      sql
        .unsafe(releaseText, [lease.stream, lease.holder, lease.token])
        .pipe(Effect.asVoid, Effect.mapError(fail("lease"))),
    leave: (holder) =>
      sql
        .unsafe(`DELETE FROM ${t.replicas} WHERE holder = $1`, [holder])
        .pipe(Effect.asVoid, Effect.mapError(fail("lease"))),
    list: sql
      .unsafe<{
        stream: string
        holder: string | null
        token: number | string
        expires_at: unknown
        acquired_at: unknown
        expired: boolean
      }>(listText)
      .pipe(
        Effect.map((rows) =>
          rows.map((row) => ({
            stream: row.stream,
            holder: row.holder ?? undefined,
            token: Number(row.token),
            expiresAt: iso(row.expires_at),
            acquiredAt: iso(row.acquired_at),
            expired: row.expired
          }))
        ),
        Effect.mapError(fail("read status"))
      )
  }
}
