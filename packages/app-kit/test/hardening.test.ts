/**
 * What the binaries print and read, hardened: secrets scrubbed in every form, stderr made safe
 * and cut on purpose, key files bounded, keys that cannot be sent refused naming where they
 * came from.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { ServerError } from "@taskhistory/core/TaskHistoryError"
import { Cause, ConfigProvider, Data, Effect, Option } from "effect"
import * as ConnectionOptions from "../src/ConnectionOptions.js"
import * as InputFile from "../src/InputFile.js"
import * as Output from "../src/internal/output.js"
import * as Secrets from "../src/internal/secrets.js"
import * as Main from "../src/Main.js"

const dir = mkdtempSync(join(tmpdir(), "app-kit-hardening-"))
process.on("exit", () => rmSync(dir, { recursive: true, force: true }))

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const settings = (flags: ConnectionOptions.ConnectionFlags) =>
  TaskHistoryConfig.TaskHistoryConfig.pipe(Effect.provide(ConnectionOptions.configLayer(flags)))

describe("Secrets.scrub", () => {
  it("scrubs a secret as it is, JSON-escaped, URL-encoded and base64, at any length", () => {
    Secrets.clear()
    const key = 'SEKRIT\\k3y"/+ x'
    Secrets.register(key)
    const forms = [
      key,
      JSON.stringify(key).slice(1, -1),
      encodeURIComponent(key),
      Buffer.from(key).toString("base64")
    ]
    for (const form of forms) expect(Secrets.scrub(`before ${form} after`)).toBe("before <redacted> after")
    Secrets.register("ab1")
    expect(Secrets.scrub("key ab1 here")).toBe("key <redacted> here")
    Secrets.clear()
  })

  it("a URL keeps its scheme, user, host and port: only the password (and Basic form) go", () => {
    Secrets.clear()
    Secrets.registerUrl("redis://app:s%40cret-pw@10.0.0.7:6380/2?token=tok-999")
    expect(Secrets.scrub("cannot reach redis://app:s%40cret-pw@10.0.0.7:6380/2")).toBe(
      "cannot reach redis://app:<redacted>@10.0.0.7:6380/2"
    )
    expect(Secrets.scrub("decoded s@cret-pw")).toBe("decoded <redacted>")
    expect(Secrets.scrub(`Basic ${Buffer.from("app:s@cret-pw").toString("base64")}`)).toBe("Basic <redacted>")
    expect(Secrets.scrub("?token=tok-999")).toBe("?token=<redacted>")
    expect(Secrets.scrub("redis://10.0.0.7:6380")).toBe("redis://10.0.0.7:6380")
    Secrets.clear()
  })
})

describe("stderr", () => {
  it("control characters are escaped always; colour survives only as SGR when on", () => {
    const hostile = "id \u001b]0;pwned\u0007 \u001b[2J\u009b31m\r\nnext\tline"
    const plain = Output.safeForStderr(hostile, false)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters
    expect(plain).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
    expect(plain).toContain("\nnext\tline")
    const colored = Output.safeForStderr(`\u001b[31merror\u001b[0m ${hostile}`, true)
    expect(colored.startsWith("\u001b[31merror\u001b[0m ")).toBe(true)
    expect(colored).not.toContain("\u001b]0;")
    expect(colored).not.toContain("\u001b[2J")
  })

  it("a message over the limit is cut on purpose, with a note", () => {
    const long = `${"x".repeat(Output.MAX_MESSAGE + 5000)}\n`
    const cut = Output.safeForStderr(long, false)
    expect(cut.length).toBeLessThan(Output.MAX_MESSAGE + 100)
    expect(cut).toContain("[5000 more characters not shown]")
    expect(cut.endsWith("\n")).toBe(true)
  })

  it("--verbose detail has the cause chain", () => {
    class Wrapper extends Data.TaggedError("Wrapper")<{ readonly cause: unknown }> {
      override get message() {
        return "the batch failed"
      }
    }
    const root = new Error("Connection terminated unexpectedly")
    const failure = Main.describeFailure(
      Cause.fail(new Wrapper({ cause: new ServerError({ status: 503, cause: root } as never) })),
      true
    )
    const detail = failure.lines.join("\n")
    expect(detail).toContain("the batch failed")
    expect(detail).toContain("caused by:")
    expect(detail).toContain("server error (503)")
  })
})

describe("files and keys", () => {
  it.effect("a key file over 4 KiB, or /dev/zero, is refused without reading it", () =>
    Effect.gen(function* () {
      const big = join(dir, "big-key")
      writeFileSync(big, "k".repeat(InputFile.keyFileLimit + 1))
      for (const path of [big, "/dev/zero"]) {
        const error = yield* Effect.flip(ConnectionOptions.readKeyFile(path))
        expect(error.message).toContain("--api-key-file")
        expect(error.message).toContain(path)
        expect(error.message).toContain("at most 4 KiB")
      }
      const ok = join(dir, "ok-key")
      writeFileSync(ok, `${"k".repeat(100)}\n`)
      expect(yield* Effect.either(ConnectionOptions.readKeyFile(ok))).toMatchObject({ _tag: "Right" })
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect(
    "a pipe (a FIFO, as `--config <(...)` gives) is read whole, past the pipe's buffer, and bounded",
    () =>
      Effect.gen(function* () {
        const fifo = join(dir, "fifo")
        const feed = (bytes: number) =>
          Effect.acquireRelease(
            Effect.sync(() => {
              execFileSync("mkfifo", [fifo])
              // A writer on the other end, as bash's process substitution is.
              return spawn("sh", ["-c", `head -c ${bytes} /dev/zero | tr '\\0' 'a' > '${fifo}'`])
            }),
            (writer) =>
              Effect.sync(() => {
                writer.kill()
                rmSync(fifo, { force: true })
              })
          )
        const read = yield* Effect.scoped(
          Effect.zipRight(feed(200_000), InputFile.readText("--config", fifo, 1024 * 1024))
        )
        expect(read).toBe("a".repeat(200_000))
        const over = yield* Effect.scoped(
          Effect.zipRight(feed(300_000), Effect.flip(InputFile.readText("--config", fifo, 256 * 1024)))
        )
        expect(over.message).toContain("--config")
        expect(over.message).toContain("at most 256 KiB")
      })
  )

  it.effect("a key with a newline, CR or NUL inside is exit 2, naming where it came from, not the key", () =>
    Effect.gen(function* () {
      const base = { PARAGON_PROJECT_ID: "p" }
      for (const [key, what] of [
        ["abc-123\ndef-456", "a newline"],
        ["abc-123\r\ndef-456", "a carriage return"],
        ["abc-123\u0000def-456", "a NUL character"]
      ] as const) {
        const fromEnv = yield* settings(ConnectionOptions.emptyFlags).pipe(
          withEnv({ ...base, PARAGON_API_KEY: key }),
          Effect.flip
        )
        expect(fromEnv.message).toContain(`PARAGON_API_KEY contains ${what}`)
        expect(fromEnv.message).not.toContain("abc-123")
        const file = join(dir, `bad-key-${what.replace(/\W/g, "")}`)
        writeFileSync(file, `${key}\n`)
        const fromFile = yield* settings({
          ...ConnectionOptions.emptyFlags,
          apiKeyFile: Option.some(file)
        }).pipe(withEnv(base), Effect.flip)
        expect(fromFile.message).toContain(`--api-key-file ${file} contains ${what}`)
        expect(fromFile.message).not.toContain("def-456")
      }
      const redis = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ ...base, PARAGON_API_KEY: "k-1", PARAGON_RATE_LIMIT_REDIS: "redis://:pw@h:1/0\n" }),
        Effect.either
      )
      // a trailing newline is whitespace around the URL: fine
      expect(redis._tag).toBe("Right")
      const inner = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ ...base, PARAGON_API_KEY: "k-1", PARAGON_RATE_LIMIT_REDIS: "redis://:p w@h:1/0" }),
        Effect.flip
      )
      expect(inner.message).toContain("PARAGON_RATE_LIMIT_REDIS contains a space")
      expect(inner.message).not.toContain("p w")
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("--timeout, --connect-timeout and --wait need a unit", () =>
    Effect.gen(function* () {
      const env = { PARAGON_PROJECT_ID: "p", PARAGON_API_KEY: "k-1" }
      for (const [flag, key] of [
        ["--timeout", "timeout"],
        ["--connect-timeout", "connectTimeout"],
        ["--wait", "wait"]
      ] as const) {
        const error = yield* settings({ ...ConnectionOptions.emptyFlags, [key]: Option.some("5") }).pipe(
          withEnv(env),
          Effect.flip
        )
        expect(error.message).toContain(`invalid ${flag} "5"`)
      }
    }).pipe(Effect.provide(NodeContext.layer))
  )
})
