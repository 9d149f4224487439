/**
 * The connection flags both binaries share (`--api-key-file`, `--project-id`, `--base-url`,
 * `--rate-limit`, `--rate-limit-redis`, `--max-retries`), their environment fallbacks, and the
 * Layer they turn into.
 *
 * Flags win over the environment (`PARAGON_API_KEY`, `PARAGON_PROJECT_ID`, `PARAGON_BASE_URL`,
 * `PARAGON_RATE_LIMIT`, `PARAGON_RATE_LIMIT_REDIS`, `TASKHISTORY_MAX_RETRIES`). The key itself is
 * never a flag: it comes from `PARAGON_API_KEY` or from the file named by `--api-key-file`.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import type { HttpClient } from "@effect/platform/HttpClient"
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Config, Effect, Either, Layer, Option, Redacted } from "effect"
import * as Secrets from "./internal/secrets.js"
import { CliError } from "./Main.js"

/**
 * The parsed connection flags, before the environment is consulted.
 *
 * @since 0.1.0
 */
export interface ConnectionFlags {
  readonly apiKeyFile: Option.Option<string>
  readonly projectId: Option.Option<string>
  readonly baseUrl: Option.Option<string>
  readonly rateLimit: Option.Option<string>
  readonly rateLimitRedis: Option.Option<Redacted.Redacted<string>>
  readonly maxRetries: Option.Option<number>
}

/**
 * No flag given: everything comes from the environment.
 *
 * @since 0.1.0
 */
export const emptyFlags: ConnectionFlags = {
  apiKeyFile: Option.none(),
  projectId: Option.none(),
  baseUrl: Option.none(),
  rateLimit: Option.none(),
  rateLimitRedis: Option.none(),
  maxRetries: Option.none()
}

/**
 * The `@effect/cli` options. Add them to every command that talks to the API.
 *
 * @example
 * const list = Command.make("list", { connection: ConnectionOptions.options }, ...)
 *
 * @since 0.1.0
 */
export const options: Options.Options<ConnectionFlags> = Options.all({
  apiKeyFile: Options.text("api-key-file").pipe(
    Options.withPseudoName("PATH"),
    Options.withDescription(
      "File holding the API key (one trailing newline is ignored). Default: the PARAGON_API_KEY environment variable. The key itself is never accepted as a flag."
    ),
    Options.optional
  ),
  projectId: Options.text("project-id").pipe(
    Options.withDescription("Paragon project id. Default: PARAGON_PROJECT_ID."),
    Options.optional
  ),
  baseUrl: Options.text("base-url").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription(
      `API base URL. Default: PARAGON_BASE_URL, else ${TaskHistoryConfig.cloudBaseUrl}.`
    ),
    Options.optional
  ),
  rateLimit: Options.text("rate-limit").pipe(
    Options.withPseudoName("N/DURATION"),
    Options.withDescription(
      "Client-side limit: at most N requests in any window of DURATION, e.g. 40/4s. Default: PARAGON_RATE_LIMIT, else 1000/10m."
    ),
    Options.optional
  ),
  rateLimitRedis: Options.redacted("rate-limit-redis").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription(
      "Share the rate limit with other processes through this Redis. Default: PARAGON_RATE_LIMIT_REDIS, else in-process."
    ),
    Options.optional
  ),
  maxRetries: Options.integer("max-retries").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "Retries of a failed read (429, 5xx, network) before giving up. Default: TASKHISTORY_MAX_RETRIES, else 8."
    ),
    Options.optional
  )
})

const optionalEnv = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((s) => s.trim() !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/**
 * Reads the API key file: the whole file, minus one trailing newline.
 *
 * @since 0.1.0
 */
export const readKeyFile = (
  path: string
): Effect.Effect<Redacted.Redacted<string>, InvalidInput, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError(
        (error) =>
          new InvalidInput({
            field: "--api-key-file",
            value: path,
            expected: `a readable file holding the API key (${error._tag === "SystemError" && error.reason === "NotFound" ? "no such file" : error.message})`
          })
      )
    )
    const key = text.replace(/\r?\n$/, "")
    if (key.trim() === "") {
      return yield* new InvalidInput({
        field: "--api-key-file",
        value: path,
        expected: "a file holding the API key, not an empty file"
      })
    }
    Secrets.register(key)
    return Redacted.make(key)
  })

/**
 * Resolves the flags against the environment into the core's plain config options (flags win).
 * Fails with `InvalidInput` naming the missing or bad value.
 *
 * @since 0.1.0
 */
