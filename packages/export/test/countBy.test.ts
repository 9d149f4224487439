/**
 * `ExportReader.countBy` (what `run --alerts` evaluates its rules with): the counts the SQL
 * readers make in the database and the file readers' fold agree with a brute-force count over a
 * known dataset, written into each sink, whose start dates include the forms the SQLite reader
 * cannot compare as text (offsets, no milliseconds, microseconds, hour 24, 30 February); and the
 * alert evaluation over `countBy` equals the one that reads every execution.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Layer, Redacted, type Scope } from "effect"
import * as Alerts from "../src/Alerts.js"
import * as ExportReader from "../src/ExportReader.js"
import * as FileSink from "../src/FileSink.js"
import * as PostgresSink from "../src/PostgresSink.js"
import { Sink, type SinkError } from "../src/Sink.js"
import * as SqliteSink from "../src/SqliteSink.js"
import { tempDir } from "./helpers.js"
import { makeSchemas } from "./pgSchemas.js"

const pgUrl = process.env.TASKHISTORY_TEST_PG_URL
const schemas = pgUrl === undefined ? undefined : makeSchemas(pgUrl, "th_countby")
afterAll(() => schemas?.dropAll())

const H = 3_600_000
/** The end of the windows: 1 March 2026 (2026 has no 29 February). */
const END = Date.parse("2026-03-01T12:00:00.000Z")
const STATUSES = ["SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED", "EXECUTING", "DELAYED", "SUCCEEDED"]

/** A small deterministic generator (the same dataset on every run). */
const lcg = (seed: number) => {
  let x = seed
  return (n: number) => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x % n
  }
}

/** `ms` written in one of the forms a record may carry (all of them `Date.parse` the same instant). */
const odd = (ms: number, form: number): string => {
  const iso = new Date(ms).toISOString()
  switch (form) {
    case 0: {
      // +05:30: the same instant, local time ahead.
      const local = new Date(ms + 5.5 * H).toISOString().slice(0, 23)
      return `${local}+05:30`
    }
    case 1: {
      const local = new Date(ms - 8 * H).toISOString().slice(0, 19)
      return `${local}-08:00`
    }
    case 2:
      return `${iso.slice(0, 19)}Z`
    default:
      return `${iso.slice(0, 23)}456Z`
  }
}

/**
 * The dataset: executions over ten days before `END` (and a few after it), some without a
 * workflow or a user, some at the exact bounds of the windows, some in odd date forms.
 * `calendarOdd`: also 30 February and hour 24 (Postgres refuses a day that does not exist).
 */
const dataset = (calendarOdd: boolean): ReadonlyArray<WorkflowExecution> => {
  const next = lcg(7)
  const out: Array<WorkflowExecution> = []
  for (let i = 0; i < 2500; i++) {
    const ms = END - next(10 * 24 * 60) * 60_000 + next(60_000) + (i % 50 === 0 ? 2 * H : 0)
    const e: Record<string, unknown> = {
      id: `e${i}`,
      status: STATUSES[next(STATUSES.length)],
      dateStarted: i % 9 === 0 ? odd(ms, next(4)) : new Date(ms).toISOString()
    }
    if (i % 17 !== 0) e.workflowId = `wf-${next(6)}`
    if (i % 13 !== 0) e.userId = `user-${next(8)}`
    out.push(e as unknown as WorkflowExecution)
  }
  // On the bounds of the windows, in the API's form and in others.
  const bounds = [END, END - H, END - 24 * H, END - 7 * 24 * H]
  bounds.forEach((b, k) => {
    for (const [j, date] of [
      new Date(b).toISOString(),
      odd(b, 0),
      odd(b, 2),
      new Date(b - 1).toISOString()
    ].entries())
      out.push({
        id: `b${k}-${j}`,
        workflowId: "wf-edge",
        userId: "user-edge",
        status: "FAILED",
        dateStarted: date
      })
  })
  if (calendarOdd) {
    // 30 February 2026 is 2 March; hour 24 is the next day's midnight.
    out.push({ id: "feb30", workflowId: "wf-1", status: "FAILED", dateStarted: "2026-02-30T00:00:00.000Z" })
    out.push({ id: "feb29", workflowId: "wf-2", status: "FAILED", dateStarted: "2026-02-29T11:00:00.000Z" })
    out.push({ id: "h24", workflowId: "wf-3", status: "SUCCEEDED", dateStarted: "2026-02-28T24:00:00.000Z" })
  }
  return out
}

