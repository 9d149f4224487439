import { SqlClient } from "@effect/sql/SqlClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as PostgresSink from "../src/PostgresSink.js"
import { makeSchemas, withPostgres } from "./pgSchemas.js"
import { sinkContract } from "./sinkContract.js"

withPostgres("PostgresSink", (url) => {
  const schemas = makeSchemas(url, "th_sink")
  let current = ""
  const pg = schemas.client
  const fresh = () => {
    current = schemas.next()
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

  afterAll(schemas.dropAll)

  sinkContract("PostgresSink", fresh, reopen, rawOf)

  describe("PostgresSink (server)", () => {
    it("hides the password in its name", () => {
      expect(PostgresSink.describeUrl("postgres://u:secret@db:5432/x")).toBe("postgres://u:***@db:5432/x")
    })
  })
})
