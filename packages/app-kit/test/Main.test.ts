import { Command, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import {
  NotFound,
  RateLimited,
  RateLimiterUnavailable,
  ReplayOutcomeUnknown,
  ServerError,
  Unauthorized
} from "@taskhistory/core/TaskHistoryError"
import { Cause, Effect } from "effect"
import * as FilterOptions from "../src/FilterOptions.js"
import * as Main from "../src/Main.js"

describe("Main.describeFailure", () => {
  it("maps each error to the contract's exit code", () => {
    const code = (error: unknown) => Main.describeFailure(Cause.fail(error)).exitCode
    expect(code(new Unauthorized({}))).toBe(3)
    expect(code(new NotFound({ resource: "execution x" }))).toBe(4)
    expect(code(new RateLimited({}))).toBe(5)
    expect(code(new ServerError({ status: 503 }))).toBe(6)
    expect(
      code(new ReplayOutcomeUnknown({ executionId: "x", cause: new ServerError({ status: 503 }) }))
    ).toBe(7)
    expect(code(new Main.CliError({ exitCode: 2, text: "nope" }))).toBe(2)
  })

  it("reports a shared-limiter (Redis) outage as an upstream failure, not a bug", () => {
    // The Redis limiter's run-time failures reach the runner typed, as the core's RateLimiterUnavailable.
    const outage = new RateLimiterUnavailable({
      detail:
        "cannot reach the Redis server of the shared rate limit (redis://127.0.0.1:6390/0): connect ECONNREFUSED"
    })
    const failure = Main.describeFailure(Cause.fail(outage))
    expect(failure.exitCode).toBe(6)
    expect(failure.lines[0]).toContain("Redis server")
    expect(failure.lines.join("\n")).not.toContain("this is a bug")
  })

  it("calls anything else a bug, without a stack trace unless verbose", () => {
    const plain = Main.describeFailure(Cause.die(new Error("boom")))
    expect(plain.exitCode).toBe(1)
    expect(plain.lines[0]).toContain("this is a bug")
    expect(plain.lines.join("\n")).not.toContain("at ")
    const verbose = Main.describeFailure(Cause.die(new Error("boom")), true)
    expect(verbose.lines.join("\n")).toContain("boom")
    expect(verbose.lines.length).toBeGreaterThan(1)
  })

  it("shows the causes behind an application error with --verbose only", () => {
    const driver = new Error("SQLITE_CANTOPEN: unable to open database file")
    const error = new Main.CliError({ exitCode: 6, text: "sqlite:/x.db: open failed", cause: driver })
    const plain = Main.describeFailure(Cause.fail(error))
    expect(plain).toEqual({ exitCode: 6, lines: ["error: sqlite:/x.db: open failed"] })
    const verbose = Main.describeFailure(Cause.fail(error), true)
    expect(verbose.exitCode).toBe(6)
    expect(verbose.lines.join("\n")).toContain("caused by: Error: SQLITE_CANTOPEN")
  })
})

describe("Main.findSecretFlag", () => {
  it("refuses flags that carry a secret, but not --api-key-file", () => {
    expect(Main.findSecretFlag(["list", "--api-key", "k"])).toBe("--api-key")
    expect(Main.findSecretFlag(["list", "--api-key=k"])).toBe("--api-key")
    expect(Main.findSecretFlag(["list", "--token=k"])).toBe("--token")
    expect(Main.findSecretFlag(["list", "--api-key-file", "f"])).toBeUndefined()
    expect(Main.findSecretFlag(["get", "--", "--api-key"])).toBeUndefined()
    expect(Main.secretFlagMessage("--api-key")).toContain("--api-key-file")
  })
})

describe("Main.run", () => {
  const seen: Array<string> = []
  const command = Command.make(
    "demo",
    {
      query: FilterOptions.options,
      n: Options.integer("count").pipe(Options.withDefault(1)),
      fail: Options.text("fail").pipe(Options.withDefault("")),
      common: Main.commonOptions
    },
    ({ fail, n }) =>
      fail === "404"
        ? Effect.fail(new NotFound({ resource: "execution nope" }))
        : fail === "die"
          ? Effect.die("kaput")
          : Effect.sync(() => {
              seen.push(`ran ${n}`)
            })
  )
  const run = (...args: Array<string>) =>
    Main.run(command, { name: "demo", version: "1.2.3", argv: ["node", "demo", ...args] }).pipe(
      Effect.provide(NodeContext.layer)
    )

  it.effect("exit codes: success, help, version, bad flags, refused secrets, errors, defects", () =>
    Effect.gen(function* () {
      expect(yield* run("--count", "2")).toBe(0)
      expect(seen).toEqual(["ran 2"])
      expect(yield* run("--help")).toBe(0)
      expect(yield* run("--version")).toBe(0)
      expect(yield* run("--count", "two")).toBe(2)
      expect(yield* run("--status", "done")).toBe(2)
      expect(yield* run("--after", "yesterday")).toBe(2)
      expect(yield* run("--nope")).toBe(2)
      expect(yield* run("--api-key", "secret-value")).toBe(2)
      expect(yield* run("--fail", "404")).toBe(4)
      expect(yield* run("--fail", "die")).toBe(1)
      expect(seen).toEqual(["ran 2"])
    })
  )
})
