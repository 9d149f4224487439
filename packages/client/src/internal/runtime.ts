/**
 * The Effect side of a `TaskHistory` instance: its Layer (the core's client over the lean undici
 * HTTP client, with one rate limiter per instance, in memory or through Redis), and how Effects
 * and Streams are run as Promises and async iterables that stop on an `AbortSignal`.
 *
 * @internal
 */
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
import {
  Cause,
  Chunk,
  Effect,
  Exit,
  FiberId,
  Layer,
  type ManagedRuntime,
  Option,
  Scope,
  Stream
} from "effect"
import { ClosedError, RateLimiterError } from "../TaskHistoryError.js"
import { fromCause } from "./errors.js"

/** What the instance's runtime provides. */
export type Services = TaskHistoryClient.TaskHistoryClient

const missingRedis =
  "redisUrl needs the optional peer dependency @taskhistory/redis (with ioredis): npm i @taskhistory/redis"

/** The shared limiter of `@taskhistory/redis`, loaded only when a `redisUrl` is given. */
const redisLimiter: Layer.Layer<
  RateLimiter.RateLimiter,
  RateLimiterError,
  TaskHistoryConfig.TaskHistoryConfig
> = Layer.unwrapEffect(
  Effect.tryPromise({
    try: () => import("@taskhistory/redis/RedisRateLimiter"),
    catch: (cause) => new RateLimiterError(missingRedis, cause)
  }).pipe(
    Effect.map((Redis) =>
      Redis.layerFromConfig.pipe(Layer.mapError((error) => new RateLimiterError(error.message, error)))
    )
  )
)

/** The Layer of one instance, from validated settings. */
export const layer = (
  config: TaskHistoryConfig.TaskHistoryConfigShape
): Layer.Layer<Services, RateLimiterError> => {
  const Config = Layer.succeed(TaskHistoryConfig.TaskHistoryConfig, config)
  const Limiter = Option.isSome(config.rateLimitRedis) ? redisLimiter : RateLimiter.layerFromConfig
  return TaskHistoryClient.layer.pipe(
    Layer.provide(Layer.merge(Limiter, UndiciHttpClient.layer)),
    Layer.provide(Config)
  )
}

/** Runs Effects and Streams on one runtime, until `close`. */
export interface Runner {
  readonly run: <A>(effect: Effect.Effect<A, unknown, Services>, signal?: AbortSignal) => Promise<A>
  /** `stream()` is called on the first `next()`: what it throws rejects that `next()`. */
  readonly iterate: <A>(
    stream: () => Stream.Stream<A, unknown, Services>,
    signal?: AbortSignal
  ) => AsyncGenerator<A, void, undefined>
  readonly close: () => Promise<void>
}

const abortReason = (signal: AbortSignal): unknown => signal.reason

/** A runner over `runtime`. */
export const makeRunner = (runtime: ManagedRuntime.ManagedRuntime<Services, RateLimiterError>): Runner => {
  let closed = false

  const settle = <A>(exit: Exit.Exit<A, unknown>, signal: AbortSignal | undefined): A => {
    if (Exit.isSuccess(exit)) return exit.value
    if (signal?.aborted && Cause.isInterruptedOnly(exit.cause)) throw abortReason(signal)
    throw fromCause(exit.cause)
  }

  const run = async <A>(effect: Effect.Effect<A, unknown, Services>, signal?: AbortSignal): Promise<A> => {
    if (closed) throw new ClosedError()
    if (signal?.aborted) throw abortReason(signal)
    return settle(await runtime.runPromiseExit(effect, signal === undefined ? undefined : { signal }), signal)
  }

  // One Promise per chunk (a page of records), not per record: the records of a chunk are handed
  // out synchronously from the generator.
  async function* iterate<A>(
    makeStream: () => Stream.Stream<A, unknown, Services>,
    signal?: AbortSignal
  ): AsyncGenerator<A, void, undefined> {
    if (closed) throw new ClosedError()
    if (signal?.aborted) throw abortReason(signal)
    const stream = makeStream()
    const scope = Effect.runSync(Scope.make())
    // Aborting stops the requests in flight at once, also while the caller is busy between two
    // records (the stream fetches pages ahead of it).
    const onAbort = () => {
      Effect.runFork(Scope.close(scope, Exit.interrupt(FiberId.none)))
    }
    signal?.addEventListener("abort", onAbort, { once: true })
    try {
      const pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<unknown>, Services> = await run(
        Scope.extend(Stream.toPull(stream), scope),
        signal
      )
      for (;;) {
        const exit = await runtime.runPromiseExit(pull, signal === undefined ? undefined : { signal })
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          // `Option.none()`: the stream ended (a failure of the runtime's Layer is not an Option).
          if (Option.isSome(failure) && Option.isOption(failure.value) && Option.isNone(failure.value)) return
          settle(
            Exit.failCause(Cause.map(exit.cause, (e) => (Option.isOption(e) ? Option.getOrUndefined(e) : e))),
            signal
          )
          return
        }
        const records = Chunk.toReadonlyArray(exit.value)
        for (let i = 0; i < records.length; i++) {
          yield records[i] as A
          if (signal?.aborted) throw abortReason(signal)
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort)
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }

  const close = async () => {
    if (closed) return
    closed = true
    await runtime.dispose()
  }

  return { run, iterate, close }
}
