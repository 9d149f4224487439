import { SqlClient } from "@effect/sql/SqlClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Either, Fiber, Layer, Option, Redacted } from "effect"
import * as PostgresSink from "../src/PostgresSink.js"
import { Sink, type SinkShape } from "../src/Sink.js"
import { makeSchemas, withPostgres } from "./pgSchemas.js"
import { execution } from "./sinkContract.js"

withPostgres("PostgresSink leases", (url) => {
  const schemas = makeSchemas(url, "th_lease")
  afterAll(schemas.dropAll)

  const open = (schema: string) =>
    Effect.map(Layer.build(PostgresSink.layer({ url: Redacted.make(url), schema })), (context) =>
      Context.get(context, Sink)
    )
  const leasesOf = (sink: SinkShape) => {
    if (sink.leases === undefined || sink.fenced === undefined) throw new Error("no leases")
    return { store: sink.leases, fenced: sink.fenced }
  }
  const state = (hwm: string) => ({
    streamKey: "all",
    highWaterMark: hwm,
    longestRunMs: 0,
    lastRunAt: hwm,
    cursor: undefined
  })

  describe("PostgresSink leases", () => {
    it.scopedLive("one holder at a time; the token grows at each acquisition; release frees it at once", () =>
      Effect.gen(function* () {
        const sink = yield* open(schemas.next())
        const { store } = leasesOf(sink)
        const a = yield* store.acquire("p/all", "a", 60_000)
        expect(Option.isSome(a)).toBe(true)
        const lease = Option.getOrThrow(a).lease
        expect(lease.token).toBe(1)
        expect(Option.isNone(yield* store.acquire("p/all", "b", 60_000))).toBe(true)
        const renewed = yield* store.renew(lease, 60_000)
        expect(Option.isSome(renewed)).toBe(true)
        yield* store.release(lease)
        const b = Option.getOrThrow(yield* store.acquire("p/all", "b", 60_000))
        expect(b.lease.token).toBe(2)
        // A release is a hand-over, not a takeover.
        expect(b.takenFrom).toBeUndefined()
        // A's lease is gone: its renewal says so.
        expect(Option.isNone(yield* store.renew(lease, 60_000))).toBe(true)
        const listed = yield* store.list
        expect(listed.map((l) => [l.stream, l.holder, l.token, l.expired])).toEqual([
          ["p/all", "b", 2, false]
        ])
        expect(yield* store.heartbeat("a", 60_000)).toBe(1)
        expect(yield* store.heartbeat("b", 60_000)).toBe(2)
        yield* store.leave("a")
        expect(yield* store.heartbeat("b", 60_000)).toBe(1)
      })
    )

    it.scopedLive(
      "an expired lease is taken over (counted as taken from its holder); the old holder's writes are refused",
      () =>
        Effect.gen(function* () {
          const schema = schemas.next()
          const sink = yield* open(schema)
          const { store, fenced } = leasesOf(sink)
          const old = Option.getOrThrow(yield* store.acquire("p/all", "old", 200)).lease
          const first = yield* fenced(old).writeBatch({
            records: [execution("e1")],
            rejects: [],
            state: state("2026-11-01T00:00:00.000Z")
          })
          expect(first.inserted).toBe(1)
          yield* Effect.sleep("400 millis")
          // Expired: even before a takeover the old holder cannot write.
          const expired = yield* Effect.either(
            fenced(old).writeBatch({
              records: [execution("e2")],
              rejects: [],
              state: state("2026-11-02T00:00:00.000Z")
            })
          )
          expect(Either.isLeft(expired) && expired.left.reason).toBe("Fenced")
          const next = Option.getOrThrow(yield* store.acquire("p/all", "new", 60_000))
          expect(next.takenFrom).toBe("old")
          expect(next.lease.token).toBe(old.token + 1)
          expect(Option.isNone(yield* store.renew(old, 60_000))).toBe(true)
          const refused = yield* Effect.either(
            fenced(old).writeBatch({
              records: [execution("e3")],
              rejects: [],
              state: state("2026-11-03T00:00:00.000Z")
            })
          )
          expect(Either.isLeft(refused) && refused.left.reason).toBe("Fenced")
          expect(Either.isLeft(refused) && refused.left.message).toContain("nothing was written")
          const written = yield* fenced(next.lease).writeBatch({
            records: [execution("e4")],
            rejects: [],
            state: state("2026-11-04T00:00:00.000Z")
          })
          expect(written.inserted).toBe(1)
          const sql = yield* SqlClient
          const ids = yield* sql<{
            id: string
          }>`SELECT id FROM ${sql(schema)}.workflow_executions ORDER BY id`
          expect(ids.map((r) => r.id)).toEqual(["e1", "e4"])
          const stored = yield* sink.loadState("all")
          expect(Option.getOrThrow(stored).highWaterMark).toBe("2026-11-04T00:00:00.000Z")
        }).pipe(Effect.provide(schemas.client()))
    )

    it.scopedLive(
      "a takeover waits for the batch in flight of the old holder: the new one reads the state after it",
      () =>
        Effect.gen(function* () {
          const schema = schemas.next()
          const sink = yield* open(schema)
          const { store } = leasesOf(sink)
          const old = Option.getOrThrow(yield* store.acquire("p/all", "old", 1_000)).lease
          const sql = yield* SqlClient
          // The old holder's transaction: fence check (takes the row lock), then a slow write.
          const inBatch = yield* Deferred.make<void>()
          const finish = yield* Deferred.make<void>()
          const batch = yield* Effect.fork(
            Effect.gen(function* () {
              const held = yield* sql.unsafe(
                `SELECT token FROM ${schema}.export_leases WHERE stream = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp() FOR SHARE`,
                [old.stream, old.holder, old.token]
              )
              expect(held).toHaveLength(1)
              yield* Deferred.succeed(inBatch, undefined)
              yield* Deferred.await(finish)
              yield* sql.unsafe(
                `INSERT INTO ${schema}.export_state (stream_key, longest_run_ms, updated_at) VALUES ('all', 0, now())`
              )
            }).pipe(sql.withTransaction)
          )
          yield* Deferred.await(inBatch)
          yield* Effect.sleep("1200 millis")
          // The lease expired while the batch holds the row: the takeover blocks until it ends.
          const takeover = yield* Effect.fork(store.acquire("p/all", "new", 60_000))
          yield* Effect.sleep("300 millis")
          expect(takeover.unsafePoll()).toBeNull()
          yield* Deferred.succeed(finish, undefined)
          yield* Fiber.join(batch)
          const next = Option.getOrThrow(yield* Fiber.join(takeover))
          expect(next.lease.holder).toBe("new")
          expect(Option.isSome(yield* sink.loadState("all"))).toBe(true)
        }).pipe(Effect.provide(schemas.client()))
    )
  })
})
