/**
 * The export readers of the SQL sinks: rows of `workflow_executions` back into executions (from
 * the typed columns, not by parsing `raw`), filtered like the API, and the freshness from
 * `export_state`.
 *
 * @internal
 */
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import type { StepFailure } from "@taskhistory/core/StepErrors"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Chunk, Effect, Option, type Scope, Stream } from "effect"
import type { CountBy, ExportReaderShape, Freshness } from "../ExportReader.js"
import type { SinkError } from "../Sink.js"
import * as GroupCounts from "./groupCounts.js"
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
export const toExecution = (row: Row): WorkflowExecution => {
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

/** The WHERE clause of a query (empty or ` WHERE ...`), its parameters, and its exact date bounds. */
interface Where {
  readonly clause: string
  readonly params: ReadonlyArray<unknown>
  readonly after: number | undefined
  readonly before: number | undefined
}

/**
 * The conditions for the exported executions that match `query`, with `extra` conditions.
 * `marginMs` widens the date bounds on each side (SQLite's text comparisons, see {@link select}).
 */
export const where = (
  dialect: Dialect,
  query: ExecutionQuery,
  marginMs: number,
  extra: ReadonlyArray<string> = []
): Where => {
  const clauses: Array<string> = []
  const params: Array<unknown> = []
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value)
    clauses.push(clause(ph(dialect, params.length)))
  }
  if (query.workflowId !== undefined) add((p) => `workflow_id = ${p}`, query.workflowId)
  if (query.userId !== undefined) add((p) => `user_id = ${p}`, query.userId)
  if (query.status !== undefined) add((p) => `status = ${p}`, query.status)
  const after = query.afterDate === undefined ? undefined : Date.parse(query.afterDate)
  const before = query.beforeDate === undefined ? undefined : Date.parse(query.beforeDate)
  const bound = (ms: number, margin: number) => new Date(ms + margin).toISOString()
  if (after !== undefined) add((p) => `date_started >= ${p}`, bound(after, -marginMs))
  if (before !== undefined) add((p) => `date_started <= ${p}`, bound(before, marginMs))
  clauses.push(...extra)
  return { clause: clauses.length === 0 ? "" : ` WHERE ${clauses.join(" AND ")}`, params, after, before }
}

/** Whether a start (ms) is within a query's exact bounds. */
const within = (w: Where, ms: number) =>
  (w.after === undefined || ms >= w.after) && (w.before === undefined || ms <= w.before)

/**
 * The query for the exported executions that match. SQLite keeps dates as the API sent them
 * (text, any offset): the WHERE clause takes a day more on each side, which the index serves, and
 * `keep` applies the exact bounds; Postgres compares `timestamptz` exactly.
 */
export const select = (dialect: Dialect, t: Tables, query: ExecutionQuery): Select => {
  const w = where(dialect, query, dialect === "pg" ? 0 : DAY)
  const sql = `SELECT ${COLUMNS} FROM ${t.executions}${w.clause}`
  const keep =
    w.after === undefined && w.before === undefined
      ? () => true
      : (e: WorkflowExecution) => within(w, Date.parse(e.dateStarted))
  return { sql, params: w.params, keep }
}

/** The grouping column of `by` (a constant for `all`). */
const groupColumn = (by: CountBy) => (by === "workflow" ? "workflow_id" : by === "user" ? "user_id" : "''")

/** Counts per group: group value, executions, finished, failures, latest start. */
export const countsSelect = (t: Tables, by: CountBy, w: Where) => {
  const g = groupColumn(by)
  const present = by === "all" ? "" : ` AND ${g} IS NOT NULL`
  const clause = w.clause === "" ? (by === "all" ? "" : ` WHERE ${g} IS NOT NULL`) : `${w.clause}${present}`
  return (
    `SELECT ${g}, COUNT(*), SUM(CASE WHEN status IN ('SUCCEEDED', 'FAILED') THEN 1 ELSE 0 END), ` +
    `SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END), MAX(date_started) FROM ${t.executions}${clause}` +
    (by === "all" ? "" : ` GROUP BY ${g}`)
  )
}

