/**
 * The options of a run, checked once: the stream's key (from its filters, which come validated),
 * batch size, verification, `since`, the look-back.
 *
 * @internal
 */
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import { PAGE_SIZE } from "@taskhistory/core/WorkflowExecution"
import { Duration, Effect, Option } from "effect"
import type { Filters, RunOptions } from "../Exporter.js"
import { ExportError } from "./exportError.js"
import * as L from "./ledger.js"
import type { StepSettings } from "./stepFetch.js"

/**
 * Windows read at once by default: 8 requests in flight hide the latency of a distant API (at
 * 300 ms a request, a first export of 1,000 pages takes ~40 s instead of 5 min) while the
 * limiter keeps the budget; more only queue at the limiter.
 */
export const DEFAULT_CONCURRENCY = 8

/** Paragon keeps executions 90 days by default. */
export const retentionMs = 90 * L.DAY

/** @internal */
export const streamKey = (filters: Filters = {}): string => {
  const parts: Array<string> = []
  for (const key of ExecutionQuery.selectionFields) {
    const value = filters[key]
    if (value !== undefined) parts.push(`${key}=${encodeURIComponent(value)}`)
  }
  return parts.length === 0 ? "all" : parts.join("&")
}

/** @internal */
export const defaultLookback = (longestRunMs: number): Duration.Duration =>
  Duration.millis(Math.min(retentionMs, Math.max(L.HOUR, 2 * longestRunMs)))

/** The options of a run, checked. */
export interface Settings {
  readonly query: ExecutionQuery.Selection
  readonly key: string
  readonly pagesPerBatch: number
  /** Windows of the range read at once. */
  readonly concurrency: number
  readonly verify: "auto" | "off"
  readonly since: number | undefined
  readonly onInvalid: "quarantine" | "fail"
  readonly lookback: Duration.DurationInput | undefined
  /** Step executions (`steps: "failed" | "all"`), or undefined for none. */
  readonly steps: StepSettings | undefined
}

/** Executions whose steps are read at once. */
export const STEP_CONCURRENCY = 8

/** The default share of the rate limit step requests may take while list reads are pending. */
export const DEFAULT_STEPS_BUDGET = 0.5

const invalidOption = (detail: string) => new ExportError({ reason: "InvalidOptions", detail })

/** The filters come validated (an `ExecutionQuery.Selection`); the engine's own options are checked here. */
export const settingsOf = (options: RunOptions): Effect.Effect<Settings, ExportError> =>
  Effect.gen(function* () {
    const query = ExecutionQuery.selection(options.filters ?? {})
    const batchSize = options.batchSize ?? 500
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      return yield* invalidOption(`batchSize ${batchSize}: expected a positive integer`)
    }
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      return yield* invalidOption(`concurrency ${concurrency}: expected an integer from 1 to 64`)
    }
    const verify = options.verify ?? "auto"
    if (verify !== "auto" && verify !== "off") {
      return yield* invalidOption(`verify ${JSON.stringify(verify)}: expected "auto" or "off"`)
    }
    let since: number | undefined
    if (options.since !== undefined) {
      const normalized = ExecutionQuery.normalizeDate(options.since)
      if (normalized === undefined) {
        return yield* invalidOption(`since ${JSON.stringify(options.since)}: expected an ISO 8601 date`)
      }
      since = Date.parse(normalized)
    }
    const stepScope = options.steps ?? "none"
    if (stepScope !== "none" && stepScope !== "failed" && stepScope !== "all") {
      return yield* invalidOption(`steps ${JSON.stringify(stepScope)}: expected "none", "failed" or "all"`)
    }
    const share = options.stepsBudget ?? DEFAULT_STEPS_BUDGET
    if (typeof share !== "number" || !(share > 0 && share <= 1)) {
      return yield* invalidOption(
        `stepsBudget ${share}: expected a fraction of the rate limit, above 0 and at most 1`
      )
    }
    const maxRequests = options.stepsMaxRequests
    if (maxRequests !== undefined && (!Number.isSafeInteger(maxRequests) || maxRequests < 1)) {
      return yield* invalidOption(`stepsMaxRequests ${maxRequests}: expected a positive integer`)
    }
    const deadline =
      options.stepsDeadline === undefined ? undefined : Duration.decodeUnknown(options.stepsDeadline)
    if (deadline !== undefined && (Option.isNone(deadline) || !Duration.isFinite(deadline.value))) {
      return yield* invalidOption(
        `stepsDeadline ${String(options.stepsDeadline)}: expected a finite duration`
      )
    }
    return {
      steps:
        stepScope === "none"
          ? undefined
          : {
              scope: stepScope,
              share,
              maxRequests,
              concurrency: STEP_CONCURRENCY,
              deadlineMs: deadline === undefined ? undefined : Duration.toMillis(Option.getOrThrow(deadline))
            },
      query,
      key: streamKey(query),
      pagesPerBatch: Math.max(1, Math.ceil(batchSize / PAGE_SIZE)),
      concurrency,
      verify,
      since,
      onInvalid: options.onInvalid ?? "quarantine",
      lookback: options.lookback
    }
  })
