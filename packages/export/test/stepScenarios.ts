/**
 * Step executions (`RunOptions.steps`) against the simulator, for every SQL sink: the rows equal
 * what the API serves, the budget share holds on the server's side, the backlog carries over
 * runs oldest first, an interrupted run resumes exactly, a status change is read once.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { Simulator } from "@taskhistory/simulator"
import { Deferred, Duration, Effect, Fiber, Layer, Logger, LogLevel } from "effect"
import * as Exporter from "../src/Exporter.js"
import { Sink, type SinkError } from "../src/Sink.js"

/** A step row as read back from a sink. */
export interface StoredStep {
  readonly id: string
  readonly execution_id: string
  readonly step_id: string | null
  readonly type: string | null
  readonly status: string | null
  readonly date_started: string | null
  readonly date_ended: string | null
  readonly error_message: string | null
  readonly output_raw: string | null
  readonly raw: string
}

/** A sink under test and its step rows. */
export interface StepFixture {
  readonly fresh: () => {
    readonly layer: () => Layer.Layer<Sink, SinkError>
    readonly steps: Effect.Effect<ReadonlyArray<StoredStep>>
  }
}

/** The client with its config and limiter (the engine reads the rate limit from the config). */
export const clientWithConfig = (sim: Simulator.SimulatorHandle, rateLimit = "100000/1s") =>
  TaskHistoryClient.layer.pipe(
    Layer.provideMerge(RateLimiter.layerFromConfig),
    Layer.provideMerge(
      TaskHistoryConfig.layer({
        apiKey: sim.apiKey,
        projectId: sim.projectId,
        baseUrl: sim.url,
        rateLimit,
        retry: { base: Duration.millis(5), cap: Duration.millis(200), maxRetries: 12 },
        requestTimeout: Duration.seconds(10)
      }).pipe(Layer.orDie)
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** `Exporter.plan` of a run with `options` on the sink. */
const planOf = (
  sim: Simulator.SimulatorHandle,
  sink: Layer.Layer<Sink, SinkError>,
  options: Exporter.RunOptions
) =>
  Exporter.plan(options).pipe(
    Effect.provide(Layer.merge(clientWithConfig(sim), sink)),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )

const run = (
  sim: Simulator.SimulatorHandle,
  sink: Layer.Layer<Sink, SinkError>,
  options: Exporter.RunOptions,
  rate?: string
) =>
  Exporter.run(options).pipe(
    Effect.provide(Layer.merge(clientWithConfig(sim, rate), sink)),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )

/** The error message a reader expects from a served output (the shapes the simulator serves). */
const expectedMessage = (detail: Readonly<Record<string, unknown>>): string | null => {
  const output = detail.output
  if (detail.isLargeOutput === true) return null
  if (typeof output === "string") return output.startsWith("Error: ") ? output.slice(7) : null
  const error = (output as { error?: { message?: string } }).error
  return error?.message ?? null
}

/** The rows `--steps` should hold for these executions, by step id. */
const expectedSteps = (sim: Simulator.SimulatorHandle, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const out = new Map<string, Omit<StoredStep, "date_started" | "date_ended">>()
    for (const id of ids) {
      for (const { summary, detail } of (yield* sim.steps(id)) ?? []) {
        const failed = summary.status === "FAILED"
        out.set(summary.id as string, {
          id: summary.id as string,
          execution_id: id,
          step_id: summary.stepId as string,
          type: summary.type as string,
          status: summary.status as string,
          error_message: failed ? expectedMessage(detail) : null,
          output_raw: failed ? JSON.stringify(detail.output) : null,
          raw: JSON.stringify(summary)
        })
      }
    }
    return out
  })

/** The sink's step rows equal what the API serves for `ids`. */
const expectStepsMatch = (stored: ReadonlyArray<StoredStep>, expected: Map<string, unknown>) => {
  const byId = new Map(
    stored.map((s) => {
      const { date_started: _a, date_ended: _b, ...rest } = s
      return [s.id, rest] as const
    })
  )
  expect(stored.length).toBe(byId.size)
  expect(byId.size).toBe(expected.size)
  for (const [id, row] of expected) expect(byId.get(id), id).toEqual(row)
}

const failedIds = (dataset: ReadonlyArray<Record<string, unknown>>) =>
  dataset.filter((r) => r.status === "FAILED").map((r) => r.id as string)

/** `steps: failed` writes exactly the served steps of the failed executions, then reads nothing again. */
export const exactFailed = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 1200, seed: 31, span: 30 })
    const db = fixture.fresh()
    const planned = yield* planOf(sim, db.layer(), { steps: "failed" })
    const report = yield* run(sim, db.layer(), { steps: "failed" })
    const failed = failedIds(yield* sim.dataset)
    // The plan's estimate (one failed step per failed execution) is what the run sent here.
    expect(planned.cost.steps).toEqual({
      scope: "failed",
      executions: failed.length,
      failed: failed.length,
      requests: report.steps!.requests,
      estimate: true
    })
    expect(planned.cost.requests).toBe(planned.cost.listRequests! + report.steps!.requests)
    expect(planned.backlog).toBe(0)
    expect(failed.length).toBeGreaterThan(30)
    const stored = yield* db.steps
    expectStepsMatch(stored, yield* expectedSteps(sim, failed))
    // Every shape the simulator serves: known ones give a message, the others NULL.
    expect(stored.some((s) => s.status === "FAILED" && s.error_message === null)).toBe(true)
    expect(stored.some((s) => s.error_message !== null)).toBe(true)
    expect(report.steps).toEqual({
      executions: failed.length,
      rows: stored.length,
      // One request for the execution, one for its failed step's output.
      requests: 2 * failed.length,
      rejected: 0,
      backlog: 0
    })
    const before = yield* sim.stats
    const again = yield* run(sim, db.layer(), { steps: "failed" })
    const after = yield* sim.stats
    expect(again.steps?.requests).toBe(0)
    expect(after.byRoute.get + after.byRoute.step).toBe(before.byRoute.get + before.byRoute.step)
    expectStepsMatch(yield* db.steps, yield* expectedSteps(sim, failed))
  }).pipe(Effect.scoped)

