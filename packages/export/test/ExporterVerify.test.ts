import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Simulator } from "@taskhistory/simulator"
import { Deferred, Effect, Fiber, Layer, Option, Predicate } from "effect"
import { Sink } from "../src/Sink.js"
import * as SqliteSink from "../src/SqliteSink.js"
import { expectSinkMatches, runWith, sqliteRows, tempDir } from "./helpers.js"

const tmp = tempDir("taskhistory-verify-")
afterAll(tmp.cleanup)
let n = 0
const freshDb = () => {
  const path = join(tmp.dir, `verify-${++n}.db`)
  return { layer: () => SqliteSink.layer({ path }), rows: sqliteRows(path) }
}

const DAY = 86_400_000

/** The engine's plan of days to read again, as stored in the state's cursor. */
const storedPlan = (cursor: unknown) =>
  Predicate.isRecord(cursor) && Predicate.isRecord(cursor.plan) ? cursor.plan : undefined

describe("Exporter verification (late arrivals older than the look-back)", () => {
  it.live("catches late arrivals anywhere in the span with the default look-back", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 800,
        seed: 13,
        span: 30,
        churn: { lateArrivals: 25, revealPerRequest: 0 }
      })
      const db = freshDb()
      const first = yield* runWith(sim, db.layer())
      expect(first.checked).toBe(0)
      const revealed = yield* sim.reveal()
      expect(revealed.length).toBe(25)
      const second = yield* runWith(sim, db.layer())
      expect(second.inserted).toBe(25)
      expect(second.reread).toBeGreaterThan(0)
      expectSinkMatches(yield* db.rows, yield* sim.dataset)
      // The ledger now agrees with the API: one check, nothing read again.
      const third = yield* runWith(sim, db.layer())
      expect({ checked: third.checked, reread: third.reread, inserted: third.inserted }).toEqual({
        checked: 1,
        reread: 0,
        inserted: 0
      })
    }).pipe(Effect.scoped)
  )

  for (const inclusiveDates of [true, false]) {
    it.live(
      `counts executions at the exact day bounds (${inclusiveDates ? "inclusive" : "exclusive"} dates)`,
      () =>
        Effect.gen(function* () {
          const sim = yield* Simulator.start({ records: 400, seed: 31, span: 20, inclusiveDates })
          const day = Math.floor(Date.now() / DAY) * DAY - 10 * DAY
          // Midnight (cron) and the last millisecond of the day before and of the day itself.
          yield* sim.insert(
            [day, day, day, day - 1, day - 1, day + DAY - 1, day + DAY - 1].map((at) => ({ dateStarted: at }))
          )
          const db = freshDb()
          yield* runWith(sim, db.layer())
          const quiet = yield* runWith(sim, db.layer())
          expect({ checked: quiet.checked, reread: quiet.reread }).toEqual({ checked: 1, reread: 0 })
          yield* sim.insert([
            { dateStarted: day, hidden: true },
            { dateStarted: day + DAY - 1, hidden: true }
          ])
          expect((yield* sim.reveal()).length).toBe(2)
          const second = yield* runWith(sim, db.layer())
          expect(second.inserted).toBe(2)
          expectSinkMatches(yield* db.rows, yield* sim.dataset)
          const third = yield* runWith(sim, db.layer())
          expect({ checked: third.checked, reread: third.reread }).toEqual({ checked: 1, reread: 0 })
        }).pipe(Effect.scoped)
    )
  }

  it.live("verifies and re-reads a day holding 250 executions at one instant", () =>
    Effect.gen(function* () {
      const instant = Math.floor(Date.now() / 1000) * 1000 - 10 * DAY
      const sim = yield* Simulator.start({
        records: 600,
        seed: 14,
        span: 20,
        churn: { sameStartDate: { count: 250, date: instant } }
      })
      const db = freshDb()
      yield* runWith(sim, db.layer())
      const quiet = yield* runWith(sim, db.layer())
      expect({ checked: quiet.checked, reread: quiet.reread }).toEqual({ checked: 1, reread: 0 })
      yield* sim.insert([{ dateStarted: instant, hidden: true }])
      yield* sim.reveal()
      const late = yield* runWith(sim, db.layer())
      expect(late.inserted).toBe(1)
      expect(late.reread).toBe(1)
      expectSinkMatches(yield* db.rows, yield* sim.dataset)
      const after = yield* runWith(sim, db.layer())
      expect({ checked: after.checked, reread: after.reread }).toEqual({ checked: 1, reread: 0 })
    }).pipe(Effect.scoped)
  )

  it.live("catches late arrivals revealed while runs page", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 1500,
        seed: 22,
        span: 60,
        churn: { lateArrivals: 12, revealPerRequest: 1, insertPerRequest: 2 }
      })
      const db = freshDb()
      // Each request reveals one: a few runs reveal them all; the run after that sees everything.
      for (let k = 0; k < 12 && (yield* sim.hidden).length > 0; k++) yield* runWith(sim, db.layer())
      expect((yield* sim.hidden).length).toBe(0)
      yield* sim.configure({ churn: { insertPerRequest: 0 } })
      yield* runWith(sim, db.layer())
      expectSinkMatches(yield* db.rows, yield* sim.dataset)
    }).pipe(Effect.scoped)
  )

  it.live("stays exact under inserts, expiry and late arrivals between runs (default look-back)", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 1500,
        seed: 7,
        churn: { lateArrivals: 10, revealPerRequest: 0 }
      })
      const db = freshDb()
      yield* runWith(sim, db.layer())
      yield* runWith(sim, db.layer())
      yield* sim.insert(120)
      const expired = new Set(yield* sim.expire(40))
      expect((yield* sim.reveal(5)).length).toBe(5)
      const third = yield* runWith(sim, db.layer())
      expect(third.inserted).toBe(125)
      const rows = yield* db.rows
      expectSinkMatches(rows, yield* sim.dataset, expired)
      expect(rows.size).toBe((yield* sim.dataset).length + expired.size)
      // The days read again agree with the API afterwards.
      const fourth = yield* runWith(sim, db.layer())
      // Retention was seen at work: the oldest day is checked on its own (3 ranges).
      expect({ checked: fourth.checked, reread: fourth.reread }).toEqual({ checked: 3, reread: 0 })
    }).pipe(Effect.scoped)
  )

  it.live("catches a late arrival into a day (or week) where a record also expired", () =>
    Effect.gen(function* () {
      // Start dates up to the last midnight: the oldest day is a whole day (20 executions), so the
      // four expiries below stay in it whatever the time of day (from a real now, the oldest day
      // was the part of a day after now's time of day, and late in the day it held 3).
      const sim = yield* Simulator.start({
        records: 600,
        seed: 21,
        span: 30,
        now: Math.floor(Date.now() / DAY) * DAY
      })
      const db = freshDb()
      yield* runWith(sim, db.layer())
      const expired = new Set<string>()

      const arriveAndExpire = (offsetMs: (oldest: number) => number) =>
        Effect.gen(function* () {
          const oldest = (yield* sim.dataset)[0]!
          const at = Date.parse(oldest.dateStarted as string)
          const [late] = yield* sim.insert([{ dateStarted: offsetMs(at), hidden: true }])
          const gone = yield* sim.expire(1)
          expect(gone).toEqual([oldest.id])
          for (const id of gone) expired.add(id)
          expect((yield* sim.reveal()).map((r) => r.id)).toEqual([late!.id])
          return late!.id as string
        })

      // Same day: the day's count is unchanged (+1 -1); its first record is not.
      const sameDay = yield* arriveAndExpire((at) =>
        Math.min(at + 60_000, Math.floor(at / DAY) * DAY + DAY - 1)
      )
      const second = yield* runWith(sim, db.layer())
      expect(second.inserted).toBe(1)
      expect((yield* db.rows).has(sameDay)).toBe(true)
      expectSinkMatches(yield* db.rows, yield* sim.dataset, expired)

      // Another day of the same range: the total over the range is unchanged too.
      const otherDay = yield* arriveAndExpire((at) => at + 3 * DAY)
      const third = yield* runWith(sim, db.layer())
      expect(third.inserted).toBe(1)
      expect((yield* db.rows).has(otherDay)).toBe(true)
      expectSinkMatches(yield* db.rows, yield* sim.dataset, expired)
      const quiet = yield* runWith(sim, db.layer())
      expect({ checked: quiet.checked, reread: quiet.reread }).toEqual({ checked: 3, reread: 0 })

      // Retention at work on every run costs 3 checks and the oldest day, not every week.
      for (const id of yield* sim.expire(2)) expired.add(id)
      const expiring = yield* runWith(sim, db.layer())
      expect({ checked: expiring.checked, reread: expiring.reread, inserted: expiring.inserted }).toEqual({
        checked: 3,
        reread: 1,
        inserted: 0
      })
      expectSinkMatches(yield* db.rows, yield* sim.dataset, expired)
    }).pipe(Effect.scoped)
  )

  it.live("costs one request more than the look-back read on an incremental run with nothing new", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 1500,
        seed: 24,
        span: 60,
        churn: { lateArrivals: 5, revealPerRequest: 0 }
      })
      const db = freshDb()
      yield* runWith(sim, db.layer())
      const before = (yield* sim.stats).requests
      const quiet = yield* runWith(sim, db.layer())
      expect((yield* sim.stats).requests - before).toBe(quiet.requests)
      expect({ checked: quiet.checked, reread: quiet.reread }).toEqual({ checked: 1, reread: 0 })
      // The documented bound: one `total` for the whole ledger plus the look-back read (one
      // request when nothing is new: a window is cut only when it holds 4 pages or more).
      const off = yield* runWith(sim, db.layer(), { verify: "off" })
      expect(off.checked).toBe(0)
      expect(quiet.requests).toBeLessThanOrEqual(off.requests + 1)
      expect(quiet.requests).toBeLessThanOrEqual(2)

      // Without verification, late arrivals older than the look-back are not read.
      yield* sim.reveal()
      const missed = yield* runWith(sim, db.layer(), { verify: "off" })
      expect(missed.inserted).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.live("resumes an interrupted verification with the same rows and a consistent ledger", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 3000,
        seed: 23,
        span: 10,
        churn: { lateArrivals: 30, revealPerRequest: 0 }
      })
      const db = freshDb()
      yield* runWith(sim, db.layer())
      yield* sim.reveal()

      // Interrupt the second run in the middle of re-reading a day.
      const midDay = yield* Deferred.make<void>()
      const watching = Layer.effect(
        Sink,
        Effect.gen(function* () {
          const inner = yield* Sink
          return {
            ...inner,
            writeBatch: (batch) =>
              Effect.tap(inner.writeBatch(batch), () =>
                typeof storedPlan(batch.state?.cursor)?.at === "number"
                  ? Deferred.succeed(midDay, undefined)
                  : Effect.void
              )
          }
        })
      ).pipe(Layer.provide(db.layer()))
      const fiber = yield* Effect.fork(runWith(sim, watching, { batchSize: 100 }))
      yield* Deferred.await(midDay)
      yield* Fiber.interrupt(fiber)
      const state = yield* Effect.flatMap(Sink, (s) => s.loadState("all")).pipe(Effect.provide(db.layer()))
      expect(Option.isSome(state) && storedPlan(state.value.cursor) !== undefined).toBe(true)

      const resumed = yield* runWith(sim, db.layer(), { batchSize: 100 })
      expect(resumed.reread).toBeGreaterThan(0)
      expectSinkMatches(yield* db.rows, yield* sim.dataset)
      const after = yield* Effect.flatMap(Sink, (s) => s.loadState("all")).pipe(Effect.provide(db.layer()))
      expect(Option.isSome(after) && storedPlan(after.value.cursor) === undefined).toBe(true)

      const next = yield* runWith(sim, db.layer())
      expect({ reread: next.reread, inserted: next.inserted }).toEqual({ reread: 0, inserted: 0 })
      // 1 range, or 3 when a late arrival made the oldest day differ (checked on its own since).
      expect(next.checked).toBeLessThanOrEqual(3)
    }).pipe(Effect.scoped)
  )
})
