import { SqlClient } from "@effect/sql/SqlClient"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as PostgresSink from "../src/PostgresSink.js"
import { makeSchemas, withPostgres } from "./pgSchemas.js"
import * as Scenario from "./scenarios.js"

withPostgres("Exporter (Postgres)", (url) => {
  const schemas = makeSchemas(url, "th_export")
  const pg = schemas.client
  const postgres: Scenario.SinkFixture = {
    fresh: () => {
      const schema = schemas.next()
      return {
        layer: () => PostgresSink.layer({ url: Redacted.make(url), schema }),
        rows: Effect.flatMap(
          SqlClient,
          (sql) => sql<{ id: string; raw: string }>`SELECT id, raw FROM ${sql(schema)}.workflow_executions`
        ).pipe(
          Effect.map(
            (rows) => new Map(rows.map((r) => [r.id, JSON.parse(r.raw) as Record<string, unknown>]))
          ),
          Effect.provide(pg()),
          Effect.orDie
        )
      }
    }
  }

  afterAll(schemas.dropAll)

  describe("Exporter (Postgres, simulator)", () => {
    it.live("backfills, then reads only the look-back range", () =>
      Scenario.backfillThenIncremental(postgres)
    )
    it.live("is exact under inserts and expiry on every request", () => Scenario.churn(postgres))
    it.live("reads 250 executions with one start date", () => Scenario.sameStartDate(postgres))
    it.live("quarantines or fails on malformed records", () => Scenario.malformed(postgres))
    it.live("resumes an interrupted run with the same rows", () => Scenario.interruptAndResume(postgres))
  })
})
