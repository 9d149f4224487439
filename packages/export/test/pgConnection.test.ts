import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import * as PgConnection from "../src/internal/pgConnection.js"
import { describeUrl } from "../src/internal/pgUrl.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const resolve = (url: string, env: Record<string, string>) =>
  PgConnection.resolve(Redacted.make(url)).pipe(withEnv({ PGPASSFILE: "/nonexistent/pgpass", ...env }))

describe("pgConnection.passwordFromFile (libpq's password file)", () => {
  const file = [
    "# comment:*:*:*:nope",
    "",
    "db.example:5432:app:alice:first",
    "db.example:5432:app:alice:second",
    "*:*:*:bob:b\\:ob\\\\pw:with:colons",
    "/var/run/postgresql:*:*:carol:ignored-literal-host-also-matches",
    "localhost:5432:*:dave:dave-pw\r"
  ].join("\n")
  it("takes the first matching line, with * wildcards and \\ escapes; the password is the rest", () => {
    expect(PgConnection.passwordFromFile(file, "db.example", "5432", "app", "alice")).toBe("first")
    expect(PgConnection.passwordFromFile(file, "other", "6543", "x", "bob")).toBe("b:ob\\pw:with:colons")
    expect(PgConnection.passwordFromFile(file, "db.example", "5433", "app", "alice")).toBeUndefined()
    // a socket directory also matches localhost; CRLF line ends
    expect(PgConnection.passwordFromFile(file, "/tmp", "5432", "db", "dave")).toBe("dave-pw")
    expect(PgConnection.passwordFromFile(file, "comment", "*", "*", "*")).toBeUndefined()
  })
})

describe("pgConnection.resolve (libpq's environment)", () => {
  it.effect("keeps what the URL says, fills the rest from PG* and says where the password came from", () =>
    Effect.gen(function* () {
      const given = yield* resolve("postgres://u:p%40ss@h:6000/db?sslmode=disable", {
        PGHOST: "ignored",
        PGPASSWORD: "ignored"
      })
      expect(given.password._tag).toBe("Url")
      expect([given.host, given.port, given.user, given.database]).toEqual(["h", "6000", "u", "db"])
      const url = new URL(Redacted.value(given.url))
      expect(decodeURIComponent(url.password)).toBe("p@ss")
      expect(url.searchParams.get("sslmode")).toBe("disable")

      const env = yield* resolve("postgres://", {
        PGHOST: "127.0.0.1",
        PGPORT: "5544",
        PGDATABASE: "analytics",
        PGUSER: "exporter",
        PGPASSWORD: "from-env"
      })
      expect(env.password._tag).toBe("Environment")
      expect([env.host, env.port, env.user, env.database]).toEqual([
        "127.0.0.1",
        "5544",
        "exporter",
        "analytics"
      ])
      const filled = new URL(Redacted.value(env.url))
      expect(filled.hostname).toBe("127.0.0.1")
      expect(filled.pathname).toBe("/analytics")
      expect(filled.searchParams.get("port")).toBe("5544")
      expect(filled.searchParams.get("user")).toBe("exporter")
      expect(filled.searchParams.get("password")).toBe("from-env")
      expect(describeUrl(Redacted.value(env.url))).not.toContain("from-env")

      const socket = yield* resolve("postgres:///db", { PGHOST: "/var/run/postgresql", PGUSER: "x" })
      expect(new URL(Redacted.value(socket.url)).searchParams.get("host")).toBe("/var/run/postgresql")
      expect(socket.password).toEqual({ _tag: "None", passFile: "/nonexistent/pgpass" })
      expect(PgConnection.describePassword(socket.password)).toContain("set PGPASSWORD")
    })
  )
})