/** `steps: all`: an execution that was running is read again once when it ends, and not after. */
export const statusChange = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 300, seed: 32, span: 3 })
    const db = fixture.fresh()
    const first = yield* run(sim, db.layer(), { steps: "all" })
    const dataset = yield* sim.dataset
    expect(first.steps?.executions).toBe(dataset.length)
    const running = dataset.find((r) => r.status === "EXECUTING")!
    expect(running).toBeDefined()
    const runningSteps = (yield* db.steps).filter((s) => s.execution_id === running.id)
    expect(runningSteps.some((s) => s.status === "EXECUTING")).toBe(true)
    yield* sim.setStatus(running.id as string, "FAILED")
    const second = yield* run(sim, db.layer(), { steps: "all" })
    expect(second.steps?.executions).toBe(1)
    expect(second.steps?.requests).toBe(2)
    const rows = (yield* db.steps).filter((s) => s.execution_id === running.id)
    const last = rows.find((s) => s.status === "FAILED")
    expect(last?.output_raw).not.toBeNull()
    expectStepsMatch(
      yield* db.steps,
      yield* expectedSteps(
        sim,
        (yield* sim.dataset).map((r) => r.id as string)
      )
    )
    const third = yield* run(sim, db.layer(), { steps: "all" })
    expect(third.steps?.requests).toBe(0)
  }).pipe(Effect.scoped)

