import { SqlClient } from "@effect/sql/SqlClient"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as PostgresSink from "../src/PostgresSink.js"
import { makeSchemas, withPostgres } from "./pgSchemas.js"
import * as Steps from "./stepScenarios.js"

withPostgres("step executions (Postgres)", (url) => {
  const schemas = makeSchemas(url, "th_steps")
  const pg = schemas.client
  const postgres: Steps.StepFixture = {
    fresh: () => {
      const schema = schemas.next()
      return {
        layer: () => PostgresSink.layer({ url: Redacted.make(url), schema }),
        steps: Effect.flatMap(
          SqlClient,
          (sql) =>
            sql<Steps.StoredStep>`SELECT id, execution_id, step_id, type, status, date_started, date_ended, error_message, output_raw, raw FROM ${sql(schema)}.step_executions`
        ).pipe(Effect.provide(pg()), Effect.orDie)
      }
    }
  }

  afterAll(schemas.dropAll)

  describe("step executions (Postgres, simulator)", () => {
    it.live(
      "--steps failed: exactly the served steps and errors, never read again",
      () => Steps.exactFailed(postgres),
      60_000
    )
    it.live("--steps all: a status change is read once", () => Steps.statusChange(postgres), 60_000)
    it.live("a backlog carried across runs, oldest first", () => Steps.backlogAcrossRuns(postgres), 60_000)
    it.live("an interrupted run resumes to the same rows", () => Steps.interruptAndResume(postgres), 60_000)
  })
})
