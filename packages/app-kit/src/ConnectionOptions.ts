/**
 * The connection flags both binaries share (`--api-key-file`, `--project-id`, `--base-url`,
 * `--rate-limit`, `--rate-limit-redis`, `--max-retries`) and the Layer they turn into.
 *
 * Flags win over the environment: each flag is put in front of its variable with `Config.orElse`,
 * and the result handed to the core's `TaskHistoryConfig.layerConfig`, whose
 * `TaskHistoryConfig.environment` is the one reader of `PARAGON_API_KEY`, `PARAGON_PROJECT_ID`,
 * `PARAGON_BASE_URL`, `PARAGON_RATE_LIMIT` and `PARAGON_RATE_LIMIT_REDIS`
 * (`TASKHISTORY_MAX_RETRIES`, a variable of the binaries only, is read here). The key itself is
 * never a flag: it comes from `PARAGON_API_KEY` or from the file named by `--api-key-file`.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import type { HttpClient } from "@effect/platform/HttpClient"
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Config, Console, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import * as InputFile from "./InputFile.js"
import * as Output from "./internal/output.js"
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
  /** `--timeout`: the deadline of one request's whole answer. */
  readonly timeout: Option.Option<string>
  /** `--connect-timeout`: the deadline of one request's connection. */
  readonly connectTimeout: Option.Option<string>
  /** `--wait`: the longest Retry-After waited for. */
  readonly wait: Option.Option<string>
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
  maxRetries: Option.none(),
  timeout: Option.none(),
  connectTimeout: Option.none(),
  wait: Option.none()
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
  ),
  timeout: Options.text("timeout").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "Deadline of one request's whole answer (headers within 30s of sending, at most this). Default: 60s."
    ),
    Options.optional
  ),
  connectTimeout: Options.text("connect-timeout").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "Deadline of one request's connection. An unreachable server fails (exit 6) within about 15s. Default: 10s."
    ),
    Options.optional
  ),
  wait: Options.text("wait").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "Longest wait a 429's Retry-After may ask for; a longer one (or one that cannot be read) fails with exit 5. Default: 10m."
    ),
    Options.optional
  )
})

/**
 * Reads the API key file: at most {@link InputFile.keyFileLimit} bytes (a larger file, or
 * `/dev/zero`, is exit 2 without reading it), minus one trailing newline. The key is registered
 * as a secret at once, so nothing printed shows it.
 *
 * @since 0.1.0
 */
export const readKeyFile = (
  path: string
): Effect.Effect<Redacted.Redacted<string>, InvalidInput, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const text = yield* InputFile.readText("--api-key-file", path, InputFile.keyFileLimit).pipe(
      Effect.mapError(
        (error) =>
          new InvalidInput({
            field: "--api-key-file",
            value: path,
            expected: error.expected.replace(/^a readable file/, "a readable file holding the API key")
          })
      )
    )
    const key = text.replace(/\r?\n$/, "")
    Secrets.register(key)
    if (key.trim() === "") {
      return yield* new InvalidInput({
        field: "--api-key-file",
        value: path,
        expected: "a file holding the API key, not an empty file"
      })
    }
    return Redacted.make(key)
  })

/** A flag as a `Config`: its value when it was given; otherwise `fallback` (flags win). */
const flagOr = <A, B>(flag: Option.Option<A>, fallback: Config.Config<B>): Config.Config<A | B> =>
  Config.orElse(
    Option.match(flag, {
      onNone: () => Config.fail("not given on the command line"),
      onSome: (value) => Config.succeed(value)
    }),
    () => fallback
  )

const env = TaskHistoryConfig.environment

/**
 * The core's settings from the flags, each falling back to its environment variable through
 * `TaskHistoryConfig.environment` (the one reader of the `PARAGON_*` variables), for
 * `TaskHistoryConfig.layerConfig`. The key is the one read from `--api-key-file`
 * ({@link readKeyFile}) when the flag was given.
 *
 * @since 0.1.0
 */
export const config = (
  flags: ConnectionFlags,
  keyFromFile: Option.Option<Redacted.Redacted<string>>
): TaskHistoryConfig.ConfigOptions => ({
  apiKey: flagOr(keyFromFile, env.apiKey),
  projectId: flagOr(flags.projectId, env.projectId),
  baseUrl: flagOr(flags.baseUrl, env.baseUrl),
  rateLimit: flagOr(flags.rateLimit, env.rateLimit),
  rateLimitRedis: flagOr(flags.rateLimitRedis, env.rateLimitRedis)
})

/**
 * The core's errors about a missing or bad setting, told in terms of the flag or the variable
 * it came from.
 */
const explain =
  (flags: ConnectionFlags) =>
  (error: InvalidInput): InvalidInput => {
    const as = (field: string, expected = error.expected) =>
      new InvalidInput({ field, value: error.value, expected, problem: error.problem })
    switch (error.field) {
      case "API key":
        // A key that cannot be sent (a newline inside, ...): named by where it came from.
        if (error.problem !== undefined) {
          return as(
            Option.isSome(flags.apiKeyFile)
              ? `the key in --api-key-file ${flags.apiKeyFile.value}`
              : TaskHistoryConfig.variables.apiKey
          )
        }
        // Without --api-key-file the key can only be missing (a blank variable is not set).
        return Option.isNone(flags.apiKeyFile)
          ? as(error.field, `a key: set ${TaskHistoryConfig.variables.apiKey} or pass --api-key-file PATH`)
          : error
      case "Redis URL":
        return as(
          Option.isSome(flags.rateLimitRedis)
            ? "--rate-limit-redis"
            : TaskHistoryConfig.variables.rateLimitRedis
        )
      case "project id":
        return Option.isNone(flags.projectId) && error.value === ""
          ? as(
              error.field,
              `a Paragon project id: set ${TaskHistoryConfig.variables.projectId} or pass --project-id`
            )
          : error
      case "rate limit":
        return as(Option.isSome(flags.rateLimit) ? "--rate-limit" : TaskHistoryConfig.variables.rateLimit)
      default:
        return error
    }
  }

