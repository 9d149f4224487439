import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as Usage from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Simulator } from "@taskhistory/simulator"
import { Chunk, Effect, Either, Layer, Redacted, type Scope, Stream } from "effect"
import * as ExportReader from "../src/ExportReader.js"
import * as FileSink from "../src/FileSink.js"
import * as PostgresSink from "../src/PostgresSink.js"
import * as SqliteSink from "../src/SqliteSink.js"
import { clientLayer, runWith, tempDir } from "./helpers.js"
import { makeSchemas } from "./pgSchemas.js"

const NOW = "2026-11-30T00:00:00.000Z"
const pgUrl = process.env.TASKHISTORY_TEST_PG_URL
const schemas = pgUrl === undefined ? undefined : makeSchemas(pgUrl, "th_reader")
afterAll(() => schemas?.dropAll())

/** What the API serves for a query, through the client (the reference). */
const fromApi = (sim: Simulator.SimulatorHandle, query: ExecutionQuery.ExecutionQuery) =>
  Effect.flatMap(TaskHistoryClient.TaskHistoryClient, (client) =>
    Stream.runCollect(client.executions(query))
  ).pipe(Effect.map(Chunk.toReadonlyArray), Effect.provide(clientLayer(sim)))

const byId = (rows: ReadonlyArray<WorkflowExecution>) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1))
/** The fields the export keeps as columns, as the reader gives them back. */
const fields = (e: WorkflowExecution) => ({
  id: e.id,
  userId: e.userId,
  workflowId: e.workflowId,
  status: e.status,
  taskCount: e.taskCount,
  runDuration: e.runDuration ?? null,
  dateStarted: new Date(e.dateStarted).toISOString(),
  dateEnded: e.dateEnded === undefined || e.dateEnded === null ? null : new Date(e.dateEnded).toISOString()
})

const queries: ReadonlyArray<ExecutionQuery.ExecutionQueryInput> = [
  {},
  { status: "failed" },
  { afterDate: "2026-11-10", beforeDate: "2026-11-20T12:00:00Z" },
  { status: "SUCCEEDED", afterDate: "2026-11-25" }
]

const contract = (
  name: string,
  reader: (
    sim: Simulator.SimulatorHandle
  ) => Effect.Effect<ExportReader.ExportReaderShape, never, Scope.Scope>
) =>
  describe(name, () => {
    it.live("reads back what was exported, with the API's filters and the same Usage, at zero requests", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const sim = yield* Simulator.start({ records: 1500, seed: 23, now: NOW, span: 30 })
          const r = yield* reader(sim)
          const workflow = (yield* sim.dataset)[0]!.workflowId as string
          const all = [...queries, { workflowId: workflow }].map((input) =>
            Either.getOrThrow(ExecutionQuery.make(input))
          )
          const before = (yield* sim.stats).requests
          const exported = yield* Effect.forEach(all, (query) =>
            Effect.map(Stream.runCollect(r.executions(query)), Chunk.toReadonlyArray)
          )
          // Reading the export made no request.
          expect((yield* sim.stats).requests).toBe(before)
          for (const [i, query] of all.entries()) {
            const served = yield* fromApi(sim, query)
            expect(served.length).toBeGreaterThan(0)
            expect(byId(exported[i]!).map(fields)).toEqual(byId(served).map(fields))
            const a = yield* Usage.fromStream(Stream.fromIterable(exported[i]!), "workflow")
            const b = yield* Usage.fromStream(Stream.fromIterable(served), "workflow")
            expect(a).toEqual(b)
          }
          const fresh = yield* r.freshness
          expect(fresh.streams).toBe(1)
          expect(Date.parse(fresh.lastRunAt!)).toBeGreaterThan(0)
          expect(fresh.highWaterMark).toBeDefined()
          const refused = yield* Effect.flip(Stream.runDrain(r.executions({ integration: "slack" })))
          expect(refused._tag).toBe("InvalidInput")
          expect(refused.message).toContain("--integration")
          // Exported without --steps: the step tables may exist, their data does not.
          if (r.stepFailures !== undefined) {
            const none = yield* Effect.flip(Stream.runDrain(r.stepFailures(all[0]!)))
            expect(none._tag).toBe("SinkError")
            expect(none.message).toContain("no run of this export fetched step executions")
            expect(none.message).toContain("--steps failed")
          }
        })
      )
    )
  })

contract("ExportReader: SQLite", (sim) =>
  Effect.gen(function* () {
    const { dir, cleanup } = tempDir("th-reader-")
    yield* Effect.addFinalizer(() => Effect.sync(cleanup))
    const path = join(dir, "th.db")
    yield* runWith(sim, SqliteSink.layer({ path }), { since: "2026-10-01" })
    const context = yield* Layer.build(ExportReader.layerSqlite(path))
    return yield* Effect.provide(ExportReader.ExportReader, context)
  }).pipe(Effect.orDie)
)

for (const format of ["ndjson", "csv", "parquet"] as const) {
  contract(`ExportReader: ${format} files`, (sim) =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("th-reader-")
      yield* Effect.addFinalizer(() => Effect.sync(cleanup))
      yield* runWith(sim, FileSink.layer(format, { dir }), { since: "2026-10-01" })
      const context = yield* Layer.build(ExportReader.layer({ _tag: "File", format, dir }))
      return yield* Effect.provide(ExportReader.ExportReader, context)
    }).pipe(Effect.orDie)
  )
}

if (pgUrl !== undefined && schemas !== undefined) {
  contract("ExportReader: Postgres", (sim) =>
    Effect.gen(function* () {
      const schema = schemas.next()
      yield* runWith(sim, PostgresSink.layer({ url: Redacted.make(pgUrl), schema }), { since: "2026-10-01" })
      const context = yield* Layer.build(ExportReader.layerPostgres(pgUrl, schema))
      return yield* Effect.provide(ExportReader.ExportReader, context)
    }).pipe(Effect.orDie)
  )
} else {
  describe("ExportReader: Postgres", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("ExportReader Postgres tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
}

describe("ExportReader: errors", () => {
  it.effect("a missing file or a file that is not an export is Unavailable, and nothing is created", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("th-reader-")
      const missing = join(dir, "nope.db")
      const error = yield* Effect.flip(Effect.scoped(Layer.build(ExportReader.layerSqlite(missing))))
      expect(error._tag).toBe("SinkError")
      expect(error.message).toContain(`sqlite:${missing}`)
      const notDb = join(dir, "text.db")
      writeFileSync(notDb, "hello")
      const bad = yield* Effect.flip(Effect.scoped(Layer.build(ExportReader.layerSqlite(notDb))))
      expect(bad.message).toContain("taskhistory-exporter run")
      const file = yield* Effect.flip(
        Effect.scoped(Layer.build(ExportReader.layer({ _tag: "File", format: "csv", dir })))
      )
      expect(file._tag).toBe("SinkError")
      expect(file.message).toContain("_state.json")
      cleanup()
    })
  )
})
