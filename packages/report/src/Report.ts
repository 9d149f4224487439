/**
 * The usage report: figures for a period and the previous period of the same length, aggregated
 * in one pass over a `Stream` of executions, and rendered into one self-contained HTML file.
 *
 * The figures are core's `Usage` rows (the numbers `taskhistory usage` prints for the same
 * records): headline totals, executions and failures per UTC day, failure rate by workflow, tasks
 * by user, run-duration percentiles by workflow (nearest rank), executions by hour of day and
 * weekday (UTC), and, when step errors are given, the most frequent error messages by workflow.
 *
 * @example
 * import { Report } from "@taskhistory/report"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* TaskHistoryClient.TaskHistoryClient
 *   const period = yield* Report.period("2026-09-01", "2026-12-01")
 *   const query = yield* ExecutionQuery.makeEffect({ afterDate: Report.previousPeriod(period).start })
 *   const data = yield* Report.fromStream(client.executions(query), { period })
 *   const html = Report.render(data, { generatedAt: new Date() })
 * })
 *
 * @since 0.1.0
 */

import { renameSync, rmSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import type { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type { UsageRow } from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Data, Effect, type Either, Sink, Stream } from "effect"
import * as aggregate from "./internal/aggregate.js"
import * as html from "./internal/html.js"
import type { Names } from "./Names.js"

/**
 * A half-open interval of time `[start, end)`, as ISO 8601 UTC strings. Build one with
 * {@link period}; executions belong to it by their `dateStarted`.
 *
 * @since 0.1.0
 */
export interface Period {
  readonly start: string
  readonly end: string
}

/**
 * A period from its bounds (ISO 8601 date-times or `Date`s; a date alone is midnight UTC). Fails
 * with `InvalidInput` when a bound is not a date or `start` is not before `end`.
 *
 * @since 0.1.0
 */
export const period: (start: string | Date, end: string | Date) => Either.Either<Period, InvalidInput> =
  aggregate.period

/**
 * The period of the same length that ends where `period` starts.
 *
 * @since 0.1.0
 */
export const previousPeriod: (period: Period) => Period = aggregate.previousPeriod

/**
 * A step error of a failed execution: a row of the exporter's `step_executions` (with the
 * execution's workflow) whose error message was found.
 *
 * @since 0.1.0
 */
export interface StepError {
  readonly executionId: string
  readonly workflowId?: string | null | undefined
  readonly stepId?: string | null | undefined
  /** The error text; `null` when the step failed but no message could be extracted. */
  readonly errorMessage: string | null
}

/**
 * How to aggregate.
 *
 * @since 0.1.0
 */
export interface AggregateOptions<E = never, R = never> {
  /** The period reported on; the previous period of the same length is the comparison. */
  readonly period: Period
  /** Rows in each ranked table (workflows, users, error messages); the rest form an "other" row. Default 15. */
  readonly top?: number | undefined
  /**
   * Step errors of the executions in `period` (the caller scopes them: e.g. a join of the
   * export's `step_executions` with `workflow_executions` on the same filters). Without it the
   * report says that no step errors were available.
   */
  readonly errors?: Stream.Stream<StepError, E, R> | undefined
}

/**
 * The figures of all groups that did not make a top-N table, added up.
 *
 * @since 0.1.0
 */
export interface OtherRow {
  /** How many groups are in it. */
  readonly groups: number
  readonly executions: number
  readonly tasks: number
  readonly failures: number
  readonly failureRate: number
}

/**
 * The counts of a core `Usage` row, without its duration percentiles (the report shows those by
 * workflow only, so per user and per day they are not computed).
 *
 * @since 0.1.0
 */
export type CountRow = Pick<UsageRow, "group" | "executions" | "tasks" | "failures" | "failureRate">

/**
 * A ranked table: the top rows (core's `Usage` rows), the rest added up, and the total.
 *
 * @since 0.1.0
 */
export interface Ranked<Row extends CountRow = UsageRow> {
  readonly top: ReadonlyArray<Row>
  /** `undefined` when every group is in `top`. */
  readonly other: OtherRow | undefined
  /** Every group together (core's `Usage` total row). */
  readonly total: Row
  /** How many groups there are in all. */
  readonly groups: number
}

/**
 * Run-duration percentiles (ms, nearest rank) of one workflow, or of several together.
 *
 * @since 0.1.0
 */
export interface DurationRow {
  /** A workflow id, or `"other"` / `"total"`. */
  readonly group: string
  /** Executions of the group that had a `runDuration`. */
  readonly withDuration: number
  readonly p50: number | undefined
  readonly p95: number | undefined
  readonly p99: number | undefined
  readonly max: number | undefined
}

/**
 * Duration percentiles by workflow: the workflows with the most executions that had a duration.
 *
 * @since 0.1.0
 */
export interface Durations {
  readonly top: ReadonlyArray<DurationRow>
  /** The other workflows together (`group: "other"`), when there are any. */
  readonly other: (DurationRow & { readonly groups: number }) | undefined
  /** All executions of the period (`group: "total"`). */
  readonly total: DurationRow
}

/**
 * Executions by weekday and hour of day of their start, in UTC.
 *
 * @since 0.1.0
 */
export interface Hours {
  /** `executions[weekday][hour]`, weekday 0 = Monday ... 6 = Sunday, hour 0-23 (UTC). */
  readonly executions: ReadonlyArray<ReadonlyArray<number>>
  /** The busiest cell (earliest in the week on a tie), when there was any execution. */
  readonly peak: { readonly weekday: number; readonly hour: number; readonly executions: number } | undefined
}

/**
 * One error message of one workflow.
 *
 * @since 0.1.0
 */
export interface ErrorRow {
  /** The workflow id (core's `Usage.missingKey` when the step error did not say). */
  readonly workflowId: string
  /** The message, whitespace collapsed and cut to 1,000 characters; `null` when none was found. */
  readonly message: string | null
  /** Failed steps with this message. */
  readonly steps: number
  /** Distinct executions with this message. */
  readonly executions: number
}

/**
 * The most frequent error messages by workflow.
 *
 * @since 0.1.0
 */
export interface Errors {
  /** Most executions first, then most steps, then by workflow and message. */
  readonly top: ReadonlyArray<ErrorRow>
  /** The other (workflow, message) pairs together. */
  readonly other: { readonly groups: number; readonly steps: number } | undefined
  /** Step errors seen in all. */
  readonly steps: number
  /** Distinct (workflow, message) pairs. */
  readonly groups: number
}

/**
 * The change from the previous period to this one.
 *
 * @since 0.1.0
 */
export interface Change {
  /** `(current - previous) / previous`; `undefined` when the previous period had none. */
  readonly executions: number | undefined
  readonly tasks: number | undefined
  readonly failures: number | undefined
  /** Current failure rate minus the previous one (0.01 = one percentage point); `undefined` without previous executions. */
  readonly failureRate: number | undefined
}

/**
 * Everything the report shows, as plain data (JSON-serialisable).
 *
 * @since 0.1.0
 */
export interface ReportData {
  readonly period: Period
  readonly previousPeriod: Period
  /** Rows per ranked table. */
  readonly top: number
  readonly headline: {
    /** Every execution of the period (core's `Usage` total row). */
    readonly current: UsageRow
    /** Every execution of the previous period. */
    readonly previous: UsageRow
    readonly change: Change
    /** Distinct workflows and users with executions in the period. */
    readonly workflows: number
    readonly users: number
  }
  /** One row per UTC day that the period touches, ascending, days without executions included. */
  readonly days: ReadonlyArray<CountRow>
  /** The workflows with the most failures (then the highest failure rate). */
  readonly failuresByWorkflow: Ranked
  /** The users with the most tasks (then the most executions). */
  readonly tasksByUser: Ranked<CountRow>
  readonly durationsByWorkflow: Durations
  readonly hours: Hours
  /** `undefined` when no step errors were given. */
  readonly errors: Errors | undefined
  /** Records seen outside both periods (ignored). */
  readonly outside: number
}

/**
 * A mutable accumulator: add executions (and step errors), then read the figures. Use
 * {@link fromStream} or {@link sink} unless you fold by hand.
 *
 * @since 0.1.0
 */
export interface Aggregator {
  readonly add: (execution: WorkflowExecution) => void
  readonly addError: (error: StepError) => void
  /** The figures of everything added so far (`errors` is set once any `addError` call was made or `withErrors` was set). */
  readonly result: () => ReportData
}

/**
 * A new aggregator. `withErrors` says step errors are available (so an empty set reads "no step
 * errors" rather than "not exported").
 *
 * @since 0.1.0
 */
export const makeAggregator: (options: {
  readonly period: Period
  readonly top?: number | undefined
  readonly withErrors?: boolean | undefined
}) => Either.Either<Aggregator, InvalidInput> = aggregate.make

/**
 * A Sink that folds executions into the report's figures (without step errors).
 *
 * @since 0.1.0
 */
export const sink = (options: {
  readonly period: Period
  readonly top?: number | undefined
}): Sink.Sink<ReportData, WorkflowExecution, never, InvalidInput> =>
  Sink.unwrap(
    Effect.map(aggregate.make(options), (agg) =>
      Sink.forEachChunk((chunk: Iterable<WorkflowExecution>) =>
        Effect.sync(() => {
          for (const e of chunk) agg.add(e)
        })
      ).pipe(Sink.map(() => agg.result()))
    )
  )

/**
 * Aggregates a stream of executions (and, optionally, step errors) into the report's figures, in
 * one pass and without keeping the records. The stream should cover both the period and the
 * previous period (`afterDate: previousPeriod(period).start`); records outside both are counted in
 * `outside` and ignored.
 *
 * @example
 * const data = yield* Report.fromStream(client.executions(query), { period, top: 20 })
 *
 * @since 0.1.0
 */
export const fromStream = <E, R, E2 = never, R2 = never>(
  executions: Stream.Stream<WorkflowExecution, E, R>,
  options: AggregateOptions<E2, R2>
): Effect.Effect<ReportData, E | E2 | InvalidInput, R | R2> =>
  Effect.flatMap(
    aggregate.make({ period: options.period, top: options.top, withErrors: options.errors !== undefined }),
    (agg) =>
      Stream.runForEachChunk(executions, (chunk) =>
        Effect.sync(() => {
          for (const e of chunk) agg.add(e)
        })
      ).pipe(
        Effect.zipRight(
          options.errors === undefined
            ? Effect.void
            : Stream.runForEachChunk(options.errors, (chunk) =>
                Effect.sync(() => {
                  for (const e of chunk) agg.addError(e)
                })
              )
        ),
        Effect.map(() => agg.result())
      )
  )

/**
 * How to render.
 *
 * @since 0.1.0
 */
export interface RenderOptions {
  /** When the report was made: printed in the page, never read from the clock here (same input, same bytes). */
  readonly generatedAt: Date | string
  /** Labels for workflow and user ids (`--names FILE`). */
  readonly names?: Names | undefined
  /** The page's title. Default "Task History report". */
  readonly title?: string | undefined
  /** Lines printed under the title, e.g. `{ label: "Source", value: "sqlite:./taskhistory.db (exported up to ...)" }`. */
  readonly details?: ReadonlyArray<{ readonly label: string; readonly value: string }> | undefined
}

/**
 * The report as one self-contained HTML document: inline CSS, charts as inline SVG (drawn by
 * Observable Plot over linkedom), a table of numbers after every chart, no script and no network
 * access (a Content-Security-Policy of `default-src 'none'`). Every value from the data is escaped.
 * Pure: the same data and options give the same string.
 *
 * @example
 * await writeFile("report.html", Report.render(data, { generatedAt: new Date(), names }))
 *
 * @since 0.1.0
 */
export const render: (data: ReportData, options: RenderOptions) => string = html.render

/**
 * The report could not be written to its file.
 *
 * @since 0.1.0
 */
export class WriteError extends Data.TaggedError("@taskhistory/report/WriteError")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message() {
    return `cannot write the report to ${this.path}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * Writes a rendered report to `path` atomically: into a temporary file beside it, then renamed
 * over it, so a browser or a web server never sees half a report.
 *
 * @since 0.1.0
 */
export const writeFile = (path: string, html: string): Effect.Effect<void, WriteError> =>
  Effect.try({
    try: () => {
      const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`)
      try {
        writeFileSync(temp, html)
        renameSync(temp, path)
      } catch (cause) {
        rmSync(temp, { force: true })
        throw cause
      }
    },
    catch: (cause) => new WriteError({ path, cause })
  })

/**
 * The read that covers a period and the previous period of the same length, with the other
 * filters of `filters` (their dates replaced).
 *
 * @since 0.1.0
 */
export const readQuery = <
  Q extends { readonly afterDate?: string | undefined; readonly beforeDate?: string | undefined }
>(
  filters: Q,
  period: Period
): Q => ({ ...filters, afterDate: aggregate.previousPeriod(period).start, beforeDate: period.end })
