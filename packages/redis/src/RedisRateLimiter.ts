/**
 * A Redis-backed {@link RateLimiter} from `@taskhistory/core`: every process that points at the
 * same Redis server and key prefix shares one budget of at most N requests in ANY window W.
 *
 * How it works: two sorted sets hold the requests that count (in flight, with a lease that ends
 * `requestTimeout + W` after acquisition or the last renewal, so a crashed process cannot hold a
 * slot forever; and completed, until W after completion). One Lua script acquires a slot
 * atomically, with Redis `TIME` as the only clock, or returns how long to wait; waiters sleep
 * exactly that long, queued first come first served in their process. A 429 `pause` is stored in
 * Redis and blocks every process until it ends (a pause extends, never shortens, another). Every
 * key expires, so nothing is left behind. The Redis URL is a secret: it is never logged and never
 * put in an error.
 *
 * If Redis stays unreachable or keeps failing at run time (after a few retries, about 5 s),
 * `withPermit` fails with the core's `RateLimiterUnavailable` (exit code 6 in the binaries), its
 * `cause` the {@link RedisLimiterError}, without running the request: going on without the shared
 * budget would break the guarantee. `inWindow` fails the same way; a `pause` that cannot be shared
 * is applied in this process and logged, and a slot that cannot be released counts until its
 * lease ends.
 *
 * @since 0.1.0
 */
import { RateLimiter, type RateLimiterShape } from "@taskhistory/core/RateLimiter"
import { type RateLimit, TaskHistoryConfig } from "@taskhistory/core/TaskHistoryConfig"
import { type Duration, Effect, Layer, type Redacted, type Scope } from "effect"
import * as internal from "./internal/redisRateLimiter.js"
import type { RedisLimiterError } from "./RedisLimiterError.js"

/**
 * The error of the limiter (also in `@taskhistory/redis/RedisLimiterError`).
 *
 * @since 0.1.0
 */
export { RedisLimiterError } from "./RedisLimiterError.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS). A secret. */
  readonly url: Redacted.Redacted<string>
  /** The budget: at most `limit` requests in any window of length `window`. */
  readonly rate: RateLimit
  /** Keys live under `{<keyPrefix>}:`; processes share a budget when they share the prefix. Default `taskhistory:ratelimit`. */
  readonly keyPrefix?: string | undefined
  /** The longest a request may take; a slot's lease is `requestTimeout + W` (renewed while the request runs). Default 60 s. */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/**
 * The default key prefix of {@link layer}.
 *
 * @since 0.1.0
 */
export const defaultKeyPrefix: string = internal.defaultKeyPrefix

/**
 * The key prefix {@link layerFromConfig} uses: a hash of the base URL and project id (never the
 * API key), so processes that use the same project share a budget and others do not.
 *
 * @since 0.1.0
 */
export const keyPrefixFor: (projectId: string, baseUrl: string) => string = internal.keyPrefixFor

/**
 * Connects to Redis (failing with `Unavailable` when it cannot) and builds the limiter. The
 * connection closes with the scope.
 *
 * @example
 * ```ts
 * const limiter = yield* RedisRateLimiter.make({ url: Redacted.make("redis://127.0.0.1:6379"), rate: { limit: 40, window: Duration.seconds(4) } })
 * yield* limiter.withPermit(callTheApi)
 * ```
 *
 * @since 0.1.0
 */
export const make: (options: Options) => Effect.Effect<RateLimiterShape, RedisLimiterError, Scope.Scope> =
  internal.make

/**
 * The limiter as a layer, from plain options.
 *
 * @example
 * ```ts
 * const RateLimiterLive = RedisRateLimiter.layer({
 *   url: Redacted.make("redis://127.0.0.1:6379"),
 *   rate: { limit: 1000, window: Duration.minutes(10) }
 * })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<RateLimiter, RedisLimiterError> =>
  Layer.scoped(RateLimiter, internal.make(options))

/**
 * The limiter from the client configuration: `rateLimitRedis` (fails with `NotConfigured` when
 * absent), `rateLimit`, `requestTimeout`, and the key prefix {@link keyPrefixFor}.
 *
 * @since 0.1.0
 */
export const layerFromConfig: Layer.Layer<RateLimiter, RedisLimiterError, TaskHistoryConfig> = Layer.scoped(
  RateLimiter,
  Effect.flatMap(TaskHistoryConfig, internal.makeFromConfig)
)
