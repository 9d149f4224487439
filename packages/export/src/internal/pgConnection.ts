/**
 * The connection of a Postgres sink or reader, made the way libpq makes it: each setting from
 * the URL, else from libpq's environment (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`,
 * `PGPASSWORD`), else libpq's default; and, when neither the URL nor `PGPASSWORD` gives a
 * password, the first matching line of the password file (`PGPASSFILE`, default `~/.pgpass`;
 * `%APPDATA%\postgresql\pgpass.conf` on Windows), ignored with a warning when group or others
 * can read it. The result is one URL (a secret) for the driver; `PGSSLMODE` and the others the
 * driver reads itself.
 *
 * The `pg` driver reads the environment too, but its password file support is deprecated (it
 * writes a warning of its own to stderr) and it cannot say where a password came from; an
 * authentication failure here says it (never the password).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Cause, Config, Effect, Layer, Option, Redacted } from "effect"
import * as SinkErrors from "./sinkErrors.js"

/** Where the password of a connection came from. */
export type PasswordSource =
  | { readonly _tag: "Url" }
  | { readonly _tag: "Environment" }
  | { readonly _tag: "PassFile"; readonly file: string }
  | { readonly _tag: "None"; readonly passFile: string }

/** A resolved connection. */
export interface Resolved {
  /** The URL with every setting filled in, password included: a secret. */
  readonly url: Redacted.Redacted<string>
  readonly host: string
  readonly port: string
  readonly user: string
  readonly database: string
  readonly password: PasswordSource
}

/** What the password file may hold at most: it is a few lines. */
const PASS_FILE_LIMIT = 1024 * 1024

const env = (name: string) =>
  Config.option(Config.string(name)).pipe(Effect.map(Option.getOrUndefined), Effect.orDie)

const osUser = () => {
  try {
    return os.userInfo().username
  } catch {
    return "postgres"
  }
}

