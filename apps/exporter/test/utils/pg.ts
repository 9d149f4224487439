/**
 * The real Postgres of the tests (`TASKHISTORY_TEST_PG_URL`): statements on it, a schema of a
 * test's own as a sink spec (`?schema=`), and the lease rows replicas keep there.
 */
import { PgClient } from "@effect/sql-pg"
import type { RunningSimulator } from "@taskhistory/simulator"
import { Effect, Redacted } from "effect"
import { diff, type Running } from "./harness.js"

/** The Postgres URL of the tests, `undefined` when not set (the suites that need it say so). */
export const pgUrl: string | undefined =
  process.env.TASKHISTORY_TEST_PG_URL === "" ? undefined : process.env.TASKHISTORY_TEST_PG_URL

/** Runs `f` on one connection to the tests' Postgres. */
export const withPg = <A>(f: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.flatMap(PgClient.PgClient, f).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(pgUrl ?? ""), maxConnections: 1 })),
      Effect.scoped
    )
  )

/** The sink spec of `schema` in the tests' database (the sink creates it). */
export const sinkOf = (schema: string, url: string = pgUrl ?? "") =>
  `${url}${url.includes("?") ? "&" : "?"}schema=${schema}`

/** Names for schemas of a test file (`th_PREFIX_PID_TIME_N`), and dropping every one handed out. */
export const schemas = (prefix: string) => {
  const base = `th_${prefix}_${process.pid}_${Date.now().toString(36)}`
  const made: Array<string> = []
  return {
    next: () => {
      const schema = `${base}_${made.length}`
      made.push(schema)
      return schema
    },
    dropAll: () =>
      withPg((sql) =>
        Effect.forEach(made, (s) => sql.unsafe(`DROP SCHEMA IF EXISTS ${s} CASCADE`), { discard: true })
      )
  }
}

/** A row of `export_leases`. */
export interface LeaseRow {
  holder: string | null
  token: string
  acquired_at: Date
  renewed_at: Date
  expires_at: Date
}

/** The (first) lease row of a schema, `undefined` when there is none. */
export const leaseOf = (schema: string) =>
  withPg((sql) =>
    sql.unsafe<LeaseRow>(
      `SELECT holder, token, acquired_at, renewed_at, expires_at FROM ${schema}.export_leases`
    )
  ).then((rows) => rows[0])

/** The rows of `workflow_executions` in a schema: id -> parsed raw record. */
export const rowsOf = (schema: string) =>
  withPg((sql) =>
    sql.unsafe<{ id: string; raw: string }>(`SELECT id, raw FROM ${schema}.workflow_executions`)
  ).then((rows) => new Map(rows.map((r) => [r.id, JSON.parse(r.raw) as unknown])))

/** Whether a schema holds exactly the simulator's visible dataset (false while it has no table). */
export const exactIn = async (schema: string, sim: RunningSimulator) => {
  const rows = await rowsOf(schema).catch(() => new Map<string, unknown>())
  return rows.size === sim.dataset().length && diff(rows, sim.dataset()).length === 0
}

/** The replica whose pid is in a lease's holder (`host:pid:random`). */
export const replicaOf = (replicas: ReadonlyArray<Running>, holder: string | null | undefined) =>
  replicas.find((r) => holder?.split(":").at(-2) === String(r.child.pid))