/** A cap per run leaves a backlog that later runs read, oldest first, to the same rows. */
export const backlogAcrossRuns = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 1000, seed: 33, span: 20 })
    const db = fixture.fresh()
    const dataset = yield* sim.dataset
    const failed = failedIds(dataset)
    const first = yield* run(sim, db.layer(), { steps: "failed", stepsMaxRequests: 20 })
    expect(first.steps!.requests).toBeLessThanOrEqual(20)
    expect(first.steps!.executions).toBe(10)
    expect(first.steps!.backlog).toBe(failed.length - 10)
    expect((yield* planOf(sim, db.layer(), { steps: "failed" })).backlog).toBe(failed.length - 10)
    // Oldest first: the next run reads the oldest of the backlog (the dataset is sorted by start).
    const before = new Set((yield* db.steps).map((s) => s.execution_id))
    const second = yield* run(sim, db.layer(), { steps: "failed", stepsMaxRequests: 20 })
    expect(second.steps!.executions).toBe(10)
    const added = [...new Set((yield* db.steps).map((s) => s.execution_id))].filter((id) => !before.has(id))
    expect(added.sort()).toEqual(
      failed
        .filter((id) => !before.has(id))
        .slice(0, 10)
        .sort()
    )
    let runs = 2
    let backlog = second.steps!.backlog
    while (backlog > 0 && runs < 100) {
      const next = yield* run(sim, db.layer(), { steps: "failed", stepsMaxRequests: 40 })
      expect(next.steps!.backlog).toBeLessThan(backlog)
      backlog = next.steps!.backlog
      runs++
    }
    expect(backlog).toBe(0)
    expectStepsMatch(yield* db.steps, yield* expectedSteps(sim, failed))
  }).pipe(Effect.scoped)

/** An interrupted run (after a step batch was written) then a rerun: the same rows as one run. */
export const interruptAndResume = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 1500, seed: 34, span: 30, latency: 2 })
    const db = fixture.fresh()
    const written = yield* Deferred.make<void>()
    const counting = Layer.effect(
      Sink,
      Effect.gen(function* () {
        const inner = yield* Sink
        let n = 0
        const steps = inner.steps!
        return {
          ...inner,
          steps: {
            ...steps,
            writeSteps: (batch) =>
              Effect.tap(steps.writeSteps(batch), () =>
                ++n === 2 ? Deferred.succeed(written, undefined) : Effect.void
              )
          }
        }
      })
    ).pipe(Layer.provide(db.layer()))
    const fiber = yield* Effect.fork(run(sim, counting, { steps: "failed", batchSize: 100 }))
    yield* Deferred.await(written)
    yield* Fiber.interrupt(fiber)
    const partial = yield* db.steps
    const failed = failedIds(yield* sim.dataset)
    expect(partial.length).toBeGreaterThan(0)
    expect(new Set(partial.map((s) => s.execution_id)).size).toBeLessThan(failed.length)
    const resumed = yield* run(sim, db.layer(), { steps: "failed", batchSize: 100 })
    expect(resumed.steps!.backlog).toBe(0)
    expectStepsMatch(yield* db.steps, yield* expectedSteps(sim, failed))
  }).pipe(Effect.scoped)

/**
 * While list requests are still coming, step requests take at most the share of any window of
 * the rate limit, counted on the simulator's side.
 */
export const budgetShare = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const windowMs = 1000
    const limit = 20
    const sim = yield* Simulator.start({ records: 3000, seed: 35, span: 30, rateLimit: `${limit}/1s` })
    const db = fixture.fresh()
    const report = yield* run(
      sim,
      db.layer(),
      { steps: "failed", stepsBudget: 0.25, stepsMaxRequests: 60, concurrency: 2 },
      `${limit}/1s`
    )
    expect(report.steps!.requests).toBeGreaterThan(10)
    const arrivals = (yield* sim.arrivals).filter((a) => a.status !== 429)
    const lastList = Math.max(...arrivals.filter((a) => a.route === "list").map((a) => a.at))
    const steps = arrivals.filter((a) => a.route === "get" || a.route === "step").map((a) => a.at)
    const cap = Math.floor(0.25 * limit)
    let during = 0
    for (const t of steps) {
      if (t > lastList) continue
      during++
      const inWindow = steps.filter((s) => s > t - windowMs && s <= t).length
      expect(inWindow).toBeLessThanOrEqual(cap)
    }
    // Steps did go on while the lists were read, and took the rest afterwards.
    expect(during).toBeGreaterThan(0)
    expect(steps.length).toBe(report.steps!.requests)
  }).pipe(Effect.scoped)

