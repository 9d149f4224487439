/**
 * The step worker's deadline, on Effect's TestClock: each execution's read takes one (virtual)
 * second; past the deadline no new group starts, the group in flight is written, the rest stays
 * queued, oldest first.
 */
import { describe, expect, it } from "@effect/vitest"
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import { Deferred, Duration, Effect, Fiber, Queue, Stream, TestClock } from "effect"
import { makeGate, work } from "../src/internal/stepFetch.js"
import type { QueuedSteps, StepBatch, StepStore } from "../src/Sink.js"

const unused = Effect.dieMessage("not used by the step worker")

/** A client whose `get` answers an execution with one succeeded step after a second. */
const slowClient: TaskHistoryClientShape = {
  listPage: () => unused,
  pages: () => Stream.die("not used"),
  executions: () => Stream.die("not used"),
  count: () => unused,
  get: (id) =>
    Effect.as(Effect.sleep(Duration.seconds(1)), {
      id,
      status: "SUCCEEDED",
      dateStarted: "2026-11-01T00:00:00.000Z",
      stepExecutions: [{ id: `${id}-s1`, status: "SUCCEEDED" }]
    }),
  step: () => unused,
  replay: () => unused,
  costPlan: () => unused
}

/** A backlog in memory, oldest first. */
const memoryStore = (queued: Array<QueuedSteps>) => {
  const written: Array<StepBatch> = []
  const store: StepStore = {
    backlog: (limit) => Effect.sync(() => queued.slice(0, limit)),
    backlogSize: Effect.sync(() => queued.length),
    writeSteps: (batch) =>
      Effect.sync(() => {
        written.push(batch)
        for (const done of batch.done) queued.splice(queued.indexOf(done), 1)
      }),
    queueStored: () => Effect.succeed(0)
  }
  return { store, written, queued }
}

describe("step worker deadline (TestClock)", () => {
  it.scoped("stops starting groups at the deadline; the group in flight is written; the rest waits", () =>
    Effect.gen(function* () {
      const queued = Array.from({ length: 20 }, (_, i) => ({
        executionId: `e${String(i).padStart(2, "0")}`,
        status: "SUCCEEDED",
        dateStarted: `2026-11-01T00:00:${String(i).padStart(2, "0")}.000Z`,
        queuedAt: "2026-11-02T00:00:00.000Z"
      }))
      const memory = memoryStore([...queued])
      const gate = yield* makeGate(100, Duration.seconds(10))
      yield* gate.open
      const listDone = yield* Deferred.make<void>()
      yield* Deferred.succeed(listDone, undefined)
      const fiber = yield* Effect.fork(
        work({
          client: slowClient,
          store: memory.store,
          // One execution at a time, four per group: a group takes 4 s.
          settings: { scope: "all", share: 1, maxRequests: undefined, concurrency: 1, deadlineMs: 5_000 },
          streamKey: "all",
          gate,
          listDone,
          wake: yield* Queue.sliding<void>(1),
          startedAt: 0
        })
      )
      yield* TestClock.adjust(Duration.minutes(1))
      const totals = yield* Fiber.join(fiber)
      // Groups start at 0 s and 4 s (before 5 s); at 8 s the deadline has passed.
      expect(totals).toEqual({ executions: 8, rows: 8, requests: 8, rejected: 0 })
      expect(memory.written.flatMap((b) => b.done.map((d) => d.executionId))).toEqual(
        queued.slice(0, 8).map((q) => q.executionId)
      )
      expect(memory.queued.map((q) => q.executionId)).toEqual(queued.slice(8).map((q) => q.executionId))
    })
  )
})
