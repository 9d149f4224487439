/**
 * The export engine: one run reads every execution that started in a range of dates and
 * upserts it into the {@link Sink}, with the state that covers it in the same transaction.
 *
 * - Keyset paging on `dateStarted` (ASC, `afterDate` = cursor - 1 ms, offset 0): inserts and
 *   retention deletions elsewhere cannot shift what is read. More than a page of executions at one
 *   instant is read alone, with offsets, and checked against `total`.
 * - Each run starts at the stored high-water mark minus a look-back (late arrivals, status
 *   changes); executions still running hold the high-water mark back until they end. A first run
 *   starts at `since` or the 90-day retention horizon. Backfill and incremental runs are the same.
 * - A killed run resumes from the cursor stored with its last batch; upserts by `id` make the
 *   re-read idempotent.
 * - Late arrivals older than the look-back: a ledger of what was read per day (stored with the
 *   state) is compared with the API's `total` each run, and days that differ are read again.
 *
 * @since 0.1.0
 */

import type * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import type { CostPlan, TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import type { Duration, Effect } from "effect"
import * as exportError from "./internal/exportError.js"
import * as internal from "./internal/exporter.js"
import type { ExportState, Sink, SinkError } from "./Sink.js"

/**
 * The filters of an export stream: the selecting part of a validated `ExecutionQuery` (no dates,
 * no sort). Validate user input with `ExecutionQuery.make` (or the binaries' flags) and pass its
 * `ExecutionQuery.selection`; the engine does not validate filters again.
 *
 * @example
 * ```ts
 * import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
 * const query = yield* ExecutionQuery.makeEffect({ status: "failed" }) // InvalidInput when bad
 * const report = yield* Exporter.run({ filters: ExecutionQuery.selection(query) })
 * ```
 *
 * @since 0.1.0
 */
export type Filters = ExecutionQuery.Selection

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  readonly filters?: Filters | undefined
  /** Where a first run (no stored state) starts, ISO 8601. Default: 90 days ago. Ignored once state exists. */
  readonly since?: string | undefined
  /** How far before the high-water mark each run starts again. Default: max(1h, 2 x the longest run seen), at most 90 days. */
  readonly lookback?: Duration.DurationInput | undefined
  /** `quarantine` (default): store invalid records as rejects and go on. `fail`: stop with an `ExportError`. */
  readonly onInvalid?: "quarantine" | "fail" | undefined
  /** Records per transaction (rounded up to whole pages of 100). Default 500. */
  readonly batchSize?: number | undefined
  /**
   * Windows of start dates read at once (1 to 64). Default 8: enough requests in flight to hide
   * an API's latency; the client's rate limiter still orders every request, so more windows never
   * spend more of the budget. Each window's batches are written as they arrive, with the
   * position of every window in the stored state, so a killed run resumes each where it was.
   */
  readonly concurrency?: number | undefined
  /**
   * `auto` (default): keep a ledger of what was read per day of start dates older than the
   * look-back, compare it with the API's `total` (one request per run; weeks, then days, only
   * where it differs) and read again the days that changed, so late arrivals of any age are
   * caught. `off`: no verification (the ledger is dropped).
   */
  readonly verify?: "auto" | "off" | undefined
  /**
   * Step executions: `none` (default), `failed` (the steps of executions that failed, with the
   * output and error of each failed step) or `all` (the steps of every execution). An execution's
   * steps are queued in the sink when it is written new or with another status than the stored
   * one, and read beside the list reads (see `stepsBudget`); an execution whose status did not
   * change is never read again. Needs a sink that stores steps (SQLite, Postgres).
   *
   * @since 0.3.0
   */
  readonly steps?: "none" | "failed" | "all" | undefined
  /**
   * The share of the rate limit (from `TaskHistoryConfig`) step requests may take while list
   * reads are pending, above 0 and at most 1. Default 0.5. Once the list reads are done, the
   * backlog is read at the full rate.
   *
   * @since 0.3.0
   */
  readonly stepsBudget?: number | undefined
  /**
   * Step requests per run at most; the executions left wait in the sink's backlog for the next
   * runs, oldest first. Default: no cap (each run empties the backlog).
   *
   * @since 0.3.0
   */
  readonly stepsMaxRequests?: number | undefined
  /**
   * How long after the run's start step work may begin new requests: once it has passed, no
   * further group of executions is read, and the rest of the backlog waits for the next runs,
   * oldest first (the list reads are not cut). A scheduled exporter (`--every D`) passes its
   * interval, so a large backlog never makes a run overrun it. Default: none.
   *
   * @since 0.3.0
   */
  readonly stepsDeadline?: Duration.DurationInput | undefined
}

/**
 * What the step work of a run did (`RunOptions.steps`).
 *
 * @since 0.3.0
 */
export interface StepsReport {
  /** Executions whose steps were written. */
  readonly executions: number
  /** Step rows written. */
  readonly rows: number
  /** Requests sent for steps (counted in `RunReport.requests` too). */
  readonly requests: number
  /** Malformed step records quarantined in the rejects. */
  readonly rejected: number
  /** Executions still waiting in the sink's step backlog after the run. */
  readonly backlog: number
}

