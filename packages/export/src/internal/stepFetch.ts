/**
 * Step executions of the exported executions (`--steps`): a worker that runs beside the list
 * reads of a run, takes the oldest executions of the sink's step backlog, reads their steps (one
 * request for the execution, one more per failed step for its output) and writes them with the
 * backlog's update in one transaction (`StepStore.writeSteps`).
 *
 * Budget: every request goes through the client, so through the one rate limiter. While the list
 * reads are pending, step requests also pass a {@link Gate}: at most `share x N` of them in any
 * window `W` of the limit (N per W), counted from when a request is sent until W after it ended,
 * so the share holds on the server's side too. Once the list reads are done the gate opens and
 * the backlog is drained at the full rate, up to `maxRequests` per run; the rest waits in the
 * backlog for the next run, oldest first.
 *
 * @internal
 */
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import { Clock, Deferred, type Duration, Effect, Option, Queue, type Scope } from "effect"
import type { QueuedSteps, Reject, SinkError, StepRow, StepScope, StepStore } from "../Sink.js"
import * as Records from "./stepRecords.js"

/** The step options of a run, checked. */
export interface StepSettings {
  readonly scope: StepScope
  /** The share of the rate limit step requests may take while list reads are pending (0 < share <= 1). */
  readonly share: number
  /** Step requests per run at most (the rest stays in the backlog); undefined: no cap. */
  readonly maxRequests: number | undefined
  /** Executions whose steps are read at once. */
  readonly concurrency: number
  /** After how long from the run's start no new group of executions is read; undefined: no limit. */
  readonly deadlineMs: number | undefined
}

/** What the step work of a run did. */
export interface StepTotals {
  /** Executions whose steps were written. */
  readonly executions: number
  /** Step rows written. */
  readonly rows: number
  /** Requests sent for steps (executions and failed steps' outputs). */
  readonly requests: number
  /** Malformed step records quarantined. */
  readonly rejected: number
  /** Executions left in the backlog after the run. */
  readonly backlog: number
}

/** Lets at most `cap` requests through per window while closed; everything once opened. */
export interface Gate {
  readonly through: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly open: Effect.Effect<void>
}

/**
 * A gate of `cap` permits per `window`: a request holds a permit from before it is sent until
 * `window` after it ended, so any window of that length sees at most `cap` of them arrive.
 */
export const makeGate = (cap: number, window: Duration.Duration): Effect.Effect<Gate, never, Scope.Scope> =>
  Effect.gen(function* () {
    const semaphore = yield* Effect.makeSemaphore(Math.max(1, cap))
    const opened = yield* Deferred.make<void>()
    const scope = yield* Effect.scope
    // Interruptible: forked from the uninterruptible region below, and ended when the run's scope closes.
    const release = semaphore
      .release(1)
      .pipe(Effect.delay(window), Effect.interruptible, Effect.forkIn(scope), Effect.asVoid)
    const through = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          restore(
            Effect.raceFirst(Effect.as(semaphore.take(1), true), Effect.as(Deferred.await(opened), false))
          ),
          (held) => (held ? Effect.ensuring(restore(effect), release) : restore(effect))
        )
      )
    return { through, open: Deferred.succeed(opened, undefined).pipe(Effect.asVoid) }
  })

/** The outcome of reading one queued execution's steps. */
interface Fetched {
  readonly queued: QueuedSteps
  readonly rows: ReadonlyArray<StepRow>
  readonly rejects: ReadonlyArray<Reject>
  readonly requests: number
}

const rejectOf = (executionId: string, what: unknown, reason: string, seenAt: string): Reject => ({
  id: undefined,
  raw: JSON.stringify({ executionId, stepExecution: what }) ?? "",
  reason,
  seenAt
})

/**
 * Reads the steps of one queued execution: the execution (its `stepExecutions`), then the output
 * of each failed step. An execution gone from the API (404: past retention) leaves the backlog
 * with no rows; a malformed step record is quarantined and the others are kept; an answer that is
 * not an execution at all is quarantined; other failures end the run (the execution stays queued).
 */
