/**
 * The metrics of the client, for exporters (Prometheus, OpenTelemetry) to read. Every value is
 * in base units (seconds), every counter ends in `_total`, and the only tags are bounded ones
 * (`operation`, `code`: never an id).
 *
 * @since 0.1.0
 */
import type { Effect, Metric } from "effect"
import * as internal from "./internal/metrics.js"

/**
 * Counter `taskhistory_api_requests_total`: requests sent (every attempt, retries included),
 * tagged `operation` (`list`, `get`, `step`, `replay`) and `code` (the HTTP status of the answer,
 * or `timeout`, `refused`, `reset`, `network` when there was none). Failed requests are counted
 * too. The untagged counter itself is never incremented: read {@link requestsSent} for the total.
 *
 * @since 0.1.0
 */
export const requests = internal.requests

/**
 * The operations of the client, as the `operation` tag of {@link requests}.
 *
 * @since 0.2.0
 */
export type Operation = internal.Operation

/**
 * The counter of {@link requests} for one operation and code.
 *
 * @since 0.2.0
 */
export const requestCounter: (operation: Operation, code: string) => Metric.Metric.Counter<number> =
  internal.requestCounter

/**
 * Requests sent by this process so far (the sum of {@link requests} over its tags).
 *
 * @since 0.2.0
 */
export const requestsSent: Effect.Effect<number> = internal.requestsSent

/**
 * Counter `taskhistory_api_retries_total`: attempts that were retries.
 *
 * @since 0.1.0
 */
export const retries = internal.retries

/**
 * Counter `taskhistory_api_rate_limited_total`: 429 answers received.
 *
 * @since 0.1.0
 */
export const rateLimited = internal.rateLimited

/**
 * Histogram `taskhistory_rate_limit_wait_seconds`: time each request waited for the rate
 * limiter, in seconds.
 *
 * @since 0.1.0
 */
export const limiterWait = internal.limiterWait

/**
 * Counter `taskhistory_rate_limit_wait_seconds_total`: total time waited for the rate limiter,
 * in seconds.
 *
 * @since 0.1.0
 */
export const limiterWaitTotal = internal.limiterWaitTotal

/**
 * Records one wait for the limiter of `ms` milliseconds in {@link limiterWait} and
 * {@link limiterWaitTotal} (in seconds). For limiters outside the core (Redis).
 *
 * @since 0.2.0
 */
export const recordLimiterWait: (ms: number) => Effect.Effect<void> = internal.recordLimiterWait