export const resolve = (
  flags: ConnectionFlags
): Effect.Effect<TaskHistoryConfig.Options, InvalidInput, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const apiKey: Redacted.Redacted<string> = yield* Option.match(flags.apiKeyFile, {
      onSome: readKeyFile,
      onNone: () =>
        optionalEnv("PARAGON_API_KEY").pipe(
          Effect.flatMap(
            Option.match({
              onNone: () =>
                Effect.fail(
                  new InvalidInput({
                    field: "API key",
                    value: "",
                    expected: "a key: set PARAGON_API_KEY or pass --api-key-file PATH"
                  })
                ),
              onSome: (key) => {
                Secrets.register(key)
                return Effect.succeed(Redacted.make(key))
              }
            })
          )
        )
    })
    const projectId = Option.isSome(flags.projectId)
      ? flags.projectId
      : yield* optionalEnv("PARAGON_PROJECT_ID")
    if (Option.isNone(projectId)) {
      return yield* new InvalidInput({
        field: "project id",
        value: "",
        expected: "a Paragon project id: set PARAGON_PROJECT_ID or pass --project-id"
      })
    }
    const baseUrl = Option.isSome(flags.baseUrl) ? flags.baseUrl : yield* optionalEnv("PARAGON_BASE_URL")
    const rateLimitText = Option.isSome(flags.rateLimit)
      ? flags.rateLimit
      : yield* optionalEnv("PARAGON_RATE_LIMIT")
    const rateLimit = Option.isSome(rateLimitText)
      ? yield* Either.match(TaskHistoryConfig.parseRateLimit(rateLimitText.value), {
          onLeft: (e) =>
            Effect.fail(
              new InvalidInput({
                field: Option.isSome(flags.rateLimit) ? "--rate-limit" : "PARAGON_RATE_LIMIT",
                value: e.value,
                expected: e.expected
              })
            ),
          onRight: (r) => Effect.succeed(Option.some(r))
        })
      : Option.none<TaskHistoryConfig.RateLimit>()
    const redis = Option.isSome(flags.rateLimitRedis)
      ? flags.rateLimitRedis
      : Option.map(yield* optionalEnv("PARAGON_RATE_LIMIT_REDIS"), Redacted.make)
    if (Option.isSome(redis)) Secrets.register(Redacted.value(redis.value))
    let maxRetries = flags.maxRetries
    if (Option.isNone(maxRetries)) {
      const text = yield* optionalEnv("TASKHISTORY_MAX_RETRIES")
      if (Option.isSome(text)) {
        const n = Number(text.value)
        if (!/^\d+$/.test(text.value.trim()) || !Number.isSafeInteger(n)) {
          return yield* new InvalidInput({
            field: "TASKHISTORY_MAX_RETRIES",
            value: text.value,
            expected: "a non-negative integer"
          })
        }
        maxRetries = Option.some(n)
      }
    }
    if (Option.isSome(maxRetries) && maxRetries.value < 0) {
      return yield* new InvalidInput({
        field: "--max-retries",
        value: String(maxRetries.value),
        expected: "a non-negative integer"
      })
    }
    return {
      apiKey,
      projectId: projectId.value,
      baseUrl: Option.getOrUndefined(baseUrl),
      rateLimit: Option.getOrUndefined(rateLimit),
      rateLimitRedis: Option.getOrUndefined(redis),
      ...(Option.isSome(maxRetries) ? { retry: { maxRetries: maxRetries.value } } : {})
    }
  })

/**
 * The validated configuration service from the flags and the environment.
 *
 * @since 0.1.0
 */
export const configLayer = (
  flags: ConnectionFlags
): Layer.Layer<TaskHistoryConfig.TaskHistoryConfig, InvalidInput, FileSystem.FileSystem> =>
  Layer.effect(
    TaskHistoryConfig.TaskHistoryConfig,
    Effect.flatMap(resolve(flags), (options) =>
      Either.match(TaskHistoryConfig.make(options), { onLeft: Effect.fail, onRight: Effect.succeed })
    )
  )

/**
 * The rate limiter the config asks for: in-process, or shared through Redis when
 * `rateLimitRedis` is set. Redis is loaded only when used. A bad Redis URL is exit code 2, an
 * unreachable Redis 6.
 *
 * @since 0.1.0
 */
export const rateLimiterLayer: Layer.Layer<
  RateLimiter.RateLimiter,
  CliError,
  TaskHistoryConfig.TaskHistoryConfig
> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* TaskHistoryConfig.TaskHistoryConfig
    if (Option.isNone(config.rateLimitRedis)) return RateLimiter.layerFromConfig
    const Redis = yield* Effect.promise(() => import("@taskhistory/redis/RedisRateLimiter"))
    return Layer.mapError(
      Redis.layerFromConfig,
      (error) =>
        new CliError({
          exitCode: error.reason === "InvalidUrl" || error.reason === "InvalidOptions" ? 2 : 6,
          text: Secrets.scrub(error.message)
        })
    )
  })
)

/**
 * The HTTP client the binaries use (the core's lean undici client), loaded only when a command
 * needs it.
 *
 * @since 0.1.0
 */
export const httpClientLayer: Layer.Layer<HttpClient> = Layer.unwrapEffect(
  Effect.promise(() => import("@taskhistory/core/UndiciHttpClient")).pipe(Effect.map((m) => m.layer))
)

/**
 * Everything a command that talks to the API needs: `TaskHistoryConfig`, `RateLimiter` (memory,
 * or Redis with `--rate-limit-redis`) and `TaskHistoryClient` over undici.
 *
 * @example
 * program.pipe(Effect.provide(ConnectionOptions.layer(connection)))
 *
 * @since 0.1.0
 */
export const layer = (
  flags: ConnectionFlags
): Layer.Layer<
  TaskHistoryClient.TaskHistoryClient | RateLimiter.RateLimiter | TaskHistoryConfig.TaskHistoryConfig,
  InvalidInput | CliError,
  FileSystem.FileSystem
> =>
  TaskHistoryClient.layer.pipe(
    Layer.provideMerge(rateLimiterLayer),
    Layer.provideMerge(configLayer(flags)),
    Layer.provide(httpClientLayer)
  )
