import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Option, Ref, TestClock } from "effect"
import * as RunSchedule from "../src/RunSchedule.js"

const right = <A, E>(either: Either.Either<A, E>): A => {
  if (Either.isLeft(either)) throw new Error(`expected Right, got ${String(either.left)}`)
  return either.right
}

/** A run that records its start time, checks nobody else runs, and takes `took(n)` ms. */
const recorder = (took: (n: number) => number, fail?: (n: number) => boolean) =>
  Effect.gen(function* () {
    const starts = yield* Ref.make<Array<number>>([])
    const running = yield* Ref.make(0)
    const maxRunning = yield* Ref.make(0)
    const run = Effect.gen(function* () {
      const now = yield* TestClock.currentTimeMillis
      const n = (yield* Ref.get(starts)).length
      yield* Ref.update(starts, (s) => [...s, now])
      const r = yield* Ref.updateAndGet(running, (x) => x + 1)
      yield* Ref.update(maxRunning, (m) => Math.max(m, r))
      yield* Effect.sleep(Duration.millis(took(n)))
      yield* Ref.update(running, (x) => x - 1)
      if (fail?.(n)) return yield* Effect.fail(`boom ${n}`)
      return n
    })
    return { starts, maxRunning, run }
  })

describe("RunSchedule.fromFlags", () => {
  it("defaults to once", () => {
    expect(right(RunSchedule.fromFlags({}))._tag).toBe("Once")
    expect(right(RunSchedule.fromFlags({ once: true }))._tag).toBe("Once")
  })

  it("parses --every durations", () => {
    const s = right(RunSchedule.fromFlags({ every: "15m" }))
    expect(s._tag === "Every" && Duration.toMillis(s.interval)).toBe(900_000)
  })

  it("parses five- and six-field cron expressions", () => {
    expect(right(RunSchedule.fromFlags({ schedule: "*/15 * * * *" }))._tag).toBe("Cron")
    expect(right(RunSchedule.fromFlags({ schedule: "*/10 * * * * *" }))._tag).toBe("Cron")
  })

  it("refuses a bad cron, naming it", () => {
    const r = RunSchedule.fromFlags({ schedule: "every day at noon" })
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) {
      expect(r.left._tag).toBe("InvalidInput")
      expect(r.left.message).toContain("every day at noon")
    }
    expect(Either.isLeft(RunSchedule.fromFlags({ schedule: "61 * * * *" }))).toBe(true)
    const never = RunSchedule.fromFlags({ schedule: "0 0 30 2 *" })
    expect(Either.isLeft(never) && never.left.message).toContain("never matches")
  })

  it("refuses a bad duration and two schedule flags at once", () => {
    const bad = RunSchedule.fromFlags({ every: "soon" })
    expect(Either.isLeft(bad) && bad.left.message).toContain("soon")
    const both = RunSchedule.fromFlags({ once: true, every: "1m" })
    expect(Either.isLeft(both) && both.left.message).toContain("at most one")
    expect(Either.isLeft(RunSchedule.fromFlags({ schedule: "* * * * *", timezone: "Mars/Base" }))).toBe(true)
  })
})

describe("RunSchedule.nextDue", () => {
  it("fixed rate: next tick, or skips the ticks a long run overran", () => {
    const every = right(RunSchedule.fromFlags({ every: "10s" }))
    expect(RunSchedule.nextDue(every, undefined, 5)).toEqual(Option.some({ at: 5, skipped: 0 }))
    expect(RunSchedule.nextDue(every, 0, 3_000)).toEqual(Option.some({ at: 10_000, skipped: 0 }))
    expect(RunSchedule.nextDue(every, 0, 10_000)).toEqual(Option.some({ at: 10_000, skipped: 0 }))
    expect(RunSchedule.nextDue(every, 0, 25_000)).toEqual(Option.some({ at: 30_000, skipped: 2 }))
  })

  it("cron: the first match after the previous start, skipping the ones in the past", () => {
    const cron = right(RunSchedule.fromFlags({ schedule: "*/15 * * * *" }))
    const t0 = Date.parse("2026-01-01T00:00:00Z")
    expect(RunSchedule.nextDue(cron, undefined, t0 + 1)).toEqual(
      Option.some({ at: Date.parse("2026-01-01T00:15:00Z"), skipped: 0 })
    )
    expect(RunSchedule.nextDue(cron, t0, t0 + 40 * 60_000)).toEqual(
      Option.some({ at: Date.parse("2026-01-01T00:45:00Z"), skipped: 2 })
    )
  })

  it("once: one start only", () => {
    const once = RunSchedule.RunSchedule.Once()
    expect(RunSchedule.nextDue(once, undefined, 7)).toEqual(Option.some({ at: 7, skipped: 0 }))
    expect(RunSchedule.nextDue(once, 7, 8)).toEqual(Option.none())
  })
})