/** The gate's permits are held for a window after each request: the run's end does not wait for them. */
export const longWindow = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 300, seed: 36, span: 5 })
    const db = fixture.fresh()
    const report = yield* run(sim, db.layer(), { steps: "failed" }, "1000/10m")
    expect(report.steps!.executions).toBeGreaterThan(0)
    // Well under the 10-minute window (the test's own timeout is one minute).
    expect(report.durationMs).toBeLessThan(50_000)
  }).pipe(Effect.scoped)

/** Executions exported before steps were turned on are queued once, then read to the same rows. */
export const turnedOnLater = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 600, seed: 37, span: 10 })
    const db = fixture.fresh()
    const plain = yield* run(sim, db.layer(), {})
    expect(plain.steps).toBeUndefined()
    expect(yield* db.steps).toEqual([])
    const failed = failedIds(yield* sim.dataset)
    const report = yield* run(sim, db.layer(), { steps: "failed" })
    expect(report.steps?.executions).toBe(failed.length)
    expectStepsMatch(yield* db.steps, yield* expectedSteps(sim, failed))
    const again = yield* run(sim, db.layer(), { steps: "failed" })
    expect(again.steps?.requests).toBe(0)
  }).pipe(Effect.scoped)

/**
 * A step record that is not a step execution (the simulator's `malformed-steps`: an object without
 * `id` and a string in every execution's `stepExecutions`) goes to the rejects alone: the
 * execution's other steps are all kept, and a rerun stores no reject twice.
 */
export const malformedSteps = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 400, seed: 38, span: 10, fault: ["malformed-steps"] })
    const db = fixture.fresh()
    const report = yield* run(sim, db.layer(), { steps: "failed" })
    const failed = failedIds(yield* sim.dataset)
    expect(failed.length).toBeGreaterThan(5)
    expectStepsMatch(yield* db.steps, yield* expectedSteps(sim, failed))
    expect(report.steps).toMatchObject({ executions: failed.length, rejected: 2 * failed.length, backlog: 0 })
    const statusOf = Effect.flatMap(Sink, (s) => s.status).pipe(Effect.provide(db.layer()))
    expect((yield* statusOf).rejects).toBe(report.rejected + 2 * failed.length)
    const again = yield* run(sim, db.layer(), { steps: "failed" })
    expect(again.steps?.requests).toBe(0)
    expect((yield* statusOf).rejects).toBe(report.rejected + 2 * failed.length)
  }).pipe(Effect.scoped)

/**
 * A run past its steps deadline starts no more step work: the backlog waits for the next runs,
 * oldest first, which read it to the same rows. (A deadline of zero: past from the start, so the
 * outcome does not depend on timing.)
 */
export const deadline = (fixture: StepFixture) =>
  Effect.gen(function* () {
    const sim = yield* Simulator.start({ records: 800, seed: 39, span: 10 })
    const db = fixture.fresh()
    const failed = failedIds(yield* sim.dataset)
    const late = yield* run(sim, db.layer(), { steps: "failed", stepsDeadline: 0 })
    expect(late.steps).toMatchObject({ executions: 0, requests: 0, backlog: failed.length })
    expect(late.inserted).toBe((yield* sim.dataset).length)
    const capped = yield* run(sim, db.layer(), {
      steps: "failed",
      stepsMaxRequests: 10,
      stepsDeadline: "1 hour"
    })
    expect(capped.steps?.executions).toBe(5)
    // Oldest first: the five that started first.
    expect([...new Set((yield* db.steps).map((s) => s.execution_id))].sort()).toEqual(
      failed.slice(0, 5).sort()
    )
    const rest = yield* run(sim, db.layer(), { steps: "failed" })
    expect(rest.steps?.backlog).toBe(0)
    expectStepsMatch(yield* db.steps, yield* expectedSteps(sim, failed))
  }).pipe(Effect.scoped)
