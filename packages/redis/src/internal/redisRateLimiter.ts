import { createHash, randomUUID } from "node:crypto"
import type { RateLimiterShape } from "@taskhistory/core/RateLimiter"
import type { RateLimit, TaskHistoryConfigShape } from "@taskhistory/core/TaskHistoryConfig"
import { RateLimiterUnavailable } from "@taskhistory/core/TaskHistoryError"
import * as TaskHistoryMetrics from "@taskhistory/core/TaskHistoryMetrics"
import { Clock, Deferred, Duration, Effect, Either, Fiber, Redacted, Ref, type Scope } from "effect"
import { Redis } from "ioredis"
import { RedisLimiterError } from "../RedisLimiterError.js"
import * as Scripts from "./scripts.js"

/** Options of `make` / `layer` (see the public module). */
export interface Options {
  readonly url: Redacted.Redacted<string>
  readonly rate: RateLimit
  readonly keyPrefix?: string | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
}

export const defaultKeyPrefix = "taskhistory:ratelimit"
export const defaultRequestTimeout = Duration.seconds(60)

/** Retries of one Redis call before the limiter gives up (delays 100 ms, doubling, capped at 2 s). */
const maxRetries = 6
const retryDelay = (attempt: number) => Duration.millis(Math.min(2000, 100 * 2 ** attempt))

const messageOf = (u: unknown): string => (u instanceof Error ? u.message : String(u))

interface Target {
  /** scheme://host:port/db, no credentials */
  readonly display: string
  /** Removes every credential of the URL from a text. */
  readonly scrub: (text: string) => string
}

const parseTarget = (url: Redacted.Redacted<string>): Either.Either<Target, RedisLimiterError> => {
  const raw = Redacted.value(url).trim()
  const parsed = Either.try(() => new URL(raw))
  if (Either.isLeft(parsed)) {
    return Either.left(new RedisLimiterError({ reason: "InvalidUrl" }))
  }
  const u = parsed.right
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    return Either.left(
      new RedisLimiterError({
        reason: "InvalidUrl",
        detail: `unsupported scheme ${JSON.stringify(u.protocol)}`
      })
    )
  }
  const decode = (s: string) =>
    Either.getOrElse(
      Either.try(() => decodeURIComponent(s)),
      () => s
    )
  const secrets = [raw, u.password, decode(u.password), u.username, decode(u.username)]
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length)
  const path = u.pathname === "/" ? "" : u.pathname
  // The port always shown, so that a message says which server failed.
  const port = u.port === "" ? "6379" : u.port
  return Either.right({
    display: `${u.protocol}//${u.hostname}:${port}${path}`,
    scrub: (text) => secrets.reduce((acc, secret) => acc.split(secret).join("<redacted>"), text)
  })
}

/** The key prefix shared by every process that uses the same project on the same API. */
export const keyPrefixFor = (projectId: string, baseUrl: string): string =>
  `taskhistory:ratelimit:${createHash("sha256").update(`${baseUrl}\n${projectId}`).digest("hex").slice(0, 24)}`

const connect = (
  url: Redacted.Redacted<string>,
  target: Target,
  connectionName: string
): Effect.Effect<Redis, RedisLimiterError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      let lastError = ""
      const unavailable = (u: unknown) =>
        new RedisLimiterError({
          reason: "Unavailable",
          target: target.display,
          detail: target.scrub(lastError === "" ? messageOf(u) : lastError)
        })
      return Effect.try({
        try: () =>
          new Redis(Redacted.value(url).trim(), {
            lazyConnect: true,
            connectionName,
            connectTimeout: 5000,
            commandTimeout: 5000,
            maxRetriesPerRequest: 2
          }),
        catch: (u) => new RedisLimiterError({ reason: "InvalidUrl", detail: target.scrub(messageOf(u)) })
      }).pipe(
        Effect.tap((redis) =>
          // ioredis reports connection problems as events; keep the last one for the error message.
          Effect.sync(() =>
            redis.on("error", (e: unknown) => {
              lastError = messageOf(e)
            })
          )
        ),
        Effect.flatMap((redis) =>
          Effect.tryPromise({ try: () => redis.connect(), catch: unavailable }).pipe(
            Effect.tapError(() => Effect.sync(() => redis.disconnect())),
            Effect.as(redis)
          )
        )
      )
    }),
    (redis) =>
      Effect.tryPromise(() => redis.quit()).pipe(
        Effect.timeout(Duration.seconds(2)),
        Effect.ignore,
        Effect.zipRight(Effect.sync(() => redis.disconnect()))
      )
  )

