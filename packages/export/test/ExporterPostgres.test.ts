import { SqlClient } from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as PostgresSink from "../src/PostgresSink.js"
import * as Scenario from "./scenarios.js"

const url = process.env.TASKHISTORY_TEST_PG_URL

if (url === undefined || url === "") {
  describe("Exporter (Postgres)", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("Exporter Postgres tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  const base = `th_export_${process.pid}_${Date.now().toString(36)}`
  const schemas: Array<string> = []
  const pg = () => PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })
  const postgres: Scenario.SinkFixture = {
    fresh: () => {
      const schema = `${base}_${schemas.length}`
      schemas.push(schema)
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

  afterAll(() =>
    Effect.runPromise(
      Effect.flatMap(SqlClient, (sql) =>
        Effect.forEach(schemas, (s) => sql`DROP SCHEMA IF EXISTS ${sql(s)} CASCADE`, { discard: true })
      ).pipe(Effect.provide(pg()))
    )
  )

  describe("Exporter (Postgres, simulator)", () => {
    it.live("backfills, then reads only the look-back range", () =>
      Scenario.backfillThenIncremental(postgres)
    )
    it.live("is exact under inserts and expiry on every request", () => Scenario.churn(postgres))
    it.live("reads 250 executions with one start date", () => Scenario.sameStartDate(postgres))
    it.live("quarantines or fails on malformed records", () => Scenario.malformed(postgres))
    it.live("resumes an interrupted run with the same rows", () => Scenario.interruptAndResume(postgres))
  })
}
