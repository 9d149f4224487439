/**
 * A {@link Sink} that writes into a SQLite file: WAL mode, numbered migrations, one transaction
 * per batch (rows, rejects and state together). {@link layer} drives better-sqlite3 directly (the
 * driver of `@effect/sql-sqlite-node`) with prepared single-row statements; {@link make} serves
 * the same tables over any SQLite `SqlClient`.
 *
 * @since 0.1.0
 */
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import * as direct from "./internal/sqliteSink.js"
import * as internal from "./internal/sqlSink.js"
import { Sink, SinkError, type SinkShape } from "./Sink.js"

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The database file; created (with its directory) when missing. */
  readonly path: string
}

/**
 * The default database file of the exporter.
 *
 * @since 0.1.0
 */
export const defaultPath = "./taskhistory.db"

/**
 * Builds the sink over an existing `SqlClient` (a SQLite one), running the migrations first.
 *
 * @since 0.1.0
 */
export const make = (name: string): Effect.Effect<SinkShape, SinkError, SqlClient> =>
  Effect.flatMap(SqlClient, (sql) => internal.make(sql, { dialect: "sqlite", name }))

/**
 * The SQLite sink for the file at `path`.
 *
 * @example
 * ```ts
 * import * as SqliteSink from "@taskhistory/export/SqliteSink"
 * const SinkLive = SqliteSink.layer({ path: "./taskhistory.db" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sink, SinkError> => {
  const name = `sqlite:${options.path}`
  const prepare = Effect.try({
    try: () => {
      if (options.path !== ":memory:") mkdirSync(dirname(resolve(options.path)), { recursive: true })
    },
    catch: (cause) =>
      new SinkError({
        sink: name,
        operation: "open",
        detail: cause instanceof Error ? cause.message : String(cause)
      })
  })
  return Layer.scoped(Sink, Effect.zipRight(prepare, direct.make(options.path, name)))
}
