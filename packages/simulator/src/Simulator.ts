/**
 * A local, Paragon-compatible Task History API server with a seeded dataset and fault injection,
 * for tests, benchmarks and demos.
 *
 * @example
 * ```ts
 * import { Simulator } from "@taskhistory/simulator"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const sim = yield* Simulator.start({ records: 500, seed: 7, rateLimit: "40/4s" })
 *   // sim.url, sim.projectId, sim.apiKey -> PARAGON_BASE_URL, PARAGON_PROJECT_ID, PARAGON_API_KEY
 *   const stats = yield* sim.stats
 * })
 * Effect.runPromise(Effect.scoped(program))
 * ```
 *
 * @since 0.1.0
 */

import type { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type { KnownStatus } from "@taskhistory/core/WorkflowExecution"
import { Context, Effect, Either, Layer, type Scope } from "effect"
import type { RawRecord } from "./internal/dataset.js"
import { dateMs, resolve, type SimulatorKnobs, type SimulatorOptions } from "./internal/options.js"
import { type Arrival, SimulatorServer, type Stats } from "./internal/server.js"

export type {
  /**
   * Churn: inserts, expiry, late arrivals and shared start dates.
   *
   * @since 0.1.0
   */
  ChurnOptions,
  /**
   * A hostile-server mode (`fault` knob, `--fault MODE`): a body that never ends, headers that
   * never come, an ignored offset, a looping nextLink, a Retry-After that is garbage, ...
   *
   * @since 0.1.0
   */
  FaultMode,
  /**
   * Fault probabilities and "fail the next K requests".
   *
   * @since 0.1.0
   */
  FaultOptions,
  /**
   * A per-response delay.
   *
   * @since 0.1.0
   */
  LatencyOption,
  /**
   * `"N/DURATION"` or `{ limit, window }`.
   *
   * @since 0.1.0
   */
  RateLimitOption,
  /**
   * A fault applied to replays.
   *
   * @since 0.1.0
   */
  ReplayFault,
  /**
   * Knobs that can change at runtime.
   *
   * @since 0.1.0
   */
  SimulatorKnobs,
  /**
   * Options of a simulator (every field optional).
   *
   * @since 0.1.0
   */
  SimulatorOptions
} from "./internal/options.js"

/**
 * Counters of a running simulator.
 *
 * @since 0.1.0
 */
export type SimulatorStats = Stats

/**
 * One API request as received: when, which route, the status it was answered with.
 *
 * @since 0.2.0
 */
export type SimulatorArrival = Arrival

/**
 * An execution as served: every field, including the ones the contract does not list
 * (`projectId`, `integration`, `attempt`, `replayOf`).
 *
 * @since 0.1.0
 */
export type ServedExecution = Readonly<Record<string, unknown>>

/**
 * A step execution as served: its summary (an element of an execution's `stepExecutions`) and
 * its detail (`GET .../step-executions/{id}`: input, output, `isLargeInput`, `isLargeOutput`).
 *
 * @since 0.1.0
 */
export interface ServedStep {
  readonly summary: Readonly<Record<string, unknown>>
  readonly detail: Readonly<Record<string, unknown>>
}

/**
 * An execution to add with `insert`. Unset fields are drawn like the seeded ones; the start date
 * defaults to the last minute.
 *
 * @since 0.1.0
 */
export interface InsertOptions {
  readonly dateStarted?: Date | string | number | undefined
  readonly status?: KnownStatus | undefined
  /** Hidden until revealed: a late arrival. */
  readonly hidden?: boolean | undefined
}

/**
 * A running simulator.
 *
 * @since 0.1.0
 */
export interface SimulatorHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use it as `PARAGON_BASE_URL`). */
  readonly url: string
  /** Base URL of the foreign `nextLink` origin, when configured. */
  readonly foreignUrl: string | undefined
  readonly projectId: string
  readonly apiKey: string
  /** The visible executions as served, ascending by (dateStarted, id). */
  readonly dataset: Effect.Effect<ReadonlyArray<ServedExecution>>
  /** Late arrivals not yet visible, in the order they will appear. */
  readonly hidden: Effect.Effect<ReadonlyArray<ServedExecution>>
  /** Counters: requests, 429s, replays per id, largest count in any window, foreign headers, ... */
  readonly stats: Effect.Effect<SimulatorStats>
  /**
   * The API requests received (the last 200,000), oldest first: to count, say, the step requests
   * in each window of the rate limit while list requests were still coming.
   */
  readonly arrivals: Effect.Effect<ReadonlyArray<SimulatorArrival>>
  /** Changes knobs at runtime (faults, churn, rate limit, page shape, ...). */
  readonly configure: (patch: SimulatorKnobs) => Effect.Effect<void, InvalidInput>
  /** Adds `n` new executions (started within the last minute), or the given ones. */
  readonly insert: (
    input: number | ReadonlyArray<InsertOptions>
  ) => Effect.Effect<ReadonlyArray<ServedExecution>, InvalidInput>
  /** Expires the `n` oldest visible executions, or the given ids; returns the expired ids. */
  readonly expire: (input: number | ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>>
  /** Makes `n` late arrivals visible (all by default); returns them. */
  readonly reveal: (n?: number) => Effect.Effect<ReadonlyArray<ServedExecution>>
  /** Changes an execution's status (e.g. an EXECUTING one finishes); false when unknown. */
  readonly setStatus: (id: string, status: KnownStatus) => Effect.Effect<boolean>
  /**
   * The step executions of a visible execution as served (each summary of `stepExecutions` with
   * the step's input and output), without a request; undefined for an unknown id.
   */
  readonly steps: (id: string) => Effect.Effect<ReadonlyArray<ServedStep> | undefined>
  /** Regenerates the dataset, restores the initial knobs and clears the counters. */
  readonly reset: Effect.Effect<void>
}

