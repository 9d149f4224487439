/**
 * The client-side rate limit: at most N requests in ANY window of length W (a sliding window),
 * shared by every fiber that uses the service, first come first served. A 429 from the server
 * pauses every caller until its Retry-After has passed.
 *
 * The service is an interface with several Layers: `layerMemory` (one process) here, a Redis
 * implementation (shared by processes) elsewhere. Callers only see `withPermit` and `pause`; a
 * limiter that cannot grant a request fails with the core's `RateLimiterUnavailable`.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer } from "effect"
import * as internal from "./internal/rateLimiter.js"
import { type RateLimit, TaskHistoryConfig } from "./TaskHistoryConfig.js"
import type { RateLimiterUnavailable } from "./TaskHistoryError.js"

/**
 * @since 0.1.0
 */
export interface RateLimiterShape {
  /**
   * Runs `effect` as one request: waits for a slot (FIFO), runs it, and counts the request in
   * the window until W after it completed (the server may have counted it at any moment between
   * sending and the answer, so the slot is held for W after the answer). Fails with
   * `RateLimiterUnavailable`, without running `effect`, when a shared limiter cannot grant a
   * slot (the in-memory limiter never does).
   */
  readonly withPermit: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RateLimiterUnavailable, R>
  /**
   * Pauses every caller (present and future) for `duration` from now (a 429's Retry-After). A
   * shared limiter that cannot share the pause still applies it in this process.
   */
  readonly pause: (duration: Duration.Duration) => Effect.Effect<void>
  /** Requests currently counted in the window (in flight or completed within W). */
  readonly inWindow: Effect.Effect<number, RateLimiterUnavailable>
}

/**
 * The in-memory limiter: a {@link RateLimiterShape} that never fails.
 *
 * @since 0.1.0
 */
export interface MemoryRateLimiter extends RateLimiterShape {
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly inWindow: Effect.Effect<number>
}

/**
 * @since 0.1.0
 */
export class RateLimiter extends Context.Tag("@taskhistory/core/RateLimiter")<
  RateLimiter,
  RateLimiterShape
>() {}

/**
 * The wait used after a 429 that carried no usable Retry-After.
 *
 * @since 0.1.0
 */
export const defaultPause = Duration.seconds(30)

/**
 * Builds an in-memory sliding-log limiter: at most `rate.limit` requests in any window of
 * `rate.window`, where a request holds its slot from the moment it is granted until
 * `rate.window` after it completed. Callers are served first come, first served; `pause`
 * blocks every caller until now + the duration (a later pause extends it, never shortens it).
 * Time is read from Effect's `Clock`, so `TestClock` drives it.
 *
 * Memory: one timestamp per request of the last window.
 *
 * @example
 * const limiter = yield* RateLimiter.makeMemory({ limit: 40, window: Duration.seconds(4) })
 * yield* limiter.withPermit(sendRequest)
 *
 * @since 0.1.0
 */
export const makeMemory: (rate: RateLimit) => Effect.Effect<MemoryRateLimiter> = internal.makeMemory

/**
 * An in-memory limiter for one process.
 *
 * @since 0.1.0
 */
export const layerMemory = (rate: RateLimit): Layer.Layer<RateLimiter> =>
  Layer.effect(RateLimiter, makeMemory(rate))

/**
 * An in-memory limiter with the configured rate limit (`PARAGON_RATE_LIMIT`, `--rate-limit`).
 *
 * @since 0.1.0
 */
export const layerFromConfig: Layer.Layer<RateLimiter, never, TaskHistoryConfig> = Layer.effect(
  RateLimiter,
  Effect.flatMap(TaskHistoryConfig, (config) => makeMemory(config.rateLimit))
)
