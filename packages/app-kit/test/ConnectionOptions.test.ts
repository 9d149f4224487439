import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { Simulator } from "@taskhistory/simulator"
import { ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import * as ConnectionOptions from "../src/ConnectionOptions.js"

const dir = mkdtempSync(join(tmpdir(), "app-kit-"))
const keyFile = join(dir, "key")
writeFileSync(keyFile, "file-key-123456\n")
const emptyFile = join(dir, "empty")
writeFileSync(emptyFile, "\n")
process.on("exit", () => rmSync(dir, { recursive: true, force: true }))

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const env = {
  PARAGON_API_KEY: "env-key-abcdef",
  PARAGON_PROJECT_ID: "env-project",
  PARAGON_BASE_URL: "http://127.0.0.1:9",
  PARAGON_RATE_LIMIT: "40/4s",
  TASKHISTORY_MAX_RETRIES: "3"
}

const settings = (flags: ConnectionOptions.ConnectionFlags) =>
  TaskHistoryConfig.TaskHistoryConfig.pipe(Effect.provide(ConnectionOptions.configLayer(flags)))

describe("ConnectionOptions.configLayer", () => {
  it.effect("takes everything from the environment when no flag is given", () =>
    Effect.gen(function* () {
      const config = yield* settings(ConnectionOptions.emptyFlags).pipe(withEnv(env))
      expect(Redacted.isRedacted(config.apiKey)).toBe(true)
      expect(Redacted.value(config.apiKey)).toBe("env-key-abcdef")
      expect(config.projectId).toBe("env-project")
      expect(config.baseUrl).toBe("http://127.0.0.1:9")
      expect(config.rateLimit).toEqual({ limit: 40, window: Duration.seconds(4) })
      expect(config.retry.maxRetries).toBe(3)
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("flags win over the environment, and the key file is read minus one newline", () =>
    Effect.gen(function* () {
      const config = yield* settings({
        ...ConnectionOptions.emptyFlags,
        apiKeyFile: Option.some(keyFile),
        projectId: Option.some("flag-project"),
        baseUrl: Option.some("http://localhost:1"),
        rateLimit: Option.some("10/1s"),
        rateLimitRedis: Option.none(),
        maxRetries: Option.some(0),
        timeout: Option.some("5s"),
        connectTimeout: Option.some("2s"),
        wait: Option.some("1h")
      }).pipe(withEnv(env))
      expect(Duration.toMillis(config.requestTimeout)).toBe(5000)
      expect(Duration.toMillis(config.headersTimeout)).toBe(5000)
      expect(Duration.toMillis(config.connectTimeout)).toBe(2000)
      expect(Duration.toMillis(config.retry.maxRetryAfter)).toBe(3_600_000)
      expect(Redacted.value(config.apiKey)).toBe("file-key-123456")
      expect(config.projectId).toBe("flag-project")
      expect(config.baseUrl).toBe("http://localhost:1")
      expect(config.rateLimit).toEqual({ limit: 10, window: Duration.seconds(1) })
      expect(config.retry.maxRetries).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("a blank variable is not set: the defaults apply, or the setting is missing", () =>
    Effect.gen(function* () {
      const config = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ ...env, PARAGON_BASE_URL: "", PARAGON_RATE_LIMIT: " ", TASKHISTORY_MAX_RETRIES: "" })
      )
      expect(config.baseUrl).toBe(TaskHistoryConfig.cloudBaseUrl)
      expect(config.rateLimit).toEqual(TaskHistoryConfig.defaultRateLimit)
      expect(config.retry.maxRetries).toBe(TaskHistoryConfig.defaultRetry.maxRetries)
      const blankKey = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ ...env, PARAGON_API_KEY: "  " }),
        Effect.flip
      )
      expect(blankKey.message).toBe(
        'invalid API key "": expected a key: set PARAGON_API_KEY or pass --api-key-file PATH'
      )
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("fails with InvalidInput naming the missing or bad value", () =>
    Effect.gen(function* () {
      const noKey = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ PARAGON_PROJECT_ID: "p" }),
        Effect.flip
      )
      expect(noKey.message).toContain("PARAGON_API_KEY")
      expect(noKey.message).toContain("--api-key-file")
      const noProject = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ PARAGON_API_KEY: "k-123456" }),
        Effect.flip
      )
      expect(noProject.message).toBe(
        'invalid project id "": expected a Paragon project id: set PARAGON_PROJECT_ID or pass --project-id'
      )
      const emptyProjectFlag = yield* settings({
        ...ConnectionOptions.emptyFlags,
        projectId: Option.some("")
      }).pipe(withEnv(env), Effect.flip)
      expect(emptyProjectFlag.message).toBe(
        'invalid project id "": expected a Paragon project id (PARAGON_PROJECT_ID)'
      )
      const missingFile = yield* settings({
        ...ConnectionOptions.emptyFlags,
        apiKeyFile: Option.some(join(dir, "nope"))
      }).pipe(withEnv(env), Effect.flip)
      expect(missingFile.message).toContain("--api-key-file")
      expect(missingFile.message).toContain(join(dir, "nope"))
      const empty = yield* settings({
        ...ConnectionOptions.emptyFlags,
        apiKeyFile: Option.some(emptyFile)
      }).pipe(withEnv(env), Effect.flip)
      expect(empty.message).toContain("empty")
      const badRate = yield* settings({
        ...ConnectionOptions.emptyFlags,
        rateLimit: Option.some("lots")
      }).pipe(withEnv(env), Effect.flip)
      expect(badRate.message).toContain('--rate-limit "lots"')
      const badEnvRate = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ ...env, PARAGON_RATE_LIMIT: "5 per minute" }),
        Effect.flip
      )
      expect(badEnvRate.message).toContain('PARAGON_RATE_LIMIT "5 per minute"')
      const flagBeatsBadEnvRate = yield* settings({
        ...ConnectionOptions.emptyFlags,
        rateLimit: Option.some("10/1s")
      }).pipe(withEnv({ ...env, PARAGON_RATE_LIMIT: "5 per minute" }))
      expect(flagBeatsBadEnvRate.rateLimit.limit).toBe(10)
      const badRetries = yield* settings(ConnectionOptions.emptyFlags).pipe(
        withEnv({ ...env, TASKHISTORY_MAX_RETRIES: "many" }),
        Effect.flip
      )
      expect(badRetries.message).toContain('TASKHISTORY_MAX_RETRIES "many"')
      const negativeRetries = yield* settings({
        ...ConnectionOptions.emptyFlags,
        maxRetries: Option.some(-1)
      }).pipe(withEnv({ ...env, TASKHISTORY_MAX_RETRIES: "many" }), Effect.flip)
      expect(negativeRetries.message).toContain('--max-retries "-1"')
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("validates through the core and never shows the key", () =>
    Effect.gen(function* () {
      const error = yield* Effect.void.pipe(
        Effect.provide(ConnectionOptions.configLayer(ConnectionOptions.emptyFlags)),
        withEnv({ ...env, PARAGON_BASE_URL: "ftp://example.com" }),
        Effect.flip
      )
      expect(error.message).toContain("ftp://example.com")
      expect(error.message).not.toContain("env-key-abcdef")
    }).pipe(Effect.provide(NodeContext.layer))
  )
})

