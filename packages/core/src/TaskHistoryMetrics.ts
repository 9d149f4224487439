/**
 * The metrics of the client, for exporters (Prometheus, OpenTelemetry) to read.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/metrics.js"

/**
 * Counter: requests sent (every attempt, retries included).
 *
 * @since 0.1.0
 */
export const requests = internal.requests

/**
 * Counter: attempts that were retries.
 *
 * @since 0.1.0
 */
export const retries = internal.retries

/**
 * Counter: 429 answers received.
 *
 * @since 0.1.0
 */
export const rateLimited = internal.rateLimited

/**
 * Histogram: time each request waited for the rate limiter, in milliseconds.
 *
 * @since 0.1.0
 */
export const limiterWait = internal.limiterWait

/**
 * Counter: total time waited for the rate limiter, in milliseconds.
 *
 * @since 0.1.0
 */
export const limiterWaitTotal = internal.limiterWaitTotal