/**
 * The simulator as a service.
 *
 * @since 0.1.0
 */
export class Simulator extends Context.Tag("@taskhistory/simulator/Simulator")<
  Simulator,
  SimulatorHandle
>() {}

const toSpecs = (input: number | ReadonlyArray<InsertOptions>) => {
  if (typeof input === "number") {
    return Either.right(Array.from({ length: Math.max(0, Math.floor(input)) }, () => ({})))
  }
  const specs: Array<{ dateStartedMs?: number; status?: KnownStatus; hidden?: boolean }> = []
  for (const item of input) {
    const spec: { dateStartedMs?: number; status?: KnownStatus; hidden?: boolean } = {}
    if (item.dateStarted !== undefined) {
      const ms = dateMs("dateStarted", item.dateStarted)
      if (Either.isLeft(ms)) return Either.left(ms.left)
      spec.dateStartedMs = ms.right
    }
    if (item.status !== undefined) spec.status = item.status
    if (item.hidden !== undefined) spec.hidden = item.hidden
    specs.push(spec)
  }
  return Either.right(specs)
}

const makeHandle = (server: SimulatorServer): SimulatorHandle => ({
  url: server.url,
  foreignUrl: server.foreignUrl,
  projectId: server.projectId,
  apiKey: server.apiKey,
  dataset: Effect.sync((): ReadonlyArray<RawRecord> => server.records()),
  hidden: Effect.sync((): ReadonlyArray<RawRecord> => server.hiddenRecords()),
  stats: Effect.sync(() => server.stats()),
  arrivals: Effect.sync(() => server.arrivals()),
  configure: (patch) =>
    Effect.suspend(() =>
      Either.match(server.configure(patch), { onLeft: Effect.fail, onRight: () => Effect.void })
    ),
  insert: (input) =>
    Effect.suspend(() =>
      Either.match(toSpecs(input), {
        onLeft: Effect.fail,
        onRight: (specs) => Effect.sync(() => server.insert(specs))
      })
    ),
  expire: (input) =>
    Effect.sync(() => (typeof input === "number" ? server.expireOldest(input) : server.expireIds(input))),
  reveal: (n) => Effect.sync(() => server.reveal(n)),
  setStatus: (id, status) => Effect.sync(() => server.setStatus(id, status)),
  steps: (id) => Effect.sync(() => server.stepsOf(id)),
  reset: Effect.sync(() => server.reset())
})

