import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { Sink } from "../src/Sink.js"
import * as SinkSpec from "../src/SinkSpec.js"
import { tempDir } from "./helpers.js"

const ok = (text: string) => Either.getOrThrow(SinkSpec.parse(text))
const err = (text: string) =>
  Either.match(SinkSpec.parse(text), { onLeft: (e) => e, onRight: () => undefined })

describe("SinkSpec", () => {
  it("parses sqlite paths, refusing an empty one", () => {
    expect(ok("sqlite:./data/th.db")).toEqual({ _tag: "Sqlite", path: "./data/th.db" })
    expect(err("sqlite:")?.message).toContain("sqlite:PATH with a file path")
    expect(err("sqlite:  ")?.message).toContain('"sqlite:"')
    expect(ok(SinkSpec.defaultSpec)).toEqual({ _tag: "Sqlite", path: "./taskhistory.db" })
    expect(ok("SQLITE:/tmp/x.db")).toEqual({ _tag: "Sqlite", path: "/tmp/x.db" })
  })

  it("parses file sinks", () => {
    expect(ok("ndjson:./out")).toEqual({ _tag: "File", format: "ndjson", dir: "./out" })
    expect(ok("csv:/tmp/c")).toEqual({ _tag: "File", format: "csv", dir: "/tmp/c" })
    expect(ok("parquet:p")).toEqual({ _tag: "File", format: "parquet", dir: "p" })
    expect(err("csv:")?.message).toContain("csv:DIR")
  })

  it("parses postgres URLs, keeps the password redacted and takes ?schema=", () => {
    const spec = ok("postgres://u:s3cret@db.example:5432/app?schema=th&sslmode=disable")
    expect(spec._tag).toBe("Postgres")
    if (spec._tag !== "Postgres") return
    expect(spec.schema).toBe("th")
    expect(Redacted.value(spec.url)).toBe("postgres://u:s3cret@db.example:5432/app?sslmode=disable")
    expect(String(spec.url)).not.toContain("s3cret")
    const described = SinkSpec.describe(spec)
    expect(described).toBe("postgres://u:***@db.example:5432/app?sslmode=disable (schema th)")
    expect(ok("postgresql://localhost/x")._tag).toBe("Postgres")
  })

  it("refuses unknown schemes and bad values, naming them without a password", () => {
    expect(err("mysql://x")?.message).toContain("mysql://x")
    expect(err("./file.db")?._tag).toBe("InvalidInput")
    const bad = err("postgres://u:s3cret@db/app?schema=no-dash")
    expect(bad?.message).toContain("schema")
    expect(bad?.message).not.toContain("s3cret")
  })

  it("describes every kind safely", () => {
    expect(SinkSpec.describe(ok("sqlite:a.db"))).toBe("sqlite:a.db")
    expect(SinkSpec.describe(ok("ndjson:d"))).toBe("ndjson:d")
  })

  it.effect("builds the sink a spec names", () =>
    Effect.gen(function* () {
      const tmp = tempDir("taskhistory-sinkspec-")
      const spec = ok(`sqlite:${join(tmp.dir, "a", "x.db")}`)
      const status = yield* Effect.flatMap(Sink, (s) => s.status).pipe(Effect.provide(SinkSpec.layer(spec)))
      expect(status.sink).toBe(SinkSpec.describe(spec))
      expect(status.rows).toBe(0)
      const nd = yield* Effect.flatMap(Sink, (s) => s.status).pipe(
        Effect.provide(SinkSpec.layer(ok(`ndjson:${join(tmp.dir, "nd")}`)))
      )
      expect(nd.rows).toBe(0)
      tmp.cleanup()
    })
  )
})
