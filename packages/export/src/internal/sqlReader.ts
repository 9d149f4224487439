/**
 * The export readers of the SQL sinks: rows of `workflow_executions` back into executions (from
 * the typed columns, not by parsing `raw`), filtered like the API, and the freshness from
 * `export_state`.
 *
 * @internal
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import type { StepFailure } from "@taskhistory/core/StepErrors"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Chunk, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import type { ExportReaderShape, Freshness } from "../ExportReader.js"
import type { SinkError } from "../Sink.js"
import * as PgConnection from "./pgConnection.js"
import { describeUrl } from "./pgUrl.js"
import { checkQuery } from "./readerQuery.js"
import * as SinkErrors from "./sinkErrors.js"
import * as SqliteDriver from "./sqliteDriver.js"
import {
  type Dialect,
  decodeState,
  ph,
  type StateRow,
  selectStates,
  type Tables,
  tables
} from "./sqlSchema.js"

const COLUMNS = "id, user_id, workflow_id, status, task_count, run_duration_ms, date_started, date_ended"
const DAY = 86_400_000
const CHUNK = 4096

type Row = readonly [unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown]

const text = (value: unknown): string | undefined =>
  value === null || value === undefined
    ? undefined
    : value instanceof Date
      ? value.toISOString()
      : String(value)

const number = (value: unknown): number | undefined => {
  if (value === null || value === undefined) return undefined
  const n = typeof value === "number" ? value : Number(value)
  return Number.isFinite(n) ? n : undefined
}

/** An execution from its typed columns, with the fields the record had (absent ones left out). */
const toExecution = (row: Row): WorkflowExecution => {
  const e: { -readonly [K in keyof WorkflowExecution]: WorkflowExecution[K] } = {
    id: String(row[0]),
    status: String(row[3]),
    dateStarted: text(row[6])!
  }
  const userId = text(row[1])
  if (userId !== undefined) e.userId = userId
  const workflowId = text(row[2])
  if (workflowId !== undefined) e.workflowId = workflowId
  const taskCount = number(row[4])
  if (taskCount !== undefined) e.taskCount = taskCount
  const runDuration = number(row[5])
  e.runDuration = runDuration ?? null
  e.dateEnded = text(row[7]) ?? null
  return e
}

interface Select {
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  /** The exact date bounds, checked on each row (SQLite compares text, so it selects a wider range). */
  readonly keep: (e: WorkflowExecution) => boolean
}

/**
 * The query for the exported executions that match. SQLite keeps dates as the API sent them
 * (text, any offset): the WHERE clause takes a day more on each side, which the index serves, and
 * `keep` applies the exact bounds; Postgres compares `timestamptz` exactly.
 */
const select = (dialect: Dialect, t: Tables, query: ExecutionQuery): Select => {
  const where: Array<string> = []
  const params: Array<unknown> = []
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value)
    where.push(clause(ph(dialect, params.length)))
  }
  if (query.workflowId !== undefined) add((p) => `workflow_id = ${p}`, query.workflowId)
  if (query.userId !== undefined) add((p) => `user_id = ${p}`, query.userId)
  if (query.status !== undefined) add((p) => `status = ${p}`, query.status)
  const after = query.afterDate === undefined ? undefined : Date.parse(query.afterDate)
  const before = query.beforeDate === undefined ? undefined : Date.parse(query.beforeDate)
  const bound = (ms: number, margin: number) =>
    dialect === "pg" ? new Date(ms).toISOString() : new Date(ms + margin).toISOString()
  if (after !== undefined) add((p) => `date_started >= ${p}`, bound(after, -DAY))
  if (before !== undefined) add((p) => `date_started <= ${p}`, bound(before, DAY))
  const sql = `SELECT ${COLUMNS} FROM ${t.executions}${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}`
  const keep =
    after === undefined && before === undefined
      ? () => true
      : (e: WorkflowExecution) => {
          const ms = Date.parse(e.dateStarted)
          return (after === undefined || ms >= after) && (before === undefined || ms <= before)
        }
  return { sql, params, keep }
}