/**
 * Starts a simulator for the lifetime of the scope. Time (rate limit, churn per second, the
 * start date of replays: `now` plus the time elapsed) comes from Effect's `Clock` unless
 * `options.clock` is given, so `TestClock` drives it. Invalid options or a port already in use are defects (a broken test fixture).
 *
 * @since 0.1.0
 */
export const start = (options: SimulatorOptions = {}): Effect.Effect<SimulatorHandle, never, Scope.Scope> =>
  Effect.gen(function* () {
    const resolved = resolve(options)
    if (Either.isLeft(resolved))
      return yield* Effect.dieMessage(`invalid simulator options: ${resolved.left.message}`)
    const effectClock = yield* Effect.clock
    const clock = options.clock ?? (() => effectClock.unsafeCurrentTimeMillis())
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => SimulatorServer.start(resolved.right, clock)),
      (s) => Effect.promise(() => s.close())
    )
    return makeHandle(server)
  })

/**
 * A Layer providing a {@link Simulator} started with `options`.
 *
 * @since 0.1.0
 */
export const layer = (options: SimulatorOptions = {}): Layer.Layer<Simulator> =>
  Layer.scoped(Simulator, start(options))

/**
 * A simulator started with {@link startSimulator}, for code that does not use Effect.
 *
 * @since 0.1.0
 */
export interface RunningSimulator {
  readonly url: string
  readonly foreignUrl: string | undefined
  readonly projectId: string
  readonly apiKey: string
  readonly stats: () => SimulatorStats
  /** The API requests received (the last 200,000), oldest first. */
  readonly arrivals: () => ReadonlyArray<SimulatorArrival>
  readonly dataset: () => ReadonlyArray<ServedExecution>
  /** Late arrivals not yet visible. */
  readonly hidden: () => ReadonlyArray<ServedExecution>
  /** Rejects with an `InvalidInput` for a bad patch. */
  readonly configure: (patch: SimulatorKnobs) => Promise<void>
  readonly insert: (n: number) => ReadonlyArray<ServedExecution>
  readonly expire: (input: number | ReadonlyArray<string>) => ReadonlyArray<string>
  readonly reveal: (n?: number) => ReadonlyArray<ServedExecution>
  /** Changes an execution's status; false when unknown. */
  readonly setStatus: (id: string, status: KnownStatus) => boolean
  /** The step executions of a visible execution as served (see `SimulatorHandle.steps`). */
  readonly steps: (id: string) => ReadonlyArray<ServedStep> | undefined
  readonly reset: () => void
  readonly close: () => Promise<void>
}

/**
 * Starts a simulator and resolves once it listens (rejects with an `InvalidInput` for bad options).
 *
 * @example
 * ```js
 * const sim = await startSimulator({ records: 50_000, seed: 1 })
 * process.env.PARAGON_BASE_URL = sim.url
 * await sim.close()
 * ```
 *
 * @since 0.1.0
 */
export const startSimulator = async (options: SimulatorOptions = {}): Promise<RunningSimulator> => {
  const resolved = resolve(options)
  if (Either.isLeft(resolved)) return Promise.reject(resolved.left)
  const server = await SimulatorServer.start(resolved.right, options.clock ?? Date.now)
  return {
    url: server.url,
    foreignUrl: server.foreignUrl,
    projectId: server.projectId,
    apiKey: server.apiKey,
    stats: () => server.stats(),
    arrivals: () => server.arrivals(),
    dataset: () => server.records(),
    hidden: () => server.hiddenRecords(),
    configure: (patch) =>
      Either.match(server.configure(patch), {
        onLeft: (e) => Promise.reject(e),
        onRight: () => Promise.resolve()
      }),
    insert: (n) => server.insert(Array.from({ length: Math.max(0, Math.floor(n)) }, () => ({}))),
    expire: (input) => (typeof input === "number" ? server.expireOldest(input) : server.expireIds(input)),
    reveal: (n) => server.reveal(n),
    setStatus: (id, status) => server.setStatus(id, status),
    steps: (id) => server.stepsOf(id),
    reset: () => server.reset(),
    close: () => server.close()
  }
}