const fetchOne = (
  client: TaskHistoryClientShape,
  gate: Gate,
  queued: QueuedSteps
): Effect.Effect<Fetched, RequestError> =>
  Effect.gen(function* () {
    const seenAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const id = queued.executionId
    const detail = yield* gate.through(client.get(id)).pipe(
      Effect.map(Option.some),
      Effect.catchTags({
        NotFound: () => Effect.succeed(Option.none()),
        InvalidInput: (e) =>
          Effect.succeed(Option.none<never>()).pipe(Effect.tap(() => Effect.logWarning(e.message))),
        InvalidResponse: (e) =>
          e.reason === "Shape"
            ? Effect.fail({ _tag: "Malformed" as const, reason: e.message })
            : Effect.fail(e)
      }),
      Effect.catchTag("Malformed", (m) => Effect.succeed(m))
    )
    if (!Option.isOption(detail)) {
      return {
        queued,
        rows: [],
        rejects: [rejectOf(id, null, `step executions of execution ${id}: ${detail.reason}`, seenAt)],
        requests: 1
      }
    }
    if (Option.isNone(detail)) {
      yield* Effect.logDebug(`execution ${id} is gone from the API: its steps leave the backlog`)
      return { queued, rows: [], rejects: [], requests: 1 }
    }
    let requests = 1
    const rows: Array<StepRow> = []
    // A malformed step is quarantined alone: the other steps of the execution are kept.
    const rejects: Array<Reject> = (detail.value.invalidStepExecutions ?? []).map((bad) =>
      rejectOf(id, bad.raw, `step execution [${bad.index}] of execution ${id}: ${bad.reason}`, seenAt)
    )
    for (const record of detail.value.stepExecutions as ReadonlyArray<unknown>) {
      const problem = Records.problemOf(record)
      if (problem !== undefined) {
        rejects.push(rejectOf(id, record, problem, seenAt))
        continue
      }
      const step = record as Readonly<Record<string, unknown>>
      if (!Records.isFailed(step)) {
        rows.push(Records.rowOf(id, step, undefined))
        continue
      }
      requests++
      const output = yield* gate.through(client.step(id, step.id as string)).pipe(
        Effect.map((d) => Option.some({ output: d.output, isLargeOutput: d.isLargeOutput === true })),
        Effect.catchTags({
          NotFound: () => Effect.succeed(Option.none()),
          InvalidInput: () => Effect.succeed(Option.none()),
          InvalidResponse: (e) =>
            e.reason === "Shape"
              ? Effect.as(
                  Effect.sync(() =>
                    rejects.push(
                      rejectOf(id, step.id, `output of step ${String(step.id)}: ${e.message}`, seenAt)
                    )
                  ),
                  Option.none()
                )
              : Effect.fail(e)
        })
      )
      rows.push(Records.rowOf(id, step, Option.getOrUndefined(output)))
    }
    return { queued, rows, rejects, requests }
  })

/** What the worker needs of the run. */
export interface WorkerContext {
  readonly client: TaskHistoryClientShape
  readonly store: StepStore
  readonly settings: StepSettings
  readonly streamKey: string
  readonly gate: Gate
  /** Done when the run's list reads are (the gate is opened then too). */
  readonly listDone: Deferred.Deferred<void>
  /** Offered to after each list batch: new executions may be queued. */
  readonly wake: Queue.Queue<void>
  /** When the run began (ms, from `Clock`): the start of `settings.deadlineMs`. */
  readonly startedAt: number
}

/**
 * Drains the backlog, oldest first: while the list reads go on, whenever a batch queued more;
 * after them, until the backlog is empty or the run's cap is reached.
 */
export const work = (
  ctx: WorkerContext
): Effect.Effect<Omit<StepTotals, "backlog">, RequestError | SinkError> =>
  Effect.gen(function* () {
    const { settings, store } = ctx
    let executions = 0
    let rows = 0
    let requests = 0
    let rejected = 0
    const capped = () => settings.maxRequests !== undefined && requests >= settings.maxRequests
    // Past the deadline no new group starts (the one in flight finishes and is written).
    const late = Effect.map(
      Clock.currentTimeMillis,
      (now) => settings.deadlineMs !== undefined && now >= ctx.startedAt + settings.deadlineMs
    )
    while (!capped() && !(yield* late)) {
      const listDone = yield* Deferred.isDone(ctx.listDone)
      // Drop wake-ups already pending: this read of the backlog sees what they announced.
      yield* Queue.takeAll(ctx.wake)
      let queued = yield* store.backlog(settings.concurrency * 4)
      if (settings.maxRequests !== undefined) {
        // Never start more than the cap allows: a failed execution costs at least two requests
        // (itself and its failed step's output), any other at least one.
        let left = settings.maxRequests - requests
        let take = 0
        for (const q of queued) {
          const cost = q.status === "FAILED" ? 2 : 1
          if (take > 0 && cost > left) break
          left -= cost
          take++
        }
        queued = queued.slice(0, take)
      }
      if (queued.length === 0) {
        if (listDone) break
        yield* Effect.raceFirst(Deferred.await(ctx.listDone), Queue.take(ctx.wake))
        continue
      }
      const fetched = yield* Effect.forEach(queued, (q) => fetchOne(ctx.client, ctx.gate, q), {
        concurrency: settings.concurrency
      })
      const batchRows = fetched.flatMap((f) => f.rows)
      const batchRejects = fetched.flatMap((f) => f.rejects)
      yield* store.writeSteps({
        rows: batchRows,
        done: fetched.map((f) => f.queued),
        rejects: batchRejects,
        streamKey: ctx.streamKey
      })
      executions += fetched.length
      rows += batchRows.length
      rejected += batchRejects.length
      for (const f of fetched) requests += f.requests
      if (batchRejects.length > 0) {
        yield* Effect.logWarning(
          `quarantined ${batchRejects.length} malformed step record(s); first: ${batchRejects[0]!.reason}`
        )
      }
    }
    return { executions, rows, requests, rejected }
  })
