import { SqlClient } from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as PostgresSink from "../src/PostgresSink.js"
import { sinkContract } from "./sinkContract.js"

const url = process.env.TASKHISTORY_TEST_PG_URL

if (url === undefined || url === "") {
  describe("PostgresSink", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("PostgresSink tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  const base = `th_sink_${process.pid}_${Date.now().toString(36)}`
  const schemas: Array<string> = []
  let current = ""
  const pg = () => PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })
  const fresh = () => {
    current = `${base}_${schemas.length}`
    schemas.push(current)
    return PostgresSink.layer({ url: Redacted.make(url), schema: current })
  }
  const reopen = () => PostgresSink.layer({ url: Redacted.make(url), schema: current })
  const rawOf = (id: string) =>
    Effect.flatMap(
      SqlClient,
      (sql) => sql<{ raw: string }>`SELECT raw FROM ${sql(current)}.workflow_executions WHERE id = ${id}`
    ).pipe(
      Effect.map((rows) => rows[0]?.raw),
      Effect.provide(pg()),
      Effect.orDie
    )

  afterAll(() =>
    Effect.runPromise(
      Effect.flatMap(SqlClient, (sql) =>
        Effect.forEach(schemas, (s) => sql`DROP SCHEMA IF EXISTS ${sql(s)} CASCADE`, { discard: true })
      ).pipe(Effect.provide(pg()))
    )
  )

  sinkContract("PostgresSink", fresh, reopen, rawOf)

  describe("PostgresSink (server)", () => {
    it("hides the password in its name", () => {
      expect(PostgresSink.describeUrl("postgres://u:secret@db:5432/x")).toBe("postgres://u:***@db:5432/x")
    })
  })
}
