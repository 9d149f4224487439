import { Clock, Deferred, Duration, Effect, FiberId } from "effect"
import type { MemoryRateLimiter } from "../RateLimiter.js"
import type { RateLimit } from "../TaskHistoryConfig.js"
import { recordLimiterWait } from "./metrics.js"

/**
 * The in-memory sliding-log limiter.
 *
 * A slot is taken when a request is granted and given back W after the request completed.
 * At any instant at most N slots are taken, so whenever the server counts each request (at
 * some moment between sending and answer), any window of length W holds at most N of them.
 *
 * Fairness: callers queue for a "turn" (a FIFO hand-off queue of Deferreds). Only the fiber
 * holding the turn waits for a slot; it sleeps exactly until the oldest completion leaves the
 * window, or until the pause ends, or (all N in flight) until a completion signals. Then it
 * takes the slot and hands the turn to the next caller in line.
 */
export const makeMemory = (rate: RateLimit): Effect.Effect<MemoryRateLimiter> =>
  Effect.sync(() => {
    const limit = Math.max(1, Math.floor(rate.limit))
    const windowMs = Math.max(0, Duration.toMillis(rate.window))
    let inFlight = 0
    /** Completion times (ms) still counted in the window, oldest first. */
    const completions: Array<number> = []
    let pausedUntil = 0
    /** Signalled when a request completes or a pause changes. */
    let signal: Deferred.Deferred<void> | undefined
    let turnHeld = false
    const turnQueue: Array<Deferred.Deferred<void>> = []

    const wake = () => {
      if (signal !== undefined) {
        const s = signal
        signal = undefined
        Deferred.unsafeDone(s, Effect.void)
      }
    }

    const prune = (now: number) => {
      while (completions.length > 0 && (completions[0] as number) + windowMs <= now) completions.shift()
    }

    const releaseTurn = Effect.sync(() => {
      const next = turnQueue.shift()
      if (next === undefined) turnHeld = false
      else Deferred.unsafeDone(next, Effect.void)
    })

    type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

    /** Waits for the turn (FIFO). Interruption while queued gives up the place in line. */
    const takeTurn = (restore: Restore) =>
      Effect.suspend(() => {
        if (!turnHeld) {
          turnHeld = true
          return Effect.void
        }
        const ticket = Deferred.unsafeMake<void>(FiberId.none)
        turnQueue.push(ticket)
        return restore(Deferred.await(ticket)).pipe(
          Effect.onInterrupt(() =>
            Effect.suspend(() => {
              const index = turnQueue.indexOf(ticket)
              if (index >= 0) {
                turnQueue.splice(index, 1)
                return Effect.void
              }
              // The turn was handed to us as we were interrupted: pass it on.
              return releaseTurn
            })
          )
        )
      })

    /**
     * Run uninterruptibly while holding the turn, with only the waits interruptible: returns once
     * a slot was taken, so an interruption never leaks a slot.
     */
    const waitForSlot = (restore: Restore): Effect.Effect<void> =>
      Effect.gen(function* () {
        // Each pass ends by taking a slot or by waiting for the next event that can free one.
        while (true) {
          const now = yield* Clock.currentTimeMillis
          prune(now)
          if (pausedUntil > now) {
            yield* restore(Effect.sleep(Duration.millis(pausedUntil - now)))
            continue
          }
          if (inFlight + completions.length < limit) {
            inFlight++
            return
          }
          const oldest = completions[0]
          if (oldest !== undefined) {
            yield* restore(Effect.sleep(Duration.millis(oldest + windowMs - now)))
            continue
          }
          // All N slots are held by requests in flight: wait for one to complete.
          if (signal === undefined) signal = Deferred.unsafeMake<void>(FiberId.none)
          yield* restore(Deferred.await(signal))
        }
      })

    const complete = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        inFlight--
        if (windowMs > 0) completions.push(now)
        wake()
      })
    )

    const recordWait = recordLimiterWait
    const noWait = recordWait(0)

    const acquire = (restore: Restore) =>
      Effect.clockWith((clock) => {
        const start = clock.unsafeCurrentTimeMillis()
        // Fast path, the same decision `waitForSlot` takes on its first pass: nobody holds or
        // waits for the turn, no pause, a free slot. Taken at once, with no wait to record.
        if (!turnHeld) {
          prune(start)
          if (pausedUntil <= start && inFlight + completions.length < limit) {
            inFlight++
            return noWait
          }
        }
        return Effect.gen(function* () {
          yield* takeTurn(restore)
          yield* Effect.ensuring(waitForSlot(restore), releaseTurn)
          const end = yield* Clock.currentTimeMillis
          yield* recordWait(end - start)
        })
      })

    const withPermit: MemoryRateLimiter["withPermit"] = (effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(acquire(restore), Effect.ensuring(restore(effect), complete))
      )

    const pause: MemoryRateLimiter["pause"] = (duration) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const until = now + Math.max(0, Duration.toMillis(duration))
          if (until > pausedUntil) pausedUntil = until
          wake()
        })
      )

    const inWindow = Effect.map(Clock.currentTimeMillis, (now) => {
      prune(now)
      return inFlight + completions.length
    })

    return { withPermit, pause, inWindow }
  })
