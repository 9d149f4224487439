import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeHttpClient } from "@effect/platform-node"
import { SqlClient } from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { expect } from "@effect/vitest"
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { decodeExecution } from "@taskhistory/core/WorkflowExecution"
import type { Simulator } from "@taskhistory/simulator"
import { Duration, Effect, Layer, Logger, LogLevel } from "effect"
import * as Exporter from "../src/Exporter.js"
import type { Sink, SinkError } from "../src/Sink.js"

/** A temp directory removed by the returned cleanup. */
export const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The real client against a simulator: undici, in-memory limiter, fast retries. */
export const clientLayer = (sim: Simulator.SimulatorHandle, rateLimit = "100000/1s") =>
  TaskHistoryClient.layer.pipe(
    Layer.provide(RateLimiter.layerFromConfig),
    Layer.provide(
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

/** One `Exporter.run` against a simulator into `sink`, with only errors logged. */
export const runWith = (
  sim: Simulator.SimulatorHandle,
  sink: Layer.Layer<Sink, SinkError>,
  options: Exporter.RunOptions = {},
  rate?: string
) =>
  Exporter.run(options).pipe(
    Effect.provide(Layer.merge(clientLayer(sim, rate), sink)),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )

/** Rows of a SQLite sink: id -> parsed raw. */
export const sqliteRows = (path: string) =>
  Effect.flatMap(
    SqlClient,
    (sql) => sql<{ id: string; raw: string }>`SELECT id, raw FROM workflow_executions`
  ).pipe(
    Effect.map((rows) => new Map(rows.map((r) => [r.id, JSON.parse(r.raw) as Record<string, unknown>]))),
    Effect.provide(SqliteClient.layer({ filename: path })),
    Effect.orDie
  )

/** The valid executions of a dataset, by id. */
export const validById = (dataset: ReadonlyArray<Record<string, unknown>>) => {
  const out = new Map<string, Record<string, unknown>>()
  for (const record of dataset) {
    if (decodeExecution(record)._tag === "Right") out.set(record.id as string, record)
  }
  return out
}

/**
 * The sink holds exactly the valid records of `dataset`, with the same values, plus only rows
 * whose ids are in `allowedExtra` (expired while or after being read).
 */
export const expectSinkMatches = (
  rows: ReadonlyMap<string, Record<string, unknown>>,
  dataset: ReadonlyArray<Record<string, unknown>>,
  allowedExtra: ReadonlySet<string> = new Set()
) => {
  const expected = validById(dataset)
  const missing: Array<string> = []
  const different: Array<string> = []
  for (const [id, record] of expected) {
    const row = rows.get(id)
    if (row === undefined) missing.push(id)
    else if (JSON.stringify(row) !== JSON.stringify(record)) different.push(id)
  }
  const extra = [...rows.keys()].filter((id) => !expected.has(id) && !allowedExtra.has(id))
  expect({
    missing: missing.slice(0, 5),
    different: different.slice(0, 5),
    extra: extra.slice(0, 5)
  }).toEqual({
    missing: [],
    different: [],
    extra: []
  })
  expect(missing.length + different.length + extra.length).toBe(0)
}
