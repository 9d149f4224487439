import { describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Either, type Layer, Option } from "effect"
import { type ExportState, Sink, type SinkError } from "../src/Sink.js"

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
        expect(first).toEqual({ inserted: 3, updated: 0, unchanged: 0, rejected: 0 })
        const same = yield* sink.writeBatch({
          records: [execution("a"), execution("b"), execution("c")],
          rejects: [],
          state: undefined
        })
        expect(same).toEqual({ inserted: 0, updated: 0, unchanged: 3, rejected: 0 })
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
        expect(changed).toEqual({ inserted: 1, updated: 1, unchanged: 2, rejected: 0 })
        expect(JSON.parse((yield* rawOf("b")) ?? "null").status).toBe("FAILED")
        expect(JSON.parse((yield* rawOf("d")) ?? "null").status).toBe("FAILED")
        // The raw column is the record as received, unknown fields included.
        expect(JSON.parse((yield* rawOf("a")) ?? "null")).toEqual(execution("a"))
        const status = yield* sink.status
        expect(status.rows).toBe(4)
      }).pipe(Effect.provide(fresh()))
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