/**
 * The failed steps of the executions `select` picks: `step_executions` joined with that query,
 * the same exact date check after it (`keep` on the execution's start).
 */
const stepFailuresSelect = (dialect: Dialect, t: Tables, query: ExecutionQuery) => {
  const q = select(dialect, t, query)
  return {
    sql: `SELECT s.execution_id, e.workflow_id, s.error_message, e.date_started FROM ${t.steps} s JOIN (${q.sql}) e ON e.id = s.execution_id WHERE s.status = 'FAILED'`,
    params: q.params,
    keep: (dateStarted: unknown) =>
      q.keep({
        id: "",
        status: "",
        dateStarted: dateStarted instanceof Date ? dateStarted.toISOString() : String(dateStarted)
      })
  }
}

/** The failure of a reader asked for step executions an export does not hold. */
const noSteps = (name: string, cause: unknown) =>
  SinkErrors.make(
    "Unavailable",
    name,
    "read steps",
    `${SinkErrors.describe(cause)} (this export holds no step executions: export them with \`taskhistory-exporter run --steps failed --sink ${name}\`)`,
    cause
  )

/**
 * An export whose runs never fetched step executions (`step_scopes` empty, the default
 * `--steps none`): it has the tables but not their data, so "no step failed" would be a false
 * answer.
 */
const neverFetchedSteps = (name: string) => noSteps(name, "no run of this export fetched step executions")

/** Whether any run of the export fetched step executions (`--steps failed|all`). */
const stepScopesSql = (t: Tables) => `SELECT scope FROM ${t.stepScopes} LIMIT 1`

const toFailure = (executionId: unknown, workflowId: unknown, message: unknown): StepFailure => ({
  executionId: String(executionId),
  workflowId: text(workflowId),
  message: text(message)
})

const freshnessOf = (rows: ReadonlyArray<StateRow>): Freshness => {
  const states = rows.map(decodeState)
  let latest: (typeof states)[number] | undefined
  for (const s of states) {
    if (
      s.lastRunAt !== undefined &&
      (latest?.lastRunAt === undefined || Date.parse(s.lastRunAt) > Date.parse(latest.lastRunAt))
    ) {
      latest = s
    }
  }
  return { lastRunAt: latest?.lastRunAt, highWaterMark: latest?.highWaterMark, streams: states.length }
}

const notAnExport = (name: string, operation: SinkErrors.Operation, cause: unknown) =>
  SinkErrors.make(
    "Unavailable",
    name,
    operation,
    `${SinkErrors.describe(cause)} (is this an export of taskhistory-exporter? run \`taskhistory-exporter run --sink ${name}\` first)`,
    cause
  )

// ------------------------------------------------------------------------------------ SQLite