/**
 * A SQLite start date in the form the API sends (`2026-11-01T10:00:00.000Z`) that is a real
 * instant (no 30 February, no hour 24): for these, text order is time order and `Date.parse`
 * agrees with the text, so the database compares and takes the maximum of them exactly. Other
 * forms (offsets, no milliseconds) are rare and read back to be counted in JavaScript. `?` for
 * digits is enough: every stored date passed `Date.parse`, which takes no other string of this
 * shape (a digit class per character costs more on every row scanned).
 */
const PLAIN_DATE =
  "(date_started GLOB '????-??-??T??:??:??.???Z' AND substr(date_started, 12, 2) < '24'" +
  " AND (substr(date_started, 9, 2) < '29' OR date(substr(date_started, 1, 10)) IS substr(date_started, 1, 10)))"

/** Adds a row of {@link countsSelect} to `counter`. */
export const addCounts = (counter: GroupCounts.Counter, r: ReadonlyArray<unknown>) => {
  const last = r[4] instanceof Date ? r[4].getTime() : Date.parse(String(r[4]))
  counter.add(text(r[0]), {
    executions: Number(r[1]),
    finished: Number(r[2]),
    failures: Number(r[3]),
    lastStartedMs: last
  })
}

/**
 * The failed steps of the executions `select` picks: `step_executions` joined with that query,
 * the same exact date check after it (`keep` on the execution's start).
 */
export const stepFailuresSelect = (dialect: Dialect, t: Tables, query: ExecutionQuery) => {
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
export const noSteps = (name: string, cause: unknown) =>
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
export const neverFetchedSteps = (name: string) =>
  noSteps(name, "no run of this export fetched step executions")

/** Whether any run of the export fetched step executions (`--steps failed|all`). */
export const stepScopesSql = (t: Tables) => `SELECT scope FROM ${t.stepScopes} LIMIT 1`

export const toFailure = (executionId: unknown, workflowId: unknown, message: unknown): StepFailure => ({
  executionId: String(executionId),
  workflowId: text(workflowId),
  message: text(message)
})

export const freshnessOf = (rows: ReadonlyArray<StateRow>): Freshness => {
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

export const notAnExport = (name: string, operation: SinkErrors.Operation, cause: unknown) =>
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
          // A reader scans ranges of rows once: a page cache of 1 MB instead of better-sqlite3's
          // 16 MB, which a scan of a week of a large export fills (peak RSS +20 MB, bench/alerts.mjs).
          db.exec("PRAGMA cache_size = -1000")
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
    // Two statements: the dates in the API's form are counted by the database within the exact
    // bounds (index range, GROUP BY); the others, within a day more on each side (the index alone
    // tells them apart), are read back one at a time and counted here with `Date.parse`.
    const countBy = (query: ExecutionQuery, by: CountBy) =>
      Effect.gen(function* () {
        yield* checkQuery(query)
        const counter = GroupCounts.make(by)
        const exact = where("sqlite", query, 0, [PLAIN_DATE])
        const other = where("sqlite", query, DAY, [`NOT ${PLAIN_DATE}`])
        yield* Effect.try({
          try: () => {
            const grouped = db
              .prepare(countsSelect(t, by, exact))
              .raw(true)
              .all(...exact.params) as Array<ReadonlyArray<unknown>>
            for (const r of grouped) addCounts(counter, r)
            const rows = db
              .prepare(`SELECT ${groupColumn(by)}, status, date_started FROM ${t.executions}${other.clause}`)
              .raw(true)
              .iterate(...other.params) as IterableIterator<ReadonlyArray<unknown>>
            for (const r of rows) {
              const ms = Date.parse(String(r[2]))
              if (within(other, ms)) counter.add(text(r[0]), GroupCounts.one(String(r[1]), ms))
            }
          },
          catch: SinkErrors.fromCause("Io", name, "read executions")
        })
        return counter.result()
      })
    return { name, executions, freshness, stepFailures, countBy }
  })