/**
 * How fresh an export is, as of its last complete run: everything that started before
 * `readThrough` was read; `inFlight` of those executions were still running (not `SUCCEEDED` or
 * `FAILED`), the earliest started at `inFlightSince`. Each run reads those again until they end,
 * which is why the high-water mark (`min(readThrough, inFlightSince)`) can be far behind an
 * up-to-date export. Lag as monitoring means it is now minus `readThrough`.
 *
 * @since 0.2.0
 */
export interface Freshness {
  /** The end of the last complete run's range (ISO): every execution that started before it was read. */
  readonly readThrough: string
  /** Executions seen still running by that run, read again by the next runs until they end. */
  readonly inFlight: number
  /** The start (ISO) of the earliest of them, when there are any. */
  readonly inFlightSince: string | undefined
}

/**
 * The {@link Freshness} of a stored state, when the state has it (states written before version
 * 0.2 of the engine do not, until their next complete run).
 *
 * @example
 * ```ts
 * const state = yield* sink.loadState(Exporter.streamKey({}))
 * const lagSeconds = Option.flatMapNullable(state, Exporter.freshness).pipe(
 *   Option.map((f) => (Date.now() - Date.parse(f.readThrough)) / 1000)
 * )
 * ```
 *
 * @since 0.2.0
 */
export const freshness: (state: ExportState) => Freshness | undefined = internal.freshness

/**
 * What a run did.
 *
 * @since 0.1.0
 */
export interface RunReport extends Freshness {
  /** Records received (valid and invalid), without the overlap of consecutive pages. */
  readonly seen: number
  readonly inserted: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: number
  /**
   * Executions this run brought to a final status in the sink (new with `SUCCEEDED`/`FAILED`, or
   * stored before while still running): what `ExportMetrics.executions` counted.
   *
   * @since 0.2.0
   */
  readonly finished: number
  /** HTTP requests sent by this process during the run (retries included). */
  readonly requests: number
  /** 429 answers received during the run. */
  readonly rateLimited: number
  readonly durationMs: number
  /** The stored high-water mark after the run (ISO). */
  readonly highWaterMark: string
  readonly streamKey: string
  /** Ranges whose `total` was compared with the ledger (one request each). */
  readonly checked: number
  /** Days read again because their total changed (late arrivals older than the look-back, expiry). */
  readonly reread: number
  /**
   * The step work of the run, when `steps` is not `none`.
   *
   * @since 0.3.0
   */
  readonly steps?: StepsReport | undefined
}

/**
 * An export run could not complete (`cause`: the underlying value, when there is one).
 *
 * - `InvalidOptions`: `since`, `batchSize`, `concurrency` or `verify` is not valid (exit code 2).
 * - `InvalidRecords`: an invalid record was met with `onInvalid: "fail"`; the message names it.
 * - `Inconsistent`: the API's answers for one instant never agreed with its `total`.
 *
 * @since 0.1.0
 */
export const ExportError = exportError.ExportError

/**
 * @since 0.1.0
 */
export type ExportError = exportError.ExportError

/**
 * The key of the state of an export stream: a stable, readable form of its filters
 * (`all`, or `integration=slack&status=FAILED`).
 *
 * @since 0.1.0
 */
export const streamKey: (filters?: Filters) => string = internal.streamKey

/**
 * The default look-back for a longest run seen of `longestRunMs`.
 *
 * @since 0.1.0
 */
export const defaultLookback: (longestRunMs: number) => Duration.Duration = internal.defaultLookback

/**
 * What a run would read, before it starts: its range (from the stored high-water mark minus the
 * look-back, or `since`, or the retention), the cost plan of that range (list pages, and with
 * `steps` the step requests, an estimate: see `CostPlan.steps`), and the executions already
 * waiting in the sink's step backlog (each costs at least one more request).
 *
 * @since 0.3.0
 */
export interface RunPlan {
  readonly from: string
  readonly to: string
  readonly cost: CostPlan
  readonly backlog: number
}

/**
 * Plans a run without writing anything: one request (two with `steps`, for the failed count).
 *
 * @example
 * ```ts
 * import * as Exporter from "@taskhistory/export/Exporter"
 * const plan = yield* Exporter.plan({ steps: "failed" })
 * console.log(plan.cost.requests, plan.cost.steps?.requests, plan.backlog)
 * ```
 *
 * @since 0.3.0
 */
export const plan: (
  options?: RunOptions
) => Effect.Effect<RunPlan, ExportError | RequestError | SinkError, TaskHistoryClient | Sink> = internal.plan

/**
 * Runs one export: reads the range, writes batches, moves the high-water mark in the last one.
 *
 * @example
 * ```ts
 * import * as Exporter from "@taskhistory/export/Exporter"
 * const report = yield* Exporter.run({ filters: { status: "FAILED" }, since: "2026-09-01" })
 * ```
 *
 * @since 0.1.0
 */
export const run: (
  options?: RunOptions
) => Effect.Effect<RunReport, ExportError | RequestError | SinkError, TaskHistoryClient | Sink> = internal.run
