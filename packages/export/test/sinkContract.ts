import { describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Either, type Layer, Option } from "effect"
import { type BatchResult, type ExportState, Sink, type SinkError } from "../src/Sink.js"

/** A valid execution for tests. */
export const execution = (id: string, overrides: Partial<Record<string, unknown>> = {}): WorkflowExecution =>
  ({
    id,
    userId: "user-1",
    workflowId: "wf-1",
    status: "SUCCEEDED",
    taskCount: 3,
    runDuration: 1200,
    dateStarted: "2026-11-01T10:00:00.000Z",
    dateEnded: "2026-11-01T10:00:01.200Z",
    integration: "slack",
    ...overrides
  }) as WorkflowExecution

/** The counts of a batch result, without its transitions. */
export const counts = ({ finished: _, ...rest }: BatchResult) => rest

const state = (streamKey: string, hwm: string, cursor: unknown = undefined): ExportState => ({
  streamKey,
  highWaterMark: hwm,
  longestRunMs: 1200,
  lastRunAt: "2026-11-02T00:00:00.000Z",
  cursor
})

/**
 * The behaviour every SQL sink shares. `fresh` gives a layer over an empty database; `reopen`
 * a second layer over the same database as the last `fresh` one.
 */
export const sinkContract = (
  label: string,
  fresh: () => Layer.Layer<Sink, SinkError>,
  reopen: () => Layer.Layer<Sink, SinkError>,
  rawOf: (id: string) => Effect.Effect<string | undefined, unknown, never>
) =>
  describe(label, () => {
    it.effect("migrations are idempotent: opening twice keeps the rows", () =>
      Effect.gen(function* () {
        yield* Effect.gen(function* () {
          const sink = yield* Sink
          yield* sink.writeBatch({ records: [execution("a")], rejects: [], state: undefined })
        }).pipe(Effect.provide(fresh()))
        const status = yield* Effect.flatMap(Sink, (s) => s.status).pipe(Effect.provide(reopen()))
        expect(status.rows).toBe(1)
        const again = yield* Effect.flatMap(Sink, (s) => s.status).pipe(Effect.provide(reopen()))
        expect(again.rows).toBe(1)
      })
    )

    it.effect("upserts by id and counts inserted, updated and unchanged", () =>
      Effect.gen(function* () {
        const sink = yield* Sink
        const first = yield* sink.writeBatch({
          records: [execution("a"), execution("b"), execution("c")],
          rejects: [],
          state: undefined
        })
        expect(counts(first)).toEqual({ inserted: 3, updated: 0, unchanged: 0, rejected: 0 })
        const same = yield* sink.writeBatch({
          records: [execution("a"), execution("b"), execution("c")],
          rejects: [],
          state: undefined
        })
        expect(counts(same)).toEqual({ inserted: 0, updated: 0, unchanged: 3, rejected: 0 })
        const changed = yield* sink.writeBatch({
          records: [
            execution("a"),
            execution("b", { status: "FAILED" }),
            execution("d"),
            execution("d", { status: "FAILED" })
          ],
          rejects: [],
          state: undefined
        })
        // "d" twice in one batch: the later one wins, the earlier counts as unchanged.
        expect(counts(changed)).toEqual({ inserted: 1, updated: 1, unchanged: 2, rejected: 0 })
        expect(JSON.parse((yield* rawOf("b")) ?? "null").status).toBe("FAILED")
        expect(JSON.parse((yield* rawOf("d")) ?? "null").status).toBe("FAILED")
        // The raw column is the record as received, unknown fields included.
        expect(JSON.parse((yield* rawOf("a")) ?? "null")).toEqual(execution("a"))
        const status = yield* sink.status
        expect(status.rows).toBe(4)
      }).pipe(Effect.provide(fresh()))
    )

    it.effect("reports each execution's final status once: new final rows and running rows that end", () =>
      Effect.gen(function* () {
        const sink = yield* Sink
        const write = (records: ReadonlyArray<WorkflowExecution>) =>
          Effect.map(sink.writeBatch({ records, rejects: [], state: undefined }), (r) =>
            r.finished.map((f) => `${f.workflowId}:${f.status}:${f.taskCount}:${f.runDurationMs}`).sort()
          )
        const first = yield* write([
          execution("a"),
          execution("b", { status: "EXECUTING", runDuration: undefined }),
          execution("c", { status: "DELAYED", workflowId: "wf-2" }),
          execution("d", { status: "FAILED", workflowId: "wf-2", taskCount: 0 })
        ])
        expect(first).toEqual(["wf-1:SUCCEEDED:3:1200", "wf-2:FAILED:0:1200"])
        // Read again unchanged (a look-back, a restart): nothing new.
        expect(
          yield* write([execution("a"), execution("b", { status: "EXECUTING", runDuration: undefined })])
        ).toEqual([])
        // b and c end; a changes (final to final) and is not counted again; e is new and running.
        const second = yield* write([
          execution("a", { taskCount: 4 }),
          execution("b", { status: "FAILED", taskCount: 5, runDuration: 90 }),
          execution("c", { status: "SUCCEEDED", workflowId: "wf-2" }),
          execution("e", { status: "EXECUTING" })
        ])
        expect(second).toEqual(["wf-1:FAILED:5:90", "wf-2:SUCCEEDED:3:1200"])
        expect(yield* write([execution("b", { status: "FAILED", taskCount: 5, runDuration: 90 })])).toEqual(
          []
        )
      }).pipe(Effect.provide(fresh()))
    )

    it.effect("a reopened sink does not report stored final rows again", () =>
      Effect.gen(function* () {
        yield* Effect.flatMap(Sink, (s) =>
          s.writeBatch({
            records: [execution("a"), execution("b", { status: "DELAYED" })],
            rejects: [],
            state: undefined
          })
        ).pipe(Effect.provide(fresh()))
        const again = yield* Effect.flatMap(Sink, (s) =>
          s.writeBatch({
            records: [execution("a"), execution("b", { status: "SUCCEEDED" })],
            rejects: [],
            state: undefined
          })
        ).pipe(Effect.provide(reopen()))
        expect(again.finished.map((f) => f.status)).toEqual(["SUCCEEDED"])
        expect(again.updated).toBe(1)
      })
    )

    it.effect("stores state and rejects with the rows", () =>
      Effect.gen(function* () {
        const sink = yield* Sink
        expect(Option.isNone(yield* sink.loadState("k1"))).toBe(true)
        const result = yield* sink.writeBatch({
          records: [execution("a")],
          rejects: [
            {
              id: "bad-1",
              raw: '{"id":"bad-1"}',
              reason: "status is missing",
              seenAt: "2026-11-02T00:00:00.000Z"
            },
            { id: undefined, raw: '{"x":1}', reason: "id is missing", seenAt: "2026-11-02T00:00:00.000Z" }
          ],
          state: state("k1", "2026-11-01T12:00:00.000Z", { end: "2026-11-01T12:00:00.000Z", after: null })
        })
        expect(result.rejected).toBe(2)
        // The same reject again is stored once.
        yield* sink.writeBatch({
          records: [],
          rejects: [
            {
              id: "bad-1",
              raw: '{"id":"bad-1"}',
              reason: "status is missing",
              seenAt: "2026-11-03T00:00:00.000Z"
            }
          ],
          state: state("k1", "2026-11-01T12:00:00.000Z")
        })
        const loaded = yield* sink.loadState("k1")
        expect(Option.getOrThrow(loaded)).toEqual(state("k1", "2026-11-01T12:00:00.000Z"))
        const status = yield* sink.status
        expect(status.rows).toBe(1)
        expect(status.rejects).toBe(2)
        expect(status.states.map((s) => s.streamKey)).toEqual(["k1"])
        yield* sink.writeBatch({
          records: [],
          rejects: [],
          state: state("k1", "2026-11-01T13:00:00.000Z", { end: "2026-11-01T13:00:00.000Z", after: "x" })
        })
        expect(Option.getOrThrow(yield* sink.loadState("k1")).cursor).toEqual({
          end: "2026-11-01T13:00:00.000Z",
          after: "x"
        })
      }).pipe(Effect.provide(fresh()))
    )

    it.effect("stores the alert state of each stream, replaced whole, kept across a reopen", () =>
      Effect.gen(function* () {
        yield* Effect.gen(function* () {
          const sink = yield* Sink
          expect(Option.isNone(yield* sink.loadAlertState("k1"))).toBe(true)
          yield* sink.saveAlertState("k1", { version: 1, rules: { r: {} }, outbox: [{ id: "x" }] })
          yield* sink.saveAlertState("k2", { other: true })
          yield* sink.saveAlertState("k1", { version: 1, rules: {}, outbox: [] })
        }).pipe(Effect.provide(fresh()))
        const [k1, k2] = yield* Effect.flatMap(Sink, (s) =>
          Effect.all([s.loadAlertState("k1"), s.loadAlertState("k2")])
        ).pipe(Effect.provide(reopen()))
        expect(Option.getOrThrow(k1)).toEqual({ version: 1, rules: {}, outbox: [] })
        expect(Option.getOrThrow(k2)).toEqual({ other: true })
      })
    )

    it.effect("a failing batch leaves rows and state unchanged", () =>
      Effect.gen(function* () {
        const sink = yield* Sink
        yield* sink.writeBatch({
          records: [execution("a")],
          rejects: [],
          state: state("k1", "2026-11-01T12:00:00.000Z")
        })
        const broken = { ...execution("z"), status: null } as unknown as WorkflowExecution
        const result = yield* Effect.either(
          sink.writeBatch({
            records: [execution("a", { status: "FAILED" }), execution("b"), broken],
            rejects: [{ id: "r", raw: "{}", reason: "bad", seenAt: "2026-11-02T00:00:00.000Z" }],
            state: state("k1", "2026-11-05T00:00:00.000Z")
          })
        )
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) expect(result.left._tag).toBe("SinkError")
        const status = yield* sink.status
        expect(status.rows).toBe(1)
        expect(status.rejects).toBe(0)
        expect(JSON.parse((yield* rawOf("a")) ?? "null").status).toBe("SUCCEEDED")
        expect(Option.getOrThrow(yield* sink.loadState("k1")).highWaterMark).toBe("2026-11-01T12:00:00.000Z")
      }).pipe(Effect.provide(fresh()))
    )
  })
