/**
 * A {@link Sink} that writes into a SQLite file: WAL mode, numbered migrations, one transaction
 * per batch (rows, rejects and state together). Two implementations of the same tables:
 *
 * - {@link make} / {@link layer}: better-sqlite3 driven directly (the driver of
 *   `@effect/sql-sqlite-node`), one prepared statement per row. The fast one, and the one the
 *   exporter uses.
 * - {@link makeSqlClient} / {@link layerSqlClient}: the same tables over a SQLite `SqlClient` you
 *   already have (128-row statements: each statement through `@effect/sql` costs ~25 µs of Effect
 *   work).
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Layer, type Scope } from "effect"
import * as direct from "./internal/sqliteSink.js"
import * as overClient from "./internal/sqlSink.js"
import { Sink, type SinkError, type SinkShape } from "./Sink.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The database file; created (with its directory) when missing. `:memory:` for none. */
  readonly path: string
  /**
   * Hold the single-writer lock `PATH.lock` (beside the database) while the sink is open, so that
   * a second writer on the same file (another exporter) fails with a `Locked` `SinkError` naming
   * the holder's pid and host. A lock left by a dead process is taken over. `false` for a reader
   * beside a running exporter (such as `taskhistory-exporter status`). Default `true`.
   */
  readonly lock?: boolean | undefined
  /** When another process holds the lock, wait until it lets go instead of failing. Default `false`. */
  readonly waitForLock?: boolean | undefined
}

/**
 * Opens (and creates) the database at `options.path` with better-sqlite3, runs the migrations and
 * serves the sink; the connection and the lock `PATH.lock` (unless `lock: false`) are released
 * with the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<SinkShape, SinkError, Scope.Scope> =>
  direct.make(options.path, `sqlite:${options.path}`, {
    lock: options.lock,
    waitForLock: options.waitForLock
  })

/**
 * The SQLite sink for the file at `path` ({@link make} as a Layer).
 *
 * @example
 * ```ts
 * import * as SqliteSink from "@taskhistory/export/SqliteSink"
 * const SinkLive = SqliteSink.layer({ path: "./taskhistory.db" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sink, SinkError> => Layer.scoped(Sink, make(options))

/**
 * Builds the sink over an existing SQLite `SqlClient`, running the migrations first. `name`
 * describes the database in logs and errors.
 *
 * @since 0.1.0
 */
export const makeSqlClient = (name: string): Effect.Effect<SinkShape, SinkError, SqlClient> =>
  Effect.flatMap(SqlClient, (sql) => overClient.make(sql, { dialect: "sqlite", name }))

/**
 * {@link makeSqlClient} as a Layer.
 *
 * @example
 * ```ts
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import * as SqliteSink from "@taskhistory/export/SqliteSink"
 * import { Layer } from "effect"
 * const SinkLive = SqliteSink.layerSqlClient("sqlite:./taskhistory.db").pipe(
 *   Layer.provide(SqliteClient.layer({ filename: "./taskhistory.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerSqlClient = (name: string): Layer.Layer<Sink, SinkError, SqlClient> =>
  Layer.effect(Sink, makeSqlClient(name))
