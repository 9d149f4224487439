/**
 * The export reader of the Postgres sink (see `sqlReader.ts` for the queries it shares with the
 * SQLite reader), in a module of its own: a SQLite reader does not load the Postgres client.
 *
 * @internal
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { Effect, Layer, Redacted, type Scope, Stream } from "effect"
import type { CountBy, ExportReaderShape } from "../ExportReader.js"
import type { SinkError } from "../Sink.js"
import * as GroupCounts from "./groupCounts.js"
import * as PgConnection from "./pgConnection.js"
import { describeUrl } from "./pgUrl.js"
import { checkQuery } from "./readerQuery.js"
import * as SinkErrors from "./sinkErrors.js"
import {
  addCounts,
  countsSelect,
  freshnessOf,
  neverFetchedSteps,
  noSteps,
  notAnExport,
  select,
  stepFailuresSelect,
  stepScopesSql,
  toExecution,
  toFailure,
  where
} from "./sqlReader.js"
import { type StateRow, selectStates, tables } from "./sqlSchema.js"

/** A reader of a Postgres export; `schema` holds the exporter's tables (default: the search path). */
export const makePostgres = (
  url: Redacted.Redacted<string>,
  schema: string | undefined
): Effect.Effect<ExportReaderShape, SinkError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = describeUrl(Redacted.value(url))
    const context = yield* Layer.build(
      PgConnection.clientLayer(url, name, { maxConnections: 2, applicationName: "taskhistory-export-reader" })
    )
    const sql: SqlClient = yield* Effect.provide(PgClient.PgClient, context)
    const t = tables(schema)
    yield* Effect.mapError(sql.unsafe(`SELECT 1 FROM ${t.executions} LIMIT 1`), (e) =>
      notAnExport(name, "open", e)
    )
    const executions = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.map(checkQuery(query), () => {
          const q = select("pg", t, query)
          return sql.unsafe<Record<string, unknown>>(q.sql, [...q.params]).stream.pipe(
            Stream.mapError((e) => SinkErrors.fromSql(name, "read executions", e)),
            Stream.map((r) =>
              toExecution([
                r.id,
                r.user_id,
                r.workflow_id,
                r.status,
                r.task_count,
                r.run_duration_ms,
                r.date_started,
                r.date_ended
              ])
            ),
            Stream.filter(q.keep)
          )
        })
      )
    const freshness = Effect.map(
      Effect.mapError(sql.unsafe<StateRow>(selectStates(t)), (e) =>
        SinkErrors.fromSql(name, "read freshness", e)
      ),
      freshnessOf
    )
    const stepFailures = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const scopes = yield* Effect.mapError(sql.unsafe(stepScopesSql(t)), (e) => noSteps(name, e))
          if (scopes.length === 0) return yield* neverFetchedSteps(name)
          const q = stepFailuresSelect("pg", t, query)
          return sql.unsafe<Record<string, unknown>>(q.sql, [...q.params]).stream.pipe(
            Stream.mapError((e) => noSteps(name, e)),
            Stream.filter((r) => q.keep(r.date_started)),
            Stream.map((r) => toFailure(r.execution_id, r.workflow_id, r.error_message))
          )
        })
      )
    const countBy = (query: ExecutionQuery, by: CountBy) =>
      Effect.gen(function* () {
        yield* checkQuery(query)
        const w = where("pg", query, 0)
        const rows = yield* Effect.mapError(sql.unsafe(countsSelect(t, by, w), [...w.params]).values, (e) =>
          SinkErrors.fromSql(name, "read executions", e)
        )
        const counter = GroupCounts.make(by)
        for (const r of rows) addCounts(counter, r)
        return counter.result()
      })
    return { name, executions, freshness, stepFailures, countBy }
  })
