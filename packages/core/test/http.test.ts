/**
 * `timeoutFail`: under the live clock (one forked fiber watched by a timer) and under the
 * TestClock (Effect's own `timeoutFail`): the timeout fires and interrupts the effect, results
 * pass through, no timer outlives the call, interruption reaches the effect.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import { timeoutFail } from "../src/internal/http.js"
import { TaskHistoryClient } from "../src/TaskHistoryClient.js"
import { within } from "./utils/effects.js"
import { clientLayer, execution, httpClients } from "./utils/server.js"

class TimedOut {
  readonly _tag = "TimedOut"
}

/** The number of active (ref'd) timers of this process. */
const activeTimers = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length

/** An effect that never completes on its own; `started` and `interrupted` say what happened to it. */
const watched = Effect.gen(function* () {
  const started = yield* Deferred.make<void>()
  const interrupted = yield* Deferred.make<void>()
  const effect = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
    Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
  ) as Effect.Effect<never, string>
  return { started, interrupted, effect }
})

describe("timeoutFail under the live clock", () => {
  it.live("an effect that never completes fails with onTimeout after the duration, and is interrupted", () =>
    Effect.gen(function* () {
      const { started, interrupted, effect } = yield* watched
      const start = yield* Clock.currentTimeMillis
      const exit = yield* within(
        Effect.exit(timeoutFail(Duration.millis(100), () => new TimedOut())(effect)),
        "timeout"
      )
      const elapsed = (yield* Clock.currentTimeMillis) - start
      expect(exit).toEqual(Exit.fail(new TimedOut()))
      expect(yield* Deferred.isDone(started)).toBe(true)
      // Interrupted before the error is delivered, not some time later.
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      expect(elapsed).toBeGreaterThanOrEqual(80)
      expect(elapsed).toBeLessThan(5_000)
    })
  )

  it.live("onTimeout is called only when the timeout fires", () =>
    Effect.gen(function* () {
      let calls = 0
      const onTimeout = () => {
        calls++
        return new TimedOut()
      }
      expect(yield* timeoutFail(Duration.seconds(10), onTimeout)(Effect.succeed(1))).toBe(1)
      expect(calls).toBe(0)
      yield* Effect.exit(timeoutFail(Duration.millis(20), onTimeout)(Effect.never))
      expect(calls).toBe(1)
    })
  )

  it.live("a success, a failure or a defect before the deadline passes through unchanged", () =>
    Effect.gen(function* () {
      const t = timeoutFail(Duration.seconds(10), () => new TimedOut())
      const interrupted = yield* Deferred.make<void>()
      const guard = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.onInterrupt(effect, () => Deferred.succeed(interrupted, undefined))
      // synchronous and asynchronous completions
      expect(yield* t(guard(Effect.succeed("now")))).toBe("now")
      expect(yield* t(guard(Effect.as(Effect.sleep("20 millis"), "later")))).toBe("later")
      expect(yield* Effect.exit(t(guard(Effect.fail("bad" as const))))).toEqual(Exit.fail("bad"))
      expect(
        yield* Effect.exit(t(guard(Effect.zipRight(Effect.sleep("20 millis"), Effect.fail("late")))))
      ).toEqual(Exit.fail("late"))
      const died = yield* Effect.exit(t(guard(Effect.dieMessage("defect"))))
      expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
      expect(yield* Deferred.isDone(interrupted)).toBe(false)
    })
  )

  it.live("no timer outlives a call that completed before its deadline", () =>
    Effect.gen(function* () {
      const t = timeoutFail(Duration.hours(1), () => new TimedOut())
      const before = activeTimers()
      for (let i = 0; i < 20; i++) {
        yield* t(Effect.succeed(i))
        yield* t(Effect.as(Effect.sleep("1 millis"), i))
        yield* Effect.exit(t(Effect.fail(i)))
      }
      // 60 calls with a one-hour deadline: a leaked timer each would show (a little slack for
      // unrelated timers of the runtime).
      expect(activeTimers() - before).toBeLessThan(5)
    })
  )

  it.live("a timer is active while the effect runs, and cleared when the caller is interrupted", () =>
    Effect.gen(function* () {
      const before = activeTimers()
      const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () =>
        Effect.fork(timeoutFail(Duration.hours(1), () => new TimedOut())(Effect.never))
      )
      yield* Effect.sleep("10 millis")
      expect(activeTimers() - before).toBeGreaterThanOrEqual(20)
      yield* Fiber.interruptAll(fibers)
      expect(activeTimers() - before).toBeLessThan(5)
    })
  )

  it.live("interrupting the caller interrupts the effect, promptly", () =>
    Effect.gen(function* () {
      const { started, interrupted, effect } = yield* watched
      const fiber = yield* Effect.fork(timeoutFail(Duration.hours(1), () => new TimedOut())(effect))
      yield* within(Deferred.await(started), "the effect starting")
      const exit = yield* within(Fiber.interrupt(fiber), "the interrupted caller ending")
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    })
  )

  it.live("the caller's interruption waits for the effect's finalizers", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      let finalized = false
      const effect = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.ensuring(
          Effect.delay(
            Effect.sync(() => (finalized = true)),
            "30 millis"
          )
        )
      )
      const fiber = yield* Effect.fork(timeoutFail(Duration.hours(1), () => new TimedOut())(effect))
      yield* Deferred.await(started)
      yield* within(Fiber.interrupt(fiber), "the interrupted caller ending")
      expect(finalized).toBe(true)
    })
  )

  it.live("a duration beyond what a timer can hold (or infinite) never times out", () =>
    Effect.gen(function* () {
      // setTimeout clamps delays above 2^31 - 1 ms to 1 ms: such a timeout must not fire at once.
      for (const duration of [Duration.infinity, Duration.days(30)]) {
        const result = yield* within(
          Effect.exit(
            timeoutFail(duration, () => new TimedOut())(Effect.as(Effect.sleep("50 millis"), "done"))
          ),
          "the effect"
        )
        expect(result).toEqual(Exit.succeed("done"))
      }
    })
  )

  it.scopedLive("a client with an infinite requestTimeout gets answers that take a while", () =>
    Effect.gen(function* () {
      // A server answering after 50 ms (the answer used to be a Timeout after 1 ms).
      const url = yield* Effect.acquireRelease(
        Effect.async<{ url: string; close: () => void }>((resume) => {
          const server = createServer((_req, res) => {
            setTimeout(() => {
              res.writeHead(200, { "content-type": "application/json" })
              res.end(JSON.stringify(execution("e1", { stepExecutions: [] })))
            }, 50)
          })
          server.listen(0, "127.0.0.1", () =>
            resume(
              Effect.succeed({
                url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
                close: () => {
                  server.closeAllConnections()
                  server.close()
                }
              })
            )
          )
        }),
        ({ close }) => Effect.sync(close)
      ).pipe(Effect.map(({ url }) => url))
      for (const requestTimeout of [Duration.infinity, Duration.days(30)]) {
        const detail = yield* Effect.flatMap(TaskHistoryClient, (c) => c.get("e1")).pipe(
          Effect.provide(
            Layer.orDie(clientLayer(url, { requestTimeout, retry: { maxRetries: 0 } }, httpClients.lean))
          )
        )
        expect(detail.id).toBe("e1")
      }
    })
  )

  it.live("the effect runs with the caller's context (services and fiber refs)", () =>
    Effect.gen(function* () {
      const annotations = yield* timeoutFail(
        Duration.seconds(10),
        () => new TimedOut()
      )(Effect.map(Effect.logAnnotations, (map) => Object.fromEntries(map))).pipe(
        Effect.annotateLogs("request", "r-1")
      )
      expect(annotations).toEqual({ request: "r-1" })
    })
  )
})

describe("timeoutFail under the TestClock", () => {
  it.effect("adjusting the clock past the duration fails with onTimeout and interrupts the effect", () =>
    Effect.gen(function* () {
      const { started, interrupted, effect } = yield* watched
      const fiber = yield* Effect.fork(timeoutFail(Duration.seconds(30), () => new TimedOut())(effect))
      yield* Deferred.await(started)
      yield* TestClock.adjust("29 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail(new TimedOut()))
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    })
  )

  it.effect("an effect done before the duration passes through", () =>
    Effect.gen(function* () {
      const t = timeoutFail(Duration.seconds(30), () => new TimedOut())
      const fiber = yield* Effect.fork(t(Effect.as(Effect.sleep("10 seconds"), "ok")))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Effect.exit(t(Effect.fail("bad")))).toEqual(Exit.fail("bad"))
    })
  )

  it.effect("interrupting the caller interrupts the effect", () =>
    Effect.gen(function* () {
      const { started, interrupted, effect } = yield* watched
      const fiber = yield* Effect.fork(timeoutFail(Duration.seconds(30), () => new TimedOut())(effect))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    })
  )
})