const decode = (text: string) => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The fields of a password file line (`\` escapes the next character); the password is the rest. */
const fieldsOf = (line: string): Array<string> | undefined => {
  const fields: Array<string> = []
  let current = ""
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === "\\" && i + 1 < line.length) {
      current += line[++i]
    } else if (c === ":" && fields.length < 4) {
      fields.push(current)
      current = ""
    } else {
      current += c
    }
  }
  fields.push(current)
  return fields.length === 5 ? fields : undefined
}

/**
 * The password of the first line of a password file that matches (`*` matches anything; a host
 * that is a socket directory also matches `localhost`), or `undefined`.
 */
export const passwordFromFile = (
  text: string,
  host: string,
  port: string,
  database: string,
  user: string
): string | undefined => {
  const hosts = host.startsWith("/") ? [host, "localhost"] : [host]
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line.length === 0 || line.startsWith("#")) continue
    const fields = fieldsOf(line)
    if (fields === undefined) continue
    const [h, p, d, u, password] = fields as [string, string, string, string, string]
    const match = (field: string, values: ReadonlyArray<string>) => field === "*" || values.includes(field)
    if (match(h, hosts) && match(p, [port]) && match(d, [database]) && match(u, [user])) return password
  }
  return undefined
}

/** The password file libpq would read. */
const passFileName = (name: string | undefined) =>
  name !== undefined && name !== ""
    ? name
    : process.platform === "win32"
      ? path.join(process.env.APPDATA ?? ".", "postgresql", "pgpass.conf")
      : path.join(os.homedir(), ".pgpass")

/** Reads the password file: `undefined` when there is none or it must be ignored (a warning says why). */
const readPassFile = (file: string): Effect.Effect<string | undefined> =>
  Effect.flatMap(
    Effect.promise(async (): Promise<{ readonly text?: string; readonly warning?: string }> => {
      let handle: fs.FileHandle
      try {
        handle = await fs.open(file, "r")
      } catch {
        return {}
      }
      try {
        const stat = await handle.stat()
        if (!stat.isFile()) return { warning: `password file ${file} is not a plain file: ignored` }
        if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
          return {
            warning: `password file ${file} has group or world access: ignored (permissions should be u=rw, 0600, or less)`
          }
        }
        const buffer = Buffer.alloc(PASS_FILE_LIMIT + 1)
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
        if (bytesRead > PASS_FILE_LIMIT)
          return { warning: `password file ${file} is larger than 1 MiB: ignored` }
        return { text: buffer.subarray(0, bytesRead).toString("utf8") }
      } catch (error) {
        return { warning: `password file ${file} could not be read: ignored (${String(error)})` }
      } finally {
        await handle.close().catch(() => undefined)
      }
    }),
    (read) =>
      read.warning === undefined
        ? Effect.succeed(read.text)
        : Effect.as(Effect.logWarning(read.warning), undefined)
  )

/**
 * Resolves a `postgres://` URL against libpq's environment and password file. Never fails: a
 * setting that nothing gives gets libpq's default, and a missing password is left for the
 * server to refuse (the error then says where one could come from).
 */
export const resolve = (url: Redacted.Redacted<string>): Effect.Effect<Resolved> =>
  Effect.gen(function* () {
    const u = new URL(Redacted.value(url))
    const param = (name: string) => {
      const value = u.searchParams.get(name)
      return value === null || value === "" ? undefined : value
    }
    // Given in the URL (its authority or, as libpq allows, a query parameter): the driver reads it.
    const host =
      param("host") ?? (u.hostname !== "" ? decode(u.hostname).replace(/^\[(.*)\]$/, "$1") : undefined)
    const resolvedHost = host ?? (yield* env("PGHOST")) ?? "localhost"
    const givenPort = param("port") ?? (u.port !== "" ? u.port : undefined)
    const port = givenPort ?? (yield* env("PGPORT")) ?? "5432"
    const givenUser = param("user") ?? (u.username !== "" ? decode(u.username) : undefined)
    const user = givenUser ?? (yield* env("PGUSER")) ?? (yield* env("USER")) ?? osUser()
    const givenDatabase = param("dbname") ?? (u.pathname.length > 1 ? decode(u.pathname.slice(1)) : undefined)
    const database = givenDatabase ?? (yield* env("PGDATABASE")) ?? user
    const givenPassword = param("password") ?? (u.password !== "" ? decode(u.password) : undefined)

    let password: string | undefined
    let source: PasswordSource
    if (givenPassword !== undefined) {
      password = givenPassword
      source = { _tag: "Url" }
    } else {
      const fromEnv = yield* env("PGPASSWORD")
      if (fromEnv !== undefined && fromEnv !== "") {
        password = fromEnv
        source = { _tag: "Environment" }
      } else {
        const file = passFileName(yield* env("PGPASSFILE"))
        const text = yield* readPassFile(file)
        password = text === undefined ? undefined : passwordFromFile(text, resolvedHost, port, database, user)
        source = password === undefined ? { _tag: "None", passFile: file } : { _tag: "PassFile", file }
      }
    }

    // The rest filled in, so the driver connects where the password file was looked up for.
    if (host === undefined) {
      if (resolvedHost.startsWith("/")) u.searchParams.set("host", resolvedHost)
      else u.hostname = resolvedHost.includes(":") ? `[${resolvedHost}]` : resolvedHost
    }
    if (givenPort === undefined) u.searchParams.set("port", port)
    if (givenUser === undefined) u.searchParams.set("user", user)
    // The driver takes the database from the path only.
    u.searchParams.delete("dbname")
    u.pathname = `/${encodeURIComponent(database)}`
    if (givenPassword === undefined && password !== undefined) u.searchParams.set("password", password)
    return {
      url: Redacted.make(u.toString()),
      host: resolvedHost,
      port,
      user,
      database,
      password: source
    }
  })

/** Said after an authentication failure: where the password came from (never the password). */
export const describePassword = (source: PasswordSource): string => {
  switch (source._tag) {
    case "Url":
      return "the password came from the URL"
    case "Environment":
      return "the password came from PGPASSWORD"
    case "PassFile":
      return `the password came from the password file ${source.file}`
    case "None":
      return `no password was given: set PGPASSWORD, or add a line to ${source.passFile} (or the file PGPASSFILE names)`
  }
}

const causeDetail = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const inner = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
  return error instanceof Error ? `${error.message}${inner}` : String(error)
}

/**
 * The `PgClient` of a sink or reader named `name`: the URL resolved first (see {@link resolve});
 * a connection that fails is an `Unavailable` `SinkError` whose detail is the driver's message,
 * and after a refused password, where the password came from.
 */
export const clientLayer = (
  url: Redacted.Redacted<string>,
  name: string,
  options: { readonly maxConnections: number; readonly applicationName: string }
) =>
  Layer.unwrapEffect(
    Effect.map(resolve(url), (resolved) =>
      PgClient.layer({ url: resolved.url, ...options }).pipe(
        Layer.catchAllCause((cause) => {
          const detail = causeDetail(cause)
          const hint = /password|authentication|SASL/i.test(detail)
            ? `; ${describePassword(resolved.password)}`
            : ""
          return Layer.fail(
            SinkErrors.make("Unavailable", name, "connect", `${detail}${hint}`, Cause.squash(cause))
          )
        })
      )
    )
  )
