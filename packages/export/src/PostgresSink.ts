/**
 * A {@link Sink} that writes into Postgres through `@effect/sql-pg`: numbered migrations,
 * `INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE raw IS DISTINCT FROM excluded.raw`, and one
 * transaction per batch (rows, rejects and state together).
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted } from "effect"
import * as PgConnection from "./internal/pgConnection.js"
import * as pgUrl from "./internal/pgUrl.js"
import * as internal from "./internal/sqlSink.js"
import { Sink, type SinkError, type SinkShape } from "./Sink.js"

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * `postgres://user:password@host:port/database` (a secret: it may carry a password). What it
   * leaves out comes from libpq's environment, as `psql` would take it: `PGHOST`, `PGPORT`,
   * `PGDATABASE`, `PGUSER`, `PGPASSWORD`, then the password file (`PGPASSFILE`, default
   * `~/.pgpass`, ignored when group or others can read it); `postgres://` alone takes everything
   * from there.
   */
  readonly url: Redacted.Redacted<string>
  /**
   * The schema that holds the tables, created when missing. Default: none (the connection's
   * `search_path`, usually `public`).
   */
  readonly schema?: string | undefined
  /** Pool size. Default 4. */
  readonly maxConnections?: number | undefined
}

/**
 * A Postgres URL with its password replaced by `***`, safe for logs.
 *
 * @since 0.1.0
 */
export const describeUrl: (url: string) => string = pgUrl.describeUrl

/**
 * Builds the sink over an existing `SqlClient` (a Postgres one), running the migrations first.
 *
 * @since 0.1.0
 */
export const make = (
  name: string,
  options: { readonly schema?: string | undefined } = {}
): Effect.Effect<SinkShape, SinkError, SqlClient> =>
  Effect.flatMap(SqlClient, (sql) => internal.make(sql, { dialect: "pg", name, schema: options.schema }))

/**
 * The Postgres sink.
 *
 * @example
 * ```ts
 * import * as PostgresSink from "@taskhistory/export/PostgresSink"
 * import { Redacted } from "effect"
 * const SinkLive = PostgresSink.layer({ url: Redacted.make(process.env.DATABASE_URL!) })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sink, SinkError> => {
  const name = describeUrl(Redacted.value(options.url))
  const client = PgConnection.clientLayer(options.url, name, {
    maxConnections: options.maxConnections ?? 4,
    applicationName: "taskhistory-export"
  })
  return Layer.effect(Sink, make(name, { schema: options.schema })).pipe(Layer.provide(client))
}