/** The counts by brute force: each execution parsed and tested in JavaScript. */
const bruteForce = (
  data: ReadonlyArray<WorkflowExecution>,
  query: ExecutionQuery,
  by: ExportReader.CountBy
): ReadonlyArray<ExportReader.GroupCounts> => {
  const after = query.afterDate === undefined ? undefined : Date.parse(query.afterDate)
  const before = query.beforeDate === undefined ? undefined : Date.parse(query.beforeDate)
  const groups = new Map<
    string,
    { -readonly [K in keyof ExportReader.GroupCounts]: ExportReader.GroupCounts[K] }
  >()
  for (const e of data) {
    const ms = Date.parse(e.dateStarted)
    if (after !== undefined && ms < after) continue
    if (before !== undefined && ms > before) continue
    if (query.workflowId !== undefined && e.workflowId !== query.workflowId) continue
    if (query.status !== undefined && e.status !== query.status) continue
    const value = by === "workflow" ? e.workflowId : by === "user" ? e.userId : ""
    if (value === undefined) continue
    let g = groups.get(value)
    if (g === undefined) {
      g = { executions: 0, finished: 0, failures: 0, lastStartedMs: ms }
      if (by === "workflow") g.workflowId = value
      if (by === "user") g.userId = value
      groups.set(value, g)
    }
    g.executions++
    if (e.status === "SUCCEEDED" || e.status === "FAILED") g.finished++
    if (e.status === "FAILED") g.failures++
    if (ms > g.lastStartedMs) g.lastStartedMs = ms
  }
  return [...groups.values()]
}

const sorted = (rows: ReadonlyArray<ExportReader.GroupCounts>) =>
  [...rows].sort((a, b) => ((a.workflowId ?? a.userId ?? "") < (b.workflowId ?? b.userId ?? "") ? -1 : 1))

const iso = (ms: number) => new Date(ms).toISOString()
const queries: ReadonlyArray<ExecutionQuery> = [
  {},
  { afterDate: iso(END - H), beforeDate: iso(END) },
  { afterDate: iso(END - 24 * H), beforeDate: iso(END) },
  { afterDate: iso(END - 7 * 24 * H) },
  { afterDate: iso(END - 7 * 24 * H), beforeDate: iso(END), status: "FAILED" },
  { afterDate: iso(END - 3 * 24 * H), workflowId: "wf-2" }
]

const rules: ReadonlyArray<Alerts.Rule> = [
  { name: "rate", by: "workflow", condition: { _tag: "FailureRate", threshold: 0.3 }, windowMs: H },
  { name: "user", by: "user", condition: { _tag: "Failures", threshold: 2 }, windowMs: 24 * H },
  { name: "all", by: "all", condition: { _tag: "FailureRate", threshold: 0.1 }, windowMs: H },
  { name: "silent", by: "workflow", condition: { _tag: "Silent", forMs: 6 * H }, windowMs: 7 * 24 * H }
].map((r) => ({ ...r, minExecutions: 1, cooldownMs: 0, notify: ["ops"] }) as Alerts.Rule)

/** An evaluation's groups, comparable (the latest start counts only for silent rules). */
const comparable = (evaluation: Alerts.Evaluation) =>
  rules.map((rule) =>
    [...(evaluation.groups.get(rule.name)?.values() ?? [])]
      .map((s) => ({
        group: s.group,
        executions: s.executions,
        failures: s.failures,
        last: rule.condition._tag === "Silent" ? s.lastStartedMs : undefined
      }))
      .sort((a, b) => (JSON.stringify(a.group) < JSON.stringify(b.group) ? -1 : 1))
  )

