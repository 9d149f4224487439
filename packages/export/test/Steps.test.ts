import { join } from "node:path"
import { SqlClient } from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as SqliteSink from "../src/SqliteSink.js"
import { tempDir } from "./helpers.js"
import * as Steps from "./stepScenarios.js"

const tmp = tempDir("taskhistory-steps-")
afterAll(tmp.cleanup)
let n = 0

const stepsOf = (path: string) =>
  Effect.flatMap(
    SqlClient,
    (sql) => sql<Steps.StoredStep & { exported_at: string }>`SELECT * FROM step_executions`
  ).pipe(
    Effect.map((rows) => rows.map(({ exported_at: _, ...rest }) => rest as Steps.StoredStep)),
    Effect.provide(SqliteClient.layer({ filename: path })),
    Effect.orDie
  )

const sqlite: Steps.StepFixture = {
  fresh: () => {
    const path = join(tmp.dir, `steps-${++n}.db`)
    return { layer: () => SqliteSink.layer({ path }), steps: stepsOf(path) }
  }
}

/** The SQL-client sink (`sqlSink.ts`) over SQLite: the statements the Postgres sink shares. */
const sqliteOverClient: Steps.StepFixture = {
  fresh: () => {
    const path = join(tmp.dir, `steps-${++n}.db`)
    return {
      layer: () =>
        SqliteSink.layerSqlClient(`sqlite:${path}`).pipe(
          Layer.provide(Layer.orDie(SqliteClient.layer({ filename: path })))
        ),
      steps: stepsOf(path)
    }
  }
}

describe("step executions (SQLite, simulator)", () => {
  it.live(
    "--steps failed: exactly the served steps and errors, never read again",
    () => Steps.exactFailed(sqlite),
    60_000
  )
  it.live("--steps all: a status change is read once", () => Steps.statusChange(sqlite), 60_000)
  it.live("a backlog carried across runs, oldest first", () => Steps.backlogAcrossRuns(sqlite), 60_000)
  it.live("an interrupted run resumes to the same rows", () => Steps.interruptAndResume(sqlite), 60_000)
  it.live("executions exported before --steps are queued once", () => Steps.turnedOnLater(sqlite), 60_000)
  it.live("a malformed step record is quarantined alone", () => Steps.malformedSteps(sqlite), 60_000)
  it.live("past the steps deadline the backlog waits for the next runs", () => Steps.deadline(sqlite), 60_000)
  it.live("a 10-minute rate-limit window does not hold the run's end", () => Steps.longWindow(sqlite), 60_000)
  it.live(
    "the budget share holds on the server's side while lists are read",
    () => Steps.budgetShare(sqlite),
    60_000
  )
})

describe("step executions (SQLite through @effect/sql, simulator)", () => {
  it.live(
    "--steps failed: exactly the served steps and errors",
    () => Steps.exactFailed(sqliteOverClient),
    60_000
  )
  it.live("--steps all: a status change is read once", () => Steps.statusChange(sqliteOverClient), 60_000)
})