const MAX_RETRIES = "TASKHISTORY_MAX_RETRIES"

/** `--max-retries`, else `TASKHISTORY_MAX_RETRIES` (a variable of the binaries, not of the core). */
const maxRetries = (flags: ConnectionFlags): Effect.Effect<Option.Option<number>, InvalidInput> =>
  Effect.gen(function* () {
    if (Option.isSome(flags.maxRetries)) {
      if (flags.maxRetries.value >= 0) return flags.maxRetries
      return yield* new InvalidInput({
        field: "--max-retries",
        value: String(flags.maxRetries.value),
        expected: "a non-negative integer"
      })
    }
    const text = yield* Config.option(Config.string(MAX_RETRIES)).pipe(
      Effect.orElseSucceed(() => Option.none<string>())
    )
    if (Option.isNone(text) || text.value.trim() === "") return Option.none()
    const n = Number(text.value)
    if (!/^\d+$/.test(text.value.trim()) || !Number.isSafeInteger(n)) {
      return yield* new InvalidInput({
        field: MAX_RETRIES,
        value: text.value,
        expected: "a non-negative integer"
      })
    }
    return Option.some(n)
  })

const durationFlag = (flag: string, value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) =>
      Either.match(TaskHistoryConfig.parseDuration(text, flag), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
  })

/** `--timeout`, `--connect-timeout`, `--wait` as settings of the core. */
const limitsOf = (flags: ConnectionFlags) =>
  Effect.gen(function* () {
    const timeout = yield* durationFlag("--timeout", flags.timeout)
    const connect = yield* durationFlag("--connect-timeout", flags.connectTimeout)
    const wait = yield* durationFlag("--wait", flags.wait)
    return {
      settings: {
        ...(timeout === undefined
          ? {}
          : {
              requestTimeout: timeout,
              headersTimeout: Duration.min(timeout, TaskHistoryConfig.defaultLimits.headersTimeout)
            }),
        ...(connect === undefined ? {} : { connectTimeout: connect })
      },
      retry: wait === undefined ? {} : { maxRetryAfter: wait }
    }
  })

/**
 * The validated configuration service from the flags and the environment: reads the key file
 * of `--api-key-file`, hands {@link config} to `TaskHistoryConfig.layerConfig`, and applies
 * `--max-retries` (or `TASKHISTORY_MAX_RETRIES`). Fails with `InvalidInput` naming the missing
 * or bad value and where it came from. The key and the Redis URL are registered as secrets, so
 * nothing printed shows them. `apiKey`, when given, is the key (read by the caller from a source
 * of its own, such as a stream of `run --config`), in place of `--api-key-file` and
 * `PARAGON_API_KEY`.
 *
 * @since 0.1.0
 */
export const configLayer = (
  flags: ConnectionFlags,
  apiKey?: Redacted.Redacted<string>
): Layer.Layer<TaskHistoryConfig.TaskHistoryConfig, InvalidInput | CliError, FileSystem.FileSystem> =>
  Layer.unwrapEffect(
    Effect.map(
      apiKey === undefined
        ? Effect.transposeMapOption(flags.apiKeyFile, readKeyFile)
        : Effect.succeed(Option.some(apiKey)),
      (keyFromFile) =>
        Layer.effect(
          TaskHistoryConfig.TaskHistoryConfig,
          Effect.gen(function* () {
            const settings = yield* TaskHistoryConfig.TaskHistoryConfig
            Secrets.register(Redacted.value(settings.apiKey))
            // Only the password of the Redis URL: a message still names the server that failed.
            if (Option.isSome(settings.rateLimitRedis))
              Secrets.registerUrl(Redacted.value(settings.rateLimitRedis.value))
            const retries = yield* maxRetries(flags)
            const limits = yield* limitsOf(flags)
            return {
              ...settings,
              ...limits.settings,
              retry: {
                ...settings.retry,
                ...limits.retry,
                ...(Option.isSome(retries) ? { maxRetries: retries.value } : {})
              }
            }
          })
        ).pipe(
          Layer.provide(
            TaskHistoryConfig.layerConfig(config(flags, keyFromFile)).pipe(
              Layer.mapError((error) =>
                error._tag === "InvalidInput"
                  ? explain(flags)(error)
                  : // The flags and the environment readers never fail; a ConfigError here is a
                    // configuration the binaries cannot read.
                    new CliError({ exitCode: 2, text: `invalid configuration: ${String(error)}` })
              )
            )
          )
        )
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
    Layer.provide(Layer.merge(httpClientLayer, retryReporterLayer))
  )

/**
 * How the binaries tell of a retry: one line on stderr (`retrying in 2s (attempt 2 of 9): ...`)
 * when it is a terminal or with `--verbose`, else a debug log.
 *
 * @since 0.1.0
 */
export const retryReporterLayer: Layer.Layer<TaskHistoryConfig.RetryReporter> = Layer.succeed(
  TaskHistoryConfig.RetryReporter,
  (event) => {
    const line = TaskHistoryConfig.describeRetry(event)
    return process.stderr.isTTY === true || Output.isVerbose() ? Console.error(line) : Effect.logDebug(line)
  }
)