const suite = (
  name: string,
  calendarOdd: boolean,
  make: () => Effect.Effect<
    { readonly sink: Layer.Layer<Sink, SinkError>; readonly reader: ExportReader.ExportReaderShape },
    never,
    Scope.Scope
  >
) =>
  describe(`countBy: ${name}`, () => {
    it.live(
      "agrees with a brute-force count; alert evaluation over it equals the one over every execution",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const data = dataset(calendarOdd)
            const { sink, reader } = yield* make()
            yield* Effect.flatMap(Sink, (s) =>
              Effect.forEach(
                [data.slice(0, 1000), data.slice(1000, 2000), data.slice(2000)],
                (records) =>
                  s.writeBatch({
                    records,
                    rejects: [],
                    state: {
                      streamKey: "{}",
                      highWaterMark: iso(END),
                      longestRunMs: 0,
                      lastRunAt: iso(END),
                      cursor: undefined
                    }
                  }),
                { discard: true }
              )
            ).pipe(Effect.provide(sink), Effect.orDie)
            const countBy = reader.countBy
            expect(countBy).toBeDefined()
            for (const query of queries) {
              for (const by of ["workflow", "user", "all"] as const) {
                const counted = yield* Effect.orDie(countBy!(query, by))
                expect({ query, by, counts: sorted(counted) }).toEqual({
                  query,
                  by,
                  counts: sorted(bruteForce(data, query, by))
                })
              }
            }
            const inSink = yield* Effect.orDie(Alerts.evaluate(reader, rules, END))
            const folded = yield* Effect.orDie(Alerts.evaluate({ ...reader, countBy: undefined }, rules, END))
            expect(inSink.inSink).toBe(true)
            expect(folded.inSink).toBe(false)
            expect(comparable(inSink)).toEqual(comparable(folded))
            expect(comparable(inSink).every((groups) => groups.length > 0)).toBe(true)
            const refused = yield* Effect.flip(countBy!({ integration: "slack" }, "all"))
            expect(refused._tag).toBe("InvalidInput")
          })
        )
    )
  })

const readerOf = (layer: Layer.Layer<ExportReader.ExportReader, SinkError | unknown>) =>
  Effect.flatMap(Layer.build(layer), (context) => Effect.provide(ExportReader.ExportReader, context))

suite("SQLite", true, () =>
  Effect.gen(function* () {
    const { dir, cleanup } = tempDir("th-countby-")
    yield* Effect.addFinalizer(() => Effect.sync(cleanup))
    const path = `${dir}/th.db`
    const sink = SqliteSink.layer({ path })
    // The reader opens the file: create it first.
    yield* Effect.orDie(
      Effect.provide(
        Effect.flatMap(Sink, (s) => s.status),
        sink
      )
    )
    return { sink, reader: yield* Effect.orDie(readerOf(ExportReader.layerSqlite(path))) }
  })
)

for (const format of ["ndjson", "csv", "parquet"] as const) {
  suite(`${format} files`, true, () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("th-countby-")
      yield* Effect.addFinalizer(() => Effect.sync(cleanup))
      const sink = FileSink.layer(format, { dir })
      // The reader wants the export's _state.json: a first, empty batch writes it.
      yield* Effect.orDie(
        Effect.provide(
          Effect.flatMap(Sink, (s) =>
            s.writeBatch({
              records: [],
              rejects: [],
              state: {
                streamKey: "{}",
                highWaterMark: undefined,
                longestRunMs: 0,
                lastRunAt: undefined,
                cursor: undefined
              }
            })
          ),
          sink
        )
      )
      return {
        sink,
        reader: yield* Effect.orDie(readerOf(ExportReader.layer({ _tag: "File", format, dir })))
      }
    })
  )
}

if (pgUrl !== undefined && schemas !== undefined) {
  suite("Postgres", false, () =>
    Effect.gen(function* () {
      const schema = schemas.next()
      const sink = PostgresSink.layer({ url: Redacted.make(pgUrl), schema })
      yield* Effect.orDie(
        Effect.provide(
          Effect.flatMap(Sink, (s) => s.status),
          sink
        )
      )
      return { sink, reader: yield* Effect.orDie(readerOf(ExportReader.layerPostgres(pgUrl, schema))) }
    })
  )
} else {
  describe("countBy: Postgres", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("countBy Postgres tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
}
