import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import { Simulator } from "@taskhistory/simulator"
import { Chunk, Config, Duration, Effect, Layer, Stream } from "effect"
import { expectedIds } from "./helpers.js"

const NOW = "2026-11-28T12:00:00.000Z"

const clientFor = (sim: Simulator.SimulatorHandle) =>
  TaskHistoryClient.layerConfig(
    Config.succeed({
      apiKey: sim.apiKey,
      projectId: sim.projectId,
      baseUrl: sim.url,
      rateLimit: "10000/1s",
      retry: { base: Duration.millis(5), cap: Duration.millis(50) }
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))

describe("the core's client against the simulator", () => {
  it.live("reads every page through a foreign nextLink carrying sortBy=ASC, without leaking the key", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 640, now: NOW, nextLinkOrigin: { host: "localhost" } })
      const rows = yield* sim.dataset
      const program = Effect.gen(function* () {
        const client = yield* TaskHistoryClient.TaskHistoryClient
        const query = yield* ExecutionQuery.makeEffect({ status: "SUCCEEDED" })
        const all = yield* Stream.runCollect(client.executions(query))
        const count = yield* client.count(query)
        const first = Chunk.unsafeHead(all)
        const detail = yield* client.get(first.id)
        const step = yield* client.step(first.id, detail.stepExecutions[0]!.id)
        const replayed = yield* client.replay(first.id)
        return { ids: Chunk.toReadonlyArray(all).map((r) => r.id), count, detail, step, replayed }
      }).pipe(Effect.provide(clientFor(sim)))
      const result = yield* program
      expect(result.ids).toEqual(expectedIds(rows, { status: "SUCCEEDED" }, true))
      expect(result.count).toBe(result.ids.length)
      expect(result.step.id).toBe(result.detail.stepExecutions[0]!.id)
      expect(result.replayed.status).toBe("EXECUTING")
      const stats = yield* sim.stats
      expect(stats.foreignRequests).toBe(0)
      expect(stats.replays[result.ids[0]!]).toBe(1)
    }).pipe(Effect.scoped)
  )

  it.live(
    "copes with the OpenAPI page shape without total, 5xx and HTML faults; never re-sends a replay of unknown outcome",
    () =>
      Effect.gen(function* () {
        const sim = yield* Simulator.start({
          records: 450,
          now: NOW,
          pageShape: "data",
          includeTotal: false,
          faults: { failNext: 2, htmlRate: 0.1, errorRate: 0.1 }
        })
        const rows = yield* sim.dataset
        const client = yield* Effect.provide(TaskHistoryClient.TaskHistoryClient, clientFor(sim))
        const all = yield* Stream.runCollect(client.executions({ sortBy: "ASC" }))
        expect(Chunk.toReadonlyArray(all).map((r) => r.id)).toEqual(
          expectedIds(rows, { sortBy: "ASC" }, true)
        )
        const stats = yield* sim.stats
        expect(stats.faults.failNext).toBe(2)
        yield* sim.configure({ faults: { htmlRate: 0, errorRate: 0 }, replayFault: "apply-then-503" })
        const target = rows[10]!.id as string
        const error = yield* Effect.flip(client.replay(target))
        expect(error._tag).toBe("ReplayOutcomeUnknown")
        expect((yield* sim.stats).replays[target]).toBe(1)
      }).pipe(Effect.scoped)
  )
})
