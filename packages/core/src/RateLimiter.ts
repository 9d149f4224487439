/**
 * The client-side rate limit: at most N requests in ANY window of length W (a sliding window),
 * shared by every fiber that uses the service, first come first served. A 429 from the server
 * pauses every caller until its Retry-After has passed.
 *
 * The service is an interface with several Layers: `layerMemory` (one process) here, a Redis
 * implementation (shared by processes) elsewhere. Callers only see `withPermit` and `pause`.
 *
 * @since 0.1.0
 */
import { Context, Duration, type Effect } from "effect"

/**
 * @since 0.1.0
 */
export interface RateLimiterShape {
  /**
   * Runs `effect` as one request: waits for a slot (FIFO), runs it, and counts the request in
   * the window until W after it completed (the server may have counted it at any moment between
   * sending and the answer, so the slot is held for W after the answer).
   */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Pauses every caller (present and future) for `duration` from now (a 429's Retry-After). */
  readonly pause: (duration: Duration.Duration) => Effect.Effect<void>
  /** Requests currently counted in the window (in flight or completed within W). */
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