describe("RunSchedule.shortestGap (the deadline of a run's step work)", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z")
  const gap = (schedule: RunSchedule.RunSchedule, from = t0) =>
    Option.map(RunSchedule.shortestGap(schedule, from), Duration.toMillis)

  it("every: its interval; once: none", () => {
    expect(gap(right(RunSchedule.fromFlags({ every: "10m" })))).toEqual(Option.some(600_000))
    expect(gap(RunSchedule.RunSchedule.Once())).toEqual(Option.none())
  })

  it("cron: the shortest time between two of its starts, wherever it is started", () => {
    expect(gap(right(RunSchedule.fromFlags({ schedule: "*/15 * * * *" })))).toEqual(Option.some(15 * 60_000))
    // 09:00 and 17:00: 8 hours, then 16 hours; started at noon or at midnight, 8 hours.
    const twice = right(RunSchedule.fromFlags({ schedule: "0 9,17 * * *" }))
    expect(gap(twice)).toEqual(Option.some(8 * 3_600_000))
    expect(gap(twice, Date.parse("2026-01-01T12:00:00Z"))).toEqual(Option.some(8 * 3_600_000))
    // Weekdays at 06:00: a day, even when started on a Friday evening (the weekend gap is longer).
    const weekdays = right(RunSchedule.fromFlags({ schedule: "0 6 * * 1-5" }))
    expect(gap(weekdays, Date.parse("2026-01-02T20:00:00Z"))).toEqual(Option.some(86_400_000))
  })
})

describe("RunSchedule.runScheduled", () => {
  it.effect("--every runs at a fixed rate, never overlapping, skipping overrun ticks", () =>
    Effect.gen(function* () {
      // runs 0,1 take 1s; run 2 takes 25s (overruns two 10s ticks); the rest 1s
      const { starts, maxRunning, run } = yield* recorder((n) => (n === 2 ? 25_000 : 1_000))
      const schedule = right(RunSchedule.fromFlags({ every: "10s" }))
      const fiber = yield* Effect.fork(RunSchedule.runScheduled(schedule, run))
      for (let i = 0; i < 14; i++) yield* TestClock.adjust(Duration.seconds(5))
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(starts)).toEqual([0, 10_000, 20_000, 50_000, 60_000, 70_000])
      expect(yield* Ref.get(maxRunning)).toBe(1)
    })
  )

  it.effect("a failed scheduled run is logged and the schedule continues", () =>
    Effect.gen(function* () {
      const { starts, run } = yield* recorder(
        () => 100,
        (n) => n === 1
      )
      const failures = yield* Ref.make(0)
      const schedule = right(RunSchedule.fromFlags({ every: "5s" }))
      const fiber = yield* Effect.fork(
        RunSchedule.runScheduled(schedule, run, { onFailure: () => Ref.update(failures, (n) => n + 1) })
      )
      for (let i = 0; i < 16; i++) yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(starts)).toEqual([0, 5_000, 10_000, 15_000])
      expect(yield* Ref.get(failures)).toBe(1)
    })
  )

  it.effect("--schedule follows the cron expression and skips ticks a long run overran", () =>
    Effect.gen(function* () {
      const t0 = Date.parse("2026-01-01T00:00:30Z")
      yield* TestClock.setTime(t0)
      // every minute at second 0; the second run takes 150 s
      const { starts, maxRunning, run } = yield* recorder((n) => (n === 1 ? 150_000 : 2_000))
      const schedule = right(RunSchedule.fromFlags({ schedule: "* * * * *" }))
      const fiber = yield* Effect.fork(RunSchedule.runScheduled(schedule, run))
      for (let i = 0; i < 36; i++) yield* TestClock.adjust(Duration.seconds(10))
      yield* Fiber.interrupt(fiber)
      const minutes = (yield* Ref.get(starts)).map((t) => new Date(t).toISOString().slice(11, 19))
      expect(minutes).toEqual(["00:01:00", "00:02:00", "00:05:00", "00:06:00"])
      expect(yield* Ref.get(maxRunning)).toBe(1)
    })
  )

  it.effect("once returns the run's result and error", () =>
    Effect.gen(function* () {
      const once = RunSchedule.RunSchedule.Once()
      expect(yield* RunSchedule.runScheduled(once, Effect.succeed(42))).toBe(42)
      const failed = yield* Effect.flip(RunSchedule.runScheduled(once, Effect.fail("nope")))
      expect(failed).toBe("nope")
    })
  )
})
