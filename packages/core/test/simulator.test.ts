/**
 * End to end against @taskhistory/simulator (its source, through the alias in vitest.config.ts):
 * the client reads a whole dataset through server faults, with both HTTP clients.
 */
import { describe, expect, it } from "@effect/vitest"
import { Simulator } from "@taskhistory/simulator"
import { Chunk, Config, Duration, Effect, Layer, Stream } from "effect"
import * as TaskHistoryClient from "../src/TaskHistoryClient.js"
import { httpClients } from "./utils/server.js"

const NOW = "2026-11-28T12:00:00.000Z"

describe("the client against the simulator", () => {
  for (const [name, http] of Object.entries(httpClients)) {
    it.live(`reads every execution exactly once through resets, 5xx and HTML pages (${name})`, () =>
      Effect.gen(function* () {
        const sim = yield* Simulator.start({
          records: 420,
          now: NOW,
          faults: { failNext: 2, resetRate: 0.15, errorRate: 0.1, htmlRate: 0.1 }
        })
        const rows = yield* sim.dataset
        const layer = TaskHistoryClient.layerConfig(
          Config.succeed({
            apiKey: sim.apiKey,
            projectId: sim.projectId,
            baseUrl: sim.url,
            rateLimit: "10000/1s",
            retry: { base: Duration.millis(1), cap: Duration.millis(5), maxRetries: 12 }
          })
        ).pipe(Layer.provide(http))
        const all = yield* Effect.flatMap(TaskHistoryClient.TaskHistoryClient, (client) =>
          Stream.runCollect(client.executions({}))
        ).pipe(Effect.provide(layer))
        const ids = Chunk.toReadonlyArray(all).map((r) => r.id)
        expect(ids).toHaveLength(rows.length)
        expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.id)))
        const stats = yield* sim.stats
        expect(stats.foreignRequests).toBe(0)
        expect(stats.faults.failNext).toBe(2)
        expect(stats.requests).toBeGreaterThan(5)
      }).pipe(Effect.scoped)
    )
  }

  for (const sortBy of ["DESC", "ASC"] as const) {
    it.live(`reads every execution once while executions are added, arrive late and expire (${sortBy})`, () =>
      Effect.gen(function* () {
        // Every request adds executions (started in the last minute), reveals one that started
        // long ago, and expires the oldest: the offsets of pages read at once move under them.
        const sim = yield* Simulator.start({
          records: 2500,
          now: NOW,
          seed: 5,
          churn: { insertPerRequest: 9, expirePerRequest: 4, lateArrivals: 40 }
        })
        const initial = yield* sim.dataset
        const layer = TaskHistoryClient.layerConfig(
          Config.succeed({
            apiKey: sim.apiKey,
            projectId: sim.projectId,
            baseUrl: sim.url,
            rateLimit: "10000/1s",
            pageConcurrency: 4
          })
        ).pipe(Layer.provide(httpClients.lean))
        const all = Chunk.toReadonlyArray(
          yield* Effect.flatMap(TaskHistoryClient.TaskHistoryClient, (client) =>
            Stream.runCollect(client.executions({ sortBy }))
          ).pipe(Effect.provide(layer))
        )
        const ids = all.map((r) => r.id)
        expect(new Set(ids).size).toBe(ids.length)
        // Every execution visible for the whole read is there.
        const stayed = new Set((yield* sim.dataset).map((r) => r.id as string))
        const got = new Set(ids)
        expect(initial.filter((r) => stayed.has(r.id as string) && !got.has(r.id as string))).toEqual([])
        // In the query's order.
        const starts = all.map((r) => Date.parse(r.dateStarted))
        expect(starts).toEqual([...starts].sort((a, b) => (sortBy === "ASC" ? a - b : b - a)))
        expect((yield* sim.stats).requests).toBeGreaterThan(25)
      }).pipe(Effect.scoped)
    )
  }
})