/** A reader of a SQLite export: the file is opened read-only and must exist. */
export const makeSqlite = (path: string): Effect.Effect<ExportReaderShape, SinkError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = `sqlite:${path}`
    const t = tables(undefined)
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const db = SqliteDriver.open(path, { readonly: true, fileMustExist: true })
          // Fails here, once, when the file is not an export (no table).
          db.prepare(`SELECT 1 FROM ${t.executions} LIMIT 1`).all()
          return db
        },
        catch: (cause) => {
          const install = SqliteDriver.installProblem(cause)
          return install !== undefined
            ? SinkErrors.make("DriverMissing", name, "open", install, cause)
            : notAnExport(name, "open", cause)
        }
      }),
      (db) => Effect.sync(() => db.close())
    )
    const executions = (query: ExecutionQuery) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const q = select("sqlite", t, query)
          const iterator = yield* Effect.acquireRelease(
            Effect.try({
              try: () =>
                db
                  .prepare(q.sql)
                  .raw(true)
                  .iterate(...q.params),
              catch: SinkErrors.fromCause("Io", name, "read executions")
            }),
            (it) => Effect.sync(() => it.return?.())
          )
          // Rows in chunks of 4096, read synchronously: one chunk per pull.
          const pull = Effect.try({
            try: () => {
              const out: Array<WorkflowExecution> = []
              while (out.length < CHUNK) {
                const next = iterator.next()
                if (next.done === true) break
                const e = toExecution(next.value as Row)
                if (q.keep(e)) out.push(e)
              }
              return out
            },
            catch: SinkErrors.fromCause("Io", name, "read executions")
          })
          let done = false
          return Stream.repeatEffectChunkOption(
            Effect.suspend(() =>
              done
                ? Effect.fail(Option.none())
                : Effect.flatMap(Effect.mapError(pull, Option.some), (rows) => {
                    if (rows.length < CHUNK) done = true
                    return rows.length === 0 && done
                      ? Effect.fail(Option.none())
                      : Effect.succeed(Chunk.unsafeFromArray(rows))
                  })
            )
          )
        })
      )
    const freshness = Effect.try({
      try: () => freshnessOf(db.prepare(selectStates(t)).all() as ReadonlyArray<StateRow>),
      catch: (cause) => notAnExport(name, "read freshness", cause)
    })
    const stepFailures = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const q = stepFailuresSelect("sqlite", t, query)
          const fetched = yield* Effect.try({
            try: () => db.prepare(stepScopesSql(t)).get() !== undefined,
            catch: (cause) => noSteps(name, cause)
          })
          if (!fetched) return yield* neverFetchedSteps(name)
          const rows = yield* Effect.try({
            try: () =>
              db
                .prepare(q.sql)
                .raw(true)
                .all(...q.params) as Array<ReadonlyArray<unknown>>,
            catch: (cause) => noSteps(name, cause)
          })
          return Stream.fromIterable(rows.filter((r) => q.keep(r[3])).map((r) => toFailure(r[0], r[1], r[2])))
        })
      )
    return { name, executions, freshness, stepFailures }
  })

// ------------------------------------------------------------------------------------ Postgres

/** A reader of a Postgres export; `schema` holds the exporter's tables (default: the search path). */
export const makePostgres = (
  url: Redacted.Redacted<string>,
  schema: string | undefined
): Effect.Effect<ExportReaderShape, SinkError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = describeUrl(Redacted.value(url))
    const context = yield* Layer.build(
      PgConnection.clientLayer(url, name, { maxConnections: 2, applicationName: "taskhistory-export-reader" })
    )
    const sql: SqlClient = yield* Effect.provide(PgClient.PgClient, context)
    const t = tables(schema)
    yield* Effect.mapError(sql.unsafe(`SELECT 1 FROM ${t.executions} LIMIT 1`), (e) =>
      notAnExport(name, "open", e)
    )
    const executions = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.map(checkQuery(query), () => {
          const q = select("pg", t, query)
          return sql.unsafe<Record<string, unknown>>(q.sql, [...q.params]).stream.pipe(
            Stream.mapError((e) => SinkErrors.fromSql(name, "read executions", e)),
            Stream.map((r) =>
              toExecution([
                r.id,
                r.user_id,
                r.workflow_id,
                r.status,
                r.task_count,
                r.run_duration_ms,
                r.date_started,
                r.date_ended
              ])
            ),
            Stream.filter(q.keep)
          )
        })
      )
    const freshness = Effect.map(
      Effect.mapError(sql.unsafe<StateRow>(selectStates(t)), (e) =>
        SinkErrors.fromSql(name, "read freshness", e)
      ),
      freshnessOf
    )
    const stepFailures = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const scopes = yield* Effect.mapError(sql.unsafe(stepScopesSql(t)), (e) => noSteps(name, e))
          if (scopes.length === 0) return yield* neverFetchedSteps(name)
          const q = stepFailuresSelect("pg", t, query)
          return sql.unsafe<Record<string, unknown>>(q.sql, [...q.params]).stream.pipe(
            Stream.mapError((e) => noSteps(name, e)),
            Stream.filter((r) => q.keep(r.date_started)),
            Stream.map((r) => toFailure(r.execution_id, r.workflow_id, r.error_message))
          )
        })
      )
    return { name, executions, freshness, stepFailures }
  })
