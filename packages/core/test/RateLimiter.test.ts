import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber, Layer, Option, TestClock } from "effect"
import * as RateLimiter from "../src/RateLimiter.js"
import * as TaskHistoryConfig from "../src/TaskHistoryConfig.js"

interface Interval {
  readonly id: number
  readonly granted: number
  readonly completed: number
}

/** Advances the TestClock in steps until `fiber` is done (bounded). */
const driveUntilDone = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput, maxSteps: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < maxSteps; i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

describe("RateLimiter.makeMemory", () => {
  it.effect("never more than N requests in any window W under many concurrent fibers", () =>
    Effect.gen(function* () {
      const limit = 5
      const windowMs = 10_000
      const limiter = yield* RateLimiter.makeMemory({ limit, window: Duration.millis(windowMs) })
      const intervals: Array<Interval> = []
      const request = (id: number) =>
        limiter.withPermit(
          Effect.gen(function* () {
            const granted = yield* Clock.currentTimeMillis
            // Requests of various lengths, some longer than the window.
            yield* Effect.sleep(Duration.millis(((id * 7919) % 13) * 1000))
            const completed = yield* Clock.currentTimeMillis
            intervals.push({ id, granted, completed })
          })
        )
      const ids = Array.from({ length: 40 }, (_, i) => i)
      const fiber = yield* Effect.fork(
        Effect.forEach(ids, request, { concurrency: "unbounded", discard: true })
      )
      yield* driveUntilDone(fiber, "5 seconds", 1000)

      expect(intervals).toHaveLength(ids.length)
      for (const a of intervals) {
        // Slots held at the moment `a` was granted: granted earlier (or now) and not yet W past completion.
        const held = intervals.filter((b) => b.granted <= a.granted && a.granted < b.completed + windowMs)
        expect(held.length).toBeLessThanOrEqual(limit)
        // Whenever the server counts each request (between grant and completion), any window of
        // length W holds at most N of them: check windows starting at every grant, counting by grant.
        const window = intervals.filter((b) => b.granted >= a.granted && b.granted < a.granted + windowMs)
        expect(window.length).toBeLessThanOrEqual(limit)
      }
      // The first N go at once.
      expect(intervals.filter((i) => i.granted === 0)).toHaveLength(limit)
    })
  )

  it.effect("sleeps exactly until the oldest completion leaves the window", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.makeMemory({ limit: 2, window: Duration.seconds(4) })
      yield* limiter.withPermit(Effect.void)
      yield* TestClock.adjust("1 second")
      yield* limiter.withPermit(Effect.void)
      expect(yield* limiter.inWindow).toBe(2)
      const third = yield* Effect.fork(limiter.withPermit(Clock.currentTimeMillis))
      yield* TestClock.adjust("2999 millis")
      expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(third)).toBe(4000)
      expect(yield* limiter.inWindow).toBe(2)
    })
  )

  it.effect("a slot is held until W after the request completed, also when all N are in flight", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.makeMemory({ limit: 2, window: Duration.seconds(5) })
      const gates = [yield* Deferred.make<void>(), yield* Deferred.make<void>()] as const
      const first = yield* Effect.fork(limiter.withPermit(Deferred.await(gates[0])))
      const second = yield* Effect.fork(limiter.withPermit(Deferred.await(gates[1])))
      yield* Effect.yieldNow()
      const third = yield* Effect.fork(limiter.withPermit(Clock.currentTimeMillis))
      yield* TestClock.adjust("30 seconds")
      expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
      yield* Deferred.succeed(gates[0], undefined)
      yield* Fiber.join(first)
      yield* TestClock.adjust("4999 millis")
      expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(third)).toBe(35_000)
      yield* Deferred.succeed(gates[1], undefined)
      yield* Fiber.join(second)
    })
  )

  it.effect("serves callers first come, first served", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.makeMemory({ limit: 1, window: Duration.seconds(1) })
      const order: Array<number> = []
      yield* limiter.withPermit(Effect.void)
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let i = 0; i < 10; i++) {
        fibers.push(
          yield* Effect.fork(
            limiter.withPermit(
              Effect.sync(() => {
                order.push(i)
              })
            )
          )
        )
        // Let the fiber reach the queue before the next one arrives.
        for (let y = 0; y < 5; y++) yield* Effect.yieldNow()
      }
      const all = yield* Effect.fork(Fiber.joinAll(fibers))
      yield* driveUntilDone(all, "250 millis", 100)
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    })
  )

  it.effect("a caller interrupted while queued gives up its place without blocking the others", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.makeMemory({ limit: 1, window: Duration.seconds(1) })
      yield* limiter.withPermit(Effect.void)
      const a = yield* Effect.fork(limiter.withPermit(Effect.succeed("a")))
      yield* Effect.yieldNow()
      const b = yield* Effect.fork(limiter.withPermit(Effect.succeed("b")))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(a)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(b)).toBe("b")
      expect(yield* limiter.inWindow).toBe(1)
    })
  )

  it.effect("pause blocks every caller until it ends, and a shorter pause does not shorten it", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.makeMemory({ limit: 100, window: Duration.seconds(1) })
      yield* limiter.pause(Duration.seconds(10))
      yield* limiter.pause(Duration.seconds(2))
      const fibers = yield* Effect.forEach([1, 2, 3], () =>
        Effect.fork(limiter.withPermit(Clock.currentTimeMillis))
      )
      yield* TestClock.adjust("9999 millis")
      for (const f of fibers) expect(Option.isNone(yield* Fiber.poll(f))).toBe(true)
      // A longer pause extends it.
      yield* limiter.pause(Duration.seconds(5))
      yield* TestClock.adjust("1 millis")
      for (const f of fibers) expect(Option.isNone(yield* Fiber.poll(f))).toBe(true)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.joinAll(fibers)).toEqual([14_999, 14_999, 14_999])
    })
  )

  it.effect("layerFromConfig uses the configured rate", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.RateLimiter
      yield* limiter.withPermit(Effect.void)
      yield* limiter.withPermit(Effect.void)
      const third = yield* Effect.fork(limiter.withPermit(Clock.currentTimeMillis))
      yield* TestClock.adjust("4 seconds")
      expect(yield* Fiber.join(third)).toBe(4000)
    }).pipe(
      Effect.provide(
        RateLimiter.layerFromConfig.pipe(
          Layer.provide(TaskHistoryConfig.layer({ apiKey: "k", projectId: "p", rateLimit: "2/4s" })),
          Layer.orDie
        )
      )
    )
  )
})
