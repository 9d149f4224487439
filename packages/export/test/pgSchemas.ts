import { SqlClient } from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"

/**
 * Throw-away Postgres schemas for one test file: `next()` names a fresh schema (unique to this
 * process and moment), `client()` is a one-connection client to run checks with, and `dropAll()`
 * removes every schema handed out (for `afterAll`).
 */
export const makeSchemas = (url: string, prefix: string) => {
  const base = `${prefix}_${process.pid}_${Date.now().toString(36)}`
  const schemas: Array<string> = []
  const client = () => PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })
  return {
    next: (): string => {
      const schema = `${base}_${schemas.length}`
      schemas.push(schema)
      return schema
    },
    client,
    dropAll: () =>
      Effect.runPromise(
        Effect.flatMap(SqlClient, (sql) =>
          Effect.forEach(schemas, (s) => sql`DROP SCHEMA IF EXISTS ${sql(s)} CASCADE`, { discard: true })
        ).pipe(Effect.provide(client()))
      )
  }
}

/**
 * Runs `suite` with the URL of `TASKHISTORY_TEST_PG_URL`; without it, one test named `label`
 * says which variable to set.
 */
export const withPostgres = (label: string, suite: (url: string) => void) => {
  const url = process.env.TASKHISTORY_TEST_PG_URL
  if (url !== undefined && url !== "") return suite(url)
  describe(label, () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn(`${label} tests skipped: TASKHISTORY_TEST_PG_URL is not set`)
    })
  })
}
