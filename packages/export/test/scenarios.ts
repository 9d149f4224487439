import { expect } from "@effect/vitest"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import { Simulator } from "@taskhistory/simulator"
import { Deferred, Effect, Either, Fiber, Layer, Option } from "effect"
import * as Exporter from "../src/Exporter.js"
import { Sink, type SinkError } from "../src/Sink.js"
import { expectSinkMatches, runWith } from "./helpers.js"

/** A sink under test: a fresh layer per test, reopened per run, and its rows. */
export interface SinkFixture {
  /** A layer over a new, empty database (call once per test). */
  readonly fresh: () => {
    readonly layer: () => Layer.Layer<Sink, SinkError>
    readonly rows: Effect.Effect<ReadonlyMap<string, Record<string, unknown>>>
  }
}

const NOW = Date.parse("2026-11-20T12:00:00.000Z")

/** A sink over `layer` that completes `written` once its `n`th batch is written. */
const afterBatches = (n: number, layer: Layer.Layer<Sink, SinkError>) =>
  Effect.map(Deferred.make<void>(), (written) => {
    const counting = Layer.effect(
      Sink,
      Effect.gen(function* () {
        const inner = yield* Sink
        let count = 0
        return {
          ...inner,
          writeBatch: (batch) =>
            Effect.tap(inner.writeBatch(batch), () =>
              ++count === n ? Deferred.succeed(written, undefined) : Effect.void
            )
        }
      })
    ).pipe(Layer.provide(layer))
    return { written, counting }
  })

/** A first run with no state reads the whole history; a second reads only the look-back range. */
export const backfillThenIncremental = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 1500, seed: 11, span: 60 })
    const db = fixture.fresh()
    const first = yield* runWith(sim, db.layer())
    const dataset = yield* sim.dataset
    expectSinkMatches(yield* db.rows, dataset)
    expect(first.inserted).toBe(dataset.length)
    expect(first.seen).toBe(dataset.length)
    expect(first.updated + first.rejected).toBe(0)
    // 1500 records in 15 pages of 100, plus the last (partial) page of each window (a window is
    // cut only when it holds 4 pages or more: at most 4 here).
    expect(first.requests).toBeLessThanOrEqual(20)
    expect(first.streamKey).toBe("all")

    yield* sim.insert(30)
    const before = (yield* sim.stats).requests
    const second = yield* runWith(sim, db.layer())
    expect(second.inserted).toBe(30)
    // The look-back range is read in at most 2 pages; the check of older days against the API's
    // totals costs one request when nothing changed there (nothing to re-read).
    expect(second.checked).toBeLessThanOrEqual(1)
    expect(second.reread).toBe(0)
    expect(second.requests - second.checked).toBeLessThanOrEqual(2)
    expect((yield* sim.stats).requests - before).toBe(second.requests)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
    return { first, second }
  }).pipe(Effect.scoped)

/** Inserts and retention expiry on every request while the run pages. */
export const churn = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({
      records: 1500,
      seed: 12,
      span: 60,
      churn: { insertPerRequest: 7, expirePerRequest: 5 }
    })
    const db = fixture.fresh()
    const initial = yield* sim.dataset
    yield* runWith(sim, db.layer())
    const after = yield* sim.dataset
    // Every execution visible for the whole run is there, with its latest values.
    const stayed = new Set(after.map((r) => r.id as string))
    const rows = yield* db.rows
    for (const record of initial) {
      if (!stayed.has(record.id as string)) continue
      expect(rows.get(record.id as string)?.id).toBe(record.id)
    }
    // Churn stops; the next run (look-back) catches what arrived during the first.
    yield* sim.configure({ churn: { insertPerRequest: 0, expirePerRequest: 0 } })
    yield* runWith(sim, db.layer())
    const expired = new Set(initial.map((r) => r.id as string).filter((id) => !stayed.has(id)))
    expectSinkMatches(yield* db.rows, yield* sim.dataset, expired)
  }).pipe(Effect.scoped)

export const lateArrivals = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({
      records: 800,
      seed: 13,
      span: 30,
      churn: { lateArrivals: 25, revealPerRequest: 0 }
    })
    const db = fixture.fresh()
    yield* runWith(sim, db.layer())
    const revealed = yield* sim.reveal()
    expect(revealed.length).toBe(25)
    // Late arrivals started long ago: a look-back as long as the span finds them.
    const report = yield* runWith(sim, db.layer(), { lookback: "31 days" })
    expect(report.inserted).toBe(25)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

