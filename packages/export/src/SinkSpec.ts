/**
 * Sink specifications as users write them (`--sink`): `sqlite:PATH`, `postgres://...`,
 * `ndjson:DIR`, `csv:DIR`, `parquet:DIR`. Parse once, describe safely for logs, and turn into the
 * matching `Sink` Layer.
 *
 * @since 0.1.0
 */
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Effect, Either, Layer, Redacted } from "effect"
import { describeUrl } from "./internal/pgUrl.js"
import { DEFAULT_PATH } from "./internal/sqlSchema.js"
import type { Sink, SinkError } from "./Sink.js"

/**
 * A parsed sink specification.
 *
 * @since 0.1.0
 */
export type SinkSpec =
  | { readonly _tag: "Sqlite"; readonly path: string }
  | {
      readonly _tag: "Postgres"
      /** The connection URL without our own `schema` parameter (a secret). */
      readonly url: Redacted.Redacted<string>
      /** From `?schema=NAME`: the schema that holds the tables. */
      readonly schema: string | undefined
    }
  | { readonly _tag: "File"; readonly format: "ndjson" | "csv" | "parquet"; readonly dir: string }

/**
 * The default sink of the exporter.
 *
 * @since 0.1.0
 */
export const defaultSpec = `sqlite:${DEFAULT_PATH}`

const expected =
  "sqlite:PATH, postgres://USER@HOST:PORT/DB (optionally ?schema=NAME; the password from PGPASSWORD or ~/.pgpass), ndjson:DIR, csv:DIR or parquet:DIR"

/**
 * Parses a sink specification. `sqlite:` without a path is refused (a forgotten path would
 * otherwise write somewhere unexpected). The error names the value (with any password hidden).
 *
 * @example
 * ```ts
 * SinkSpec.parse("sqlite:./data/th.db") // Right({ _tag: "Sqlite", path: "./data/th.db" })
 * ```
 *
 * @since 0.1.0
 */
export const parse = (spec: string): Either.Either<SinkSpec, InvalidInput> => {
  const text = spec.trim()
  const bad = (why = expected) =>
    Either.left(new InvalidInput({ field: "sink", value: safeText(text), expected: why }))
  if (/^postgres(ql)?:\/\//i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      return bad("a valid postgres:// URL")
    }
    // What the URL leaves out (even the host: `postgres://`) comes from libpq's environment.
    const schema = url.searchParams.get("schema") ?? undefined
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      return bad("a schema name of letters, digits and underscores")
    }
    url.searchParams.delete("schema")
    return Either.right({ _tag: "Postgres", url: Redacted.make(url.toString()), schema })
  }
  const match = /^([a-z]+):(.*)$/i.exec(text)
  if (match === null) return bad()
  const kind = match[1]!.toLowerCase()
  const rest = match[2]!.trim()
  switch (kind) {
    case "sqlite":
      return rest === ""
        ? bad("sqlite:PATH with a file path, e.g. sqlite:./taskhistory.db (or sqlite::memory:)")
        : Either.right({ _tag: "Sqlite", path: rest })
    case "ndjson":
    case "csv":
    case "parquet":
      return rest === ""
        ? bad(`${kind}:DIR with a directory`)
        : Either.right({ _tag: "File", format: kind, dir: rest })
    default:
      return bad()
  }
}

/**
 * A description of the sink safe for logs and errors (no password).
 *
 * @since 0.1.0
 */
export const describe = (spec: SinkSpec): string => {
  switch (spec._tag) {
    case "Sqlite":
      return `sqlite:${spec.path}`
    case "Postgres": {
      const url = describeUrl(Redacted.value(spec.url))
      return spec.schema === undefined ? url : `${url} (schema ${spec.schema})`
    }
    case "File":
      return `${spec.format}:${spec.dir}`
  }
}

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 */
export interface LayerOptions {
  /**
   * A writer waits for another process's lock on a SQLite file or a file-sink directory to be let
   * go, instead of failing with a `Locked` `SinkError` naming the holder. Default `false`.
   */
  readonly waitForLock?: boolean | undefined
  /**
   * Open to read beside a running writer, without its lock: a file sink read-only, a SQLite
   * database without `PATH.lock` (migrations of an older database are still applied). Postgres
   * has no lock to skip. Default `false`.
   */
  readonly readOnly?: boolean | undefined
}

/**
 * The `Sink` Layer for a specification. SQLite and file sinks hold a single-writer lock while
 * they are open (see {@link LayerOptions}).
 *
 * @example
 * ```ts
 * const SinkLive = Either.match(SinkSpec.parse(flag), { onLeft: Layer.fail, onRight: SinkSpec.layer })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (spec: SinkSpec, options: LayerOptions = {}): Layer.Layer<Sink, SinkError> => {
  const { readOnly = false, waitForLock = false } = options
  // Each sink's driver is loaded only when that sink is chosen.
  switch (spec._tag) {
    case "Sqlite":
      return lazy(
        () => import("./SqliteSink.js"),
        (m) => m.layer({ path: spec.path, lock: !readOnly, waitForLock })
      )
    case "Postgres":
      return lazy(
        () => import("./PostgresSink.js"),
        (m) => m.layer({ url: spec.url, schema: spec.schema })
      )
    case "File":
      return lazy(
        () => import("./FileSink.js"),
        (m) => m.layer(spec.format, { dir: spec.dir, readOnly, waitForLock })
      )
  }
}

const lazy = <M>(
  load: () => Promise<M>,
  build: (module: M) => Layer.Layer<Sink, SinkError>
): Layer.Layer<Sink, SinkError> => Layer.unwrapEffect(Effect.map(Effect.promise(load), build))

const safeText = (text: string): string => (/^postgres(ql)?:\/\//i.test(text) ? describeUrl(text) : text)
