/**
 * The error of the Redis-backed rate limiter. It names the Redis server by scheme, host, port and
 * database only: the URL's user name and password never appear in it.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * Why the Redis limiter failed.
 *
 * - `InvalidUrl`: the Redis URL could not be parsed, or is not `redis://` / `rediss://`.
 * - `InvalidOptions`: a rate limit or timeout that is not positive.
 * - `NotConfigured`: `layerFromConfig` was used without a Redis URL in the configuration.
 * - `Unavailable`: the server could not be reached (refused, timed out, authentication failed).
 * - `CommandFailed`: a script call failed or returned an unexpected reply.
 *
 * @since 0.1.0
 */
export type Reason = "InvalidUrl" | "InvalidOptions" | "NotConfigured" | "Unavailable" | "CommandFailed"

/**
 * @since 0.1.0
 */
export class RedisLimiterError extends Data.TaggedError("RedisLimiterError")<{
  readonly reason: Reason
  /** The server as `redis://host:port/db`, without credentials, when known. */
  readonly target?: string | undefined
  /** What went wrong, with any credential removed. */
  readonly detail?: string | undefined
}> {
  override get message() {
    const where = this.target === undefined ? "" : ` (${this.target})`
    const detail = this.detail === undefined || this.detail === "" ? "" : `: ${this.detail}`
    const messages: Record<Reason, string> = {
      InvalidUrl: `invalid Redis URL for the shared rate limit${detail}: expected redis://[user:password@]host[:port][/db] or rediss://...`,
      InvalidOptions: `invalid Redis rate limiter options${detail}`,
      NotConfigured:
        "no Redis URL for the shared rate limit: set PARAGON_RATE_LIMIT_REDIS or --rate-limit-redis",
      Unavailable: `cannot reach the Redis server of the shared rate limit${where}${detail}`,
      CommandFailed: `a Redis command of the shared rate limit failed${where}${detail}`
    }
    return messages[this.reason]
  }
}