export const sameStartDate = (fixture: SinkFixture, inclusiveDates = true) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({
      records: 600,
      seed: 14,
      span: 20,
      inclusiveDates,
      churn: { sameStartDate: { count: 250, date: "2026-11-10T08:00:00.000Z" } }
    })
    const db = fixture.fresh()
    const report = yield* runWith(sim, db.layer())
    const dataset = yield* sim.dataset
    expect(dataset.filter((r) => r.dateStarted === "2026-11-10T08:00:00.000Z").length).toBeGreaterThanOrEqual(
      250
    )
    expectSinkMatches(yield* db.rows, dataset)
    expect(report.inserted).toBe(dataset.length)
  }).pipe(Effect.scoped)

export const faults = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({
      records: 1000,
      seed: 15,
      faults: { errorRate: 0.15, resetRate: 0.1, htmlRate: 0.05 }
    })
    const db = fixture.fresh()
    const report = yield* runWith(sim, db.layer())
    expect((yield* sim.stats).requests).toBeGreaterThan(report.requests - 1)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

export const rateLimited = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    // The server allows 5 per second; the client believes 50 per second: 429s must happen.
    const sim = yield* Simulator.start({ records: 1200, seed: 16, rateLimit: "5/1s" })
    const db = fixture.fresh()
    const report = yield* runWith(sim, db.layer(), {}, "50/1s")
    expect(report.rateLimited).toBeGreaterThan(0)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

export const malformed = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 700, seed: 17, malformed: 8 })
    const failing = fixture.fresh()
    const failed = yield* Effect.either(runWith(sim, failing.layer(), { onInvalid: "fail", batchSize: 100 }))
    expect(Either.isLeft(failed)).toBe(true)
    if (Either.isLeft(failed)) {
      expect(failed.left._tag).toBe("ExportError")
      expect(failed.left.message).toMatch(/invalid execution record/)
    }
    const state = yield* Effect.flatMap(Sink, (s) => s.loadState("all")).pipe(Effect.provide(failing.layer()))
    // No state advance: the high-water mark was never set.
    expect(Option.isSome(Option.flatMap(state, (s) => Option.fromNullable(s.highWaterMark)))).toBe(false)

    const db = fixture.fresh()
    const report = yield* runWith(sim, db.layer())
    expect(report.rejected).toBe(8)
    const status = yield* Effect.flatMap(Sink, (s) => s.status).pipe(Effect.provide(db.layer()))
    expect(status.rejects).toBe(8)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

/** Running executions hold the high-water mark, so their end is picked up by the next run. */
export const statusChanges = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 1200, seed: 20, span: 10 })
    const db = fixture.fresh()
    const running = (yield* sim.dataset).filter((r) => r.status === "EXECUTING" || r.status === "DELAYED")
    expect(running.length).toBeGreaterThan(0)
    const first = running[0]!
    const report = yield* runWith(sim, db.layer())
    expect(report.highWaterMark <= (first.dateStarted as string)).toBe(true)
    // Freshness: read through the run's start; the running ones counted once, from the earliest.
    const earliest = running.map((r) => Date.parse(r.dateStarted as string)).sort((x, y) => x - y)[0]!
    expect(report.inFlight).toBe(running.length)
    expect(report.inFlightSince).toBe(new Date(earliest).toISOString())
    expect(report.highWaterMark).toBe(report.inFlightSince)
    expect(report.readThrough > report.highWaterMark).toBe(true)
    const stored = yield* Effect.flatMap(Sink, (s) => s.loadState(report.streamKey)).pipe(
      Effect.provide(db.layer())
    )
    expect(Option.map(stored, Exporter.freshness)).toEqual(
      Option.some({
        readThrough: report.readThrough,
        inFlight: report.inFlight,
        inFlightSince: report.inFlightSince
      })
    )
    yield* sim.setStatus(first.id as string, "SUCCEEDED")
    const second = yield* runWith(sim, db.layer())
    expect(second.updated).toBeGreaterThanOrEqual(1)
    expect((yield* db.rows).get(first.id as string)?.status).toBe("SUCCEEDED")
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