describe("ConnectionOptions.layer", () => {
  it.scopedLive("builds a working client from the flags (key from a file) and the environment", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 250, seed: 7 })
      const simKeyFile = join(dir, "sim-key")
      writeFileSync(simKeyFile, `${sim.apiKey}\n`)
      const flags: ConnectionOptions.ConnectionFlags = {
        ...ConnectionOptions.emptyFlags,
        apiKeyFile: Option.some(simKeyFile),
        baseUrl: Option.some(sim.url)
      }
      const count = yield* Effect.flatMap(TaskHistoryClient, (client) => client.count({})).pipe(
        Effect.provide(ConnectionOptions.layer(flags)),
        withEnv({ PARAGON_PROJECT_ID: sim.projectId, PARAGON_API_KEY: "wrong-key-000000" })
      )
      expect(count).toBe(250)
      const refused = yield* Effect.flatMap(TaskHistoryClient, (client) => client.count({})).pipe(
        Effect.provide(ConnectionOptions.layer({ ...flags, apiKeyFile: Option.none() })),
        withEnv({ PARAGON_PROJECT_ID: sim.projectId, PARAGON_API_KEY: "wrong-key-000000" }),
        Effect.flip
      )
      expect(refused._tag).toBe("Unauthorized")
    }).pipe(Effect.provide(NodeContext.layer))
  )
})