/**
 * A run-time failure of the limiter, after its retries, as the core's error: the request is not
 * sent (going on without the shared budget would break it). The Redis error is its `cause`.
 */
const unavailable = (error: RedisLimiterError): RateLimiterUnavailable =>
  new RateLimiterUnavailable({ detail: error.message, cause: error })

/** A FIFO mutex (a queue of deferreds): the head waiter is the only one that talks to Redis. */
const makeFifoLock = Effect.gen(function* () {
  const first = yield* Deferred.make<void>()
  yield* Deferred.succeed(first, undefined)
  const tail = yield* Ref.make(first)
  return <A, E, R>(
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> =>
    Effect.gen(function* () {
      const mine = yield* Deferred.make<void>()
      const previous = yield* Ref.getAndSet(tail, mine)
      // Interrupted while queued: our successor waits for our predecessor instead.
      yield* restore(Deferred.await(previous)).pipe(
        Effect.onInterrupt(() => Deferred.completeWith(mine, Deferred.await(previous)))
      )
      return yield* effect.pipe(Effect.ensuring(Deferred.succeed(mine, undefined)))
    })
})

export const make = (options: Options): Effect.Effect<RateLimiterShape, RedisLimiterError, Scope.Scope> =>
  Effect.gen(function* () {
    const { limit } = options.rate
    const windowMs = Math.ceil(Duration.toMillis(options.rate.window))
    const timeoutMs = Math.ceil(
      Duration.toMillis(Duration.decode(options.requestTimeout ?? defaultRequestTimeout))
    )
    if (!Number.isSafeInteger(limit) || limit < 1) {
      return yield* new RedisLimiterError({
        reason: "InvalidOptions",
        detail: `limit ${limit} is not a positive integer`
      })
    }
    if (!Number.isFinite(windowMs) || windowMs < 1) {
      return yield* new RedisLimiterError({
        reason: "InvalidOptions",
        detail: "the window must be at least 1 ms"
      })
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1) {
      return yield* new RedisLimiterError({
        reason: "InvalidOptions",
        detail: "requestTimeout must be at least 1 ms"
      })
    }
    const target = yield* parseTarget(options.url)
    const prefix = options.keyPrefix ?? defaultKeyPrefix
    // Shown by CLIENT LIST: which budget a connection serves.
    const redis = yield* connect(
      options.url,
      target,
      `taskhistory-ratelimit:${prefix.replace(/[^\w:.-]/g, "_")}`
    )
    const keys = [`{${prefix}}:inflight`, `{${prefix}}:done`, `{${prefix}}:pause`]
    const leaseMs = timeoutMs + windowMs
    const renewEvery = Duration.millis(Math.max(1, Math.floor(timeoutMs / 2)))
    const token = randomUUID()
    let sequence = 0

    const call = (script: Scripts.Script, args: ReadonlyArray<string | number>) =>
      Effect.tryPromise({
        try: () =>
          redis
            .evalsha(script.sha, keys.length, ...keys, ...args)
            .catch((e: unknown) =>
              messageOf(e).startsWith("NOSCRIPT")
                ? redis.eval(script.lua, keys.length, ...keys, ...args)
                : Promise.reject(e)
            ),
        catch: (u) =>
          new RedisLimiterError({
            reason: "CommandFailed",
            target: target.display,
            detail: target.scrub(`${script.name}: ${messageOf(u)}`)
          })
      }).pipe(
        Effect.flatMap((reply) =>
          typeof reply === "number"
            ? Effect.succeed(reply)
            : Effect.fail(
                new RedisLimiterError({
                  reason: "CommandFailed",
                  target: target.display,
                  detail: `${script.name}: unexpected reply`
                })
              )
        )
      )

    /**
     * Runs a script, retrying failed calls. The call itself runs uninterruptibly (so a slot the
     * server granted is never lost); the delays between attempts are interruptible via `restore`.
     */
    const callRetrying = (
      restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
      script: Scripts.Script,
      args: ReadonlyArray<string | number>,
      attempt = 0
    ): Effect.Effect<number, RedisLimiterError> =>
      Effect.uninterruptible(call(script, args)).pipe(
        Effect.catchAll((error) =>
          attempt >= maxRetries
            ? Effect.fail(error)
            : Effect.logWarning("shared rate limit: Redis call failed, retrying").pipe(
                Effect.annotateLogs({ error: error.message }),
                Effect.zipRight(restore(Effect.sleep(retryDelay(attempt)))),
                Effect.zipRight(callRetrying(restore, script, args, attempt + 1))
              )
        )
      )

    const localPauseUntil = yield* Ref.make(0)
    const lock = yield* makeFifoLock

    const waitLocalPause = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const until = yield* Ref.get(localPauseUntil)
      if (until > now) yield* Effect.sleep(Duration.millis(until - now))
    })

    const acquire = (
      restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
      id: string
    ): Effect.Effect<void, RateLimiterUnavailable> =>
      restore(waitLocalPause).pipe(
        Effect.zipRight(callRetrying(restore, Scripts.acquire, [id, limit, windowMs, leaseMs])),
        Effect.mapError(unavailable),
        Effect.flatMap((wait) =>
          wait <= 0
            ? Effect.void
            : Effect.logDebug("shared rate limit: waiting").pipe(
                Effect.annotateLogs({ waitMs: wait }),
                Effect.zipRight(restore(Effect.sleep(Duration.millis(wait)))),
                Effect.zipRight(Effect.suspend(() => acquire(restore, id)))
              )
        )
      )

    const release = (id: string) =>
      callRetrying((effect) => effect, Scripts.release, [id, windowMs]).pipe(
        Effect.catchAll((error) =>
          // The lease still counts the request until it ends: safe, only slower.
          Effect.logWarning("shared rate limit: could not release a slot; its lease will expire").pipe(
            Effect.annotateLogs({ error: error.message })
          )
        )
      )

    const renewLoop = (id: string) =>
      Effect.sleep(renewEvery).pipe(
        Effect.zipRight(call(Scripts.renew, [id, leaseMs])),
        Effect.catchAll((error) =>
          Effect.logWarning("shared rate limit: could not renew a lease").pipe(
            Effect.annotateLogs({ error: error.message })
          )
        ),
        Effect.forever
      )

    const withPermit = <A, E, R>(
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | RateLimiterUnavailable, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const id = `${token}:${sequence++}`
          const start = yield* Clock.currentTimeMillis
          yield* lock(restore, acquire(restore, id)).pipe(Effect.withSpan("RedisRateLimiter.acquire"))
          const waited = (yield* Clock.currentTimeMillis) - start
          yield* TaskHistoryMetrics.recordLimiterWait(waited)
          const renewal = yield* Effect.forkDaemon(Effect.interruptible(renewLoop(id)))
          return yield* restore(effect).pipe(
            Effect.ensuring(Fiber.interrupt(renewal).pipe(Effect.zipRight(release(id))))
          )
        })
      )

    const pause = (duration: Duration.Duration): Effect.Effect<void> =>
      Effect.gen(function* () {
        const ms = Math.ceil(Duration.toMillis(duration))
        if (!Number.isFinite(ms) || ms <= 0) return
        const now = yield* Clock.currentTimeMillis
        yield* Ref.update(localPauseUntil, (until) => Math.max(until, now + ms))
        yield* callRetrying((effect) => effect, Scripts.pause, [ms]).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(
              "shared rate limit: could not share a pause (applied in this process only)"
            ).pipe(Effect.annotateLogs({ error: error.message }))
          )
        )
      })

    const inWindow: Effect.Effect<number, RateLimiterUnavailable> = callRetrying(
      (effect) => effect,
      Scripts.count,
      []
    ).pipe(Effect.mapError(unavailable))

    return { withPermit, pause, inWindow } satisfies RateLimiterShape
  })

export const makeFromConfig = (
  config: TaskHistoryConfigShape
): Effect.Effect<RateLimiterShape, RedisLimiterError, Scope.Scope> =>
  config.rateLimitRedis._tag === "None"
    ? Effect.fail(new RedisLimiterError({ reason: "NotConfigured" }))
    : make({
        url: config.rateLimitRedis.value,
        rate: config.rateLimit,
        keyPrefix: keyPrefixFor(config.projectId, config.baseUrl),
        requestTimeout: config.requestTimeout
      })