/** A filtered export is its own stream with its own state, and holds exactly the matches. */
export const filtered = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 900, seed: 19 })
    const db = fixture.fresh()
    // The filters come validated (any case in), as the binaries and library users pass them.
    const query = yield* ExecutionQuery.makeEffect({ status: "failed" })
    const report = yield* runWith(sim, db.layer(), { filters: ExecutionQuery.selection(query) })
    expect(report.streamKey).toBe("status=FAILED")
    const failed = (yield* sim.dataset).filter((r) => r.status === "FAILED")
    expect(failed.length).toBeGreaterThan(0)
    expectSinkMatches(yield* db.rows, failed)
    const status = yield* Effect.flatMap(Sink, (s) => s.status).pipe(Effect.provide(db.layer()))
    expect(status.states.map((s) => s.streamKey)).toEqual(["status=FAILED"])
    // A bad filter is refused where it is validated; the engine checks its own options.
    expect(Either.isLeft(ExecutionQuery.make({ status: "nope" }))).toBe(true)
    const bad = yield* Effect.either(runWith(sim, db.layer(), { batchSize: 0 }))
    expect(
      Either.isLeft(bad) && bad.left._tag === "ExportError" && bad.left.reason === "InvalidOptions"
    ).toBe(true)
  }).pipe(Effect.scoped)

/** Interrupt a run after a few batches, run again: same rows as an uninterrupted run. */
export const interruptAndResume = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 1500, seed: 18 })
    const db = fixture.fresh()
    const { written, counting } = yield* afterBatches(3, db.layer())
    const fiber = yield* Effect.fork(runWith(sim, counting, { batchSize: 100 }))
    yield* Deferred.await(written)
    yield* Fiber.interrupt(fiber)
    const partial = yield* db.rows
    expect(partial.size).toBeGreaterThanOrEqual(100)
    expect(partial.size).toBeLessThan(1500)
    const state = yield* Effect.flatMap(Sink, (s) => s.loadState("all")).pipe(Effect.provide(db.layer()))
    expect(Option.isSome(state) && state.value.highWaterMark === undefined).toBe(true)

    const resumed = yield* runWith(sim, db.layer(), { batchSize: 100 })
    expect(resumed.inserted).toBe(1500 - partial.size)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

/**
 * A long range is read by several windows at once (latency hidden), each handed to the sink as
 * it arrives; a run interrupted while several windows are half read resumes each where it was.
 */
export const concurrentWindows = (fixture: SinkFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 3000, seed: 21, span: 30, latency: 15 })
    const db = fixture.fresh()
    const report = yield* runWith(sim, db.layer())
    const stats = yield* sim.stats
    // 8 windows by default: the first page's total says how much is left, and the range is cut
    // while it is read; the limiter sees at most 8 requests at once.
    expect(stats.maxInFlight).toBeGreaterThanOrEqual(4)
    expect(stats.maxInFlight).toBeLessThanOrEqual(8)
    // 30 full pages, and a partial last page per window.
    expect(report.requests).toBeLessThanOrEqual(30 + 8)
    expectSinkMatches(yield* db.rows, yield* sim.dataset)

    // One window at a time when asked.
    yield* sim.reset
    const one = fixture.fresh()
    yield* runWith(sim, one.layer(), { concurrency: 1 })
    expect((yield* sim.stats).maxInFlight).toBe(1)
    expectSinkMatches(yield* one.rows, yield* sim.dataset)

    // Interrupted after a few batches: the state holds the position of every window.
    yield* sim.reset
    const cut = fixture.fresh()
    const { written, counting } = yield* afterBatches(6, cut.layer())
    const fiber = yield* Effect.fork(runWith(sim, counting, { batchSize: 100 }))
    yield* Deferred.await(written)
    yield* Fiber.interrupt(fiber)
    const partial = yield* cut.rows
    const stored = yield* Effect.flatMap(Sink, (s) => s.loadState("all")).pipe(Effect.provide(cut.layer()))
    const cursor = Option.getOrUndefined(stored)?.cursor as { run?: { spans?: ReadonlyArray<unknown> } }
    expect(cursor.run?.spans?.length ?? 0).toBeGreaterThan(1)
    const before = (yield* sim.stats).requests
    const resumed = yield* runWith(sim, cut.layer(), { batchSize: 100 })
    expect(resumed.inserted).toBe(3000 - partial.size)
    // Nothing read twice but the page at each window's position.
    expect((yield* sim.stats).requests - before).toBeLessThanOrEqual(30 - Math.floor(partial.size / 100) + 16)
    expectSinkMatches(yield* cut.rows, yield* sim.dataset)
  }).pipe(Effect.scoped)

export { NOW }
