/**
 * Where and how to reach the Task History API: key, project, base URL, client-side rate limit,
 * retry budget and timeouts.
 *
 * @since 0.1.0
 */
import { Config, type ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { InvalidInput } from "./TaskHistoryError.js"

/**
 * A rate limit: at most `limit` requests in any window of length `window`.
 *
 * @since 0.1.0
 */
export interface RateLimit {
  readonly limit: number
  readonly window: Duration.Duration
}

/**
 * The API's own budget: 1,000 requests per 10 minutes, for the whole project key.
 *
 * @since 0.1.0
 */
export const defaultRateLimit: RateLimit = { limit: 1000, window: Duration.minutes(10) }

/**
 * How GETs are retried (and 429s on replays).
 *
 * @since 0.1.0
 */
export interface RetryOptions {
  /** Retries after the first attempt. */
  readonly maxRetries: number
  /** Stop retrying once this much time has passed since the first attempt. */
  readonly maxElapsed: Duration.Duration
  /** First delay of the exponential backoff. */
  readonly base: Duration.Duration
  /** Largest single delay. */
  readonly cap: Duration.Duration
}

/**
 * @since 0.1.0
 */
export const defaultRetry: RetryOptions = {
  maxRetries: 8,
  maxElapsed: Duration.minutes(15),
  base: Duration.millis(500),
  cap: Duration.seconds(30)
}

/**
 * The settings of a client.
 *
 * @since 0.1.0
 */
export interface TaskHistoryConfigShape {
  readonly apiKey: Redacted.Redacted<string>
  readonly projectId: string
  /** Origin (and optional path prefix) of the API, without `/projects/...`. */
  readonly baseUrl: string
  readonly rateLimit: RateLimit
  /** A Redis URL when the limiter is shared by processes (a secret: it may carry a password). */
  readonly rateLimitRedis: Option.Option<Redacted.Redacted<string>>
  readonly retry: RetryOptions
  /** Timeout of one request, body included. */
  readonly requestTimeout: Duration.Duration
  /** Pages fetched at once when `total` is known. */
  readonly pageConcurrency: number
}

/**
 * The configuration service.
 *
 * @since 0.1.0
 */
export class TaskHistoryConfig extends Context.Tag("@taskhistory/core/TaskHistoryConfig")<
  TaskHistoryConfig,
  TaskHistoryConfigShape
>() {}

/**
 * Paragon's cloud API.
 *
 * @since 0.1.0
 */
export const cloudBaseUrl = "https://api.useparagon.com"

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses a duration such as `500ms`, `4s`, `10m`, `1h`, `7d` (a bare number is seconds).
 *
 * @since 0.1.0
 */
export const parseDuration = (
  input: string,
  field = "duration"
): Either.Either<Duration.Duration, InvalidInput> => {
  const m = DURATION.exec(input.trim())
  const ms = m === null ? Number.NaN : Number(m[1]) * (UNIT_MS[(m[2] ?? "s").toLowerCase()] ?? Number.NaN)
  return Number.isFinite(ms) && ms > 0
    ? Either.right(Duration.millis(ms))
    : Either.left(
        new InvalidInput({ field, value: input, expected: "a duration such as 500ms, 4s, 10m, 1h or 7d" })
      )
}

/**
 * Parses a rate limit of the form `N/DURATION`, e.g. `1000/10m` or `40/4s`.
 *
 * @since 0.1.0
 */
export const parseRateLimit = (input: string): Either.Either<RateLimit, InvalidInput> => {
  const bad = new InvalidInput({
    field: "rate limit",
    value: input,
    expected: "N/DURATION with N a positive integer, such as 1000/10m or 40/4s"
  })
  const [count, window, ...rest] = input.trim().split("/")
  if (count === undefined || window === undefined || rest.length > 0 || !/^\d+$/.test(count.trim())) {
    return Either.left(bad)
  }
  const limit = Number(count)
  if (!Number.isSafeInteger(limit) || limit < 1) return Either.left(bad)
  return Either.match(parseDuration(window), {
    onLeft: () => Either.left(bad),
    onRight: (d) => Either.right({ limit, window: d })
  })
}

/**
 * Formats a rate limit back into `N/DURATION`.
 *
 * @since 0.1.0
 */
export const formatRateLimit = (rate: RateLimit): string =>
  `${rate.limit}/${Duration.format(rate.window).replace(/\s+/g, "")}`

/**
 * Checks a base URL and strips what belongs to the request paths. Accepts the cloud origin, an
 * on-premise `https://zeus.<host>`, or either with `/projects/<id>/task-history` appended (as
 * Paragon's documentation writes it).
 *
 * @since 0.1.0
 */
export const parseBaseUrl = (input: string): Either.Either<string, InvalidInput> => {
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    return Either.left(
      new InvalidInput({
        field: "base URL",
        value: input,
        expected: "an http(s) URL such as https://api.useparagon.com"
      })
    )
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return Either.left(
      new InvalidInput({ field: "base URL", value: input, expected: "an http or https URL" })
    )
  }
  if (url.username !== "" || url.password !== "") {
    return Either.left(
      new InvalidInput({
        field: "base URL",
        value: `${url.protocol}//${url.host}`,
        expected: "a URL without credentials (use PARAGON_API_KEY)"
      })
    )
  }
  const path = url.pathname.replace(/\/projects\/[^/]+\/task-history\/?.*$/, "").replace(/\/+$/, "")
  return Either.right(`${url.origin}${path}`)
}

/**
 * Plain options for {@link layer}. Only `apiKey` and `projectId` are required.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly apiKey: Redacted.Redacted<string> | string
  readonly projectId: string
  readonly baseUrl?: string | undefined
  readonly rateLimit?: RateLimit | string | undefined
  readonly rateLimitRedis?: Redacted.Redacted<string> | string | undefined
  readonly retry?: Partial<RetryOptions> | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly pageConcurrency?: number | undefined
}

/**
 * The environment variables of the contract, one per setting that has one: the defaults of
 * {@link layerConfig}.
 *
 * @since 0.1.0
 */
export const variables = {
  apiKey: "PARAGON_API_KEY",
  projectId: "PARAGON_PROJECT_ID",
  baseUrl: "PARAGON_BASE_URL",
  rateLimit: "PARAGON_RATE_LIMIT",
  rateLimitRedis: "PARAGON_RATE_LIMIT_REDIS"
} as const

/**
 * A setting that has an environment variable.
 *
 * @since 0.1.0
 */
export type EnvironmentSetting = keyof typeof variables

const blankIsUnset = <A>(config: Config.Config<A>, text: (a: A) => string): Config.Config<A | undefined> =>
  Config.map(Config.option(config), (value) =>
    Option.isSome(value) && text(value.value).trim() !== "" ? value.value : undefined
  )

/**
 * The settings read from the environment ({@link variables}), as `Config` values: the key and
 * the Redis URL as `Config.redacted`. A variable that is unset or blank yields `undefined`: the
 * setting is not set (the key and the project id are then reported missing, the others take
 * their defaults). This is the only place that reads the `PARAGON_*` variables; the binaries put
 * their flags in front of these with `Config.orElse`.
 *
 * @since 0.1.0
 */
export const environment = {
  apiKey: blankIsUnset(Config.redacted(variables.apiKey), Redacted.value),
  projectId: blankIsUnset(Config.string(variables.projectId), (s) => s),
  baseUrl: blankIsUnset(Config.string(variables.baseUrl), (s) => s),
  rateLimit: blankIsUnset(Config.string(variables.rateLimit), (s) => s),
  rateLimitRedis: blankIsUnset(Config.redacted(variables.rateLimitRedis), Redacted.value)
} satisfies { readonly [K in EnvironmentSetting]: Config.Config<Options[K] | undefined> }

/**
 * The settings as `Config` values, for {@link layerConfig} (in the way of `@effect/sql-pg`'s
 * `PgClient.layerConfig`): each setting a `Config` (or, for `retry`, a record of them). A setting
 * left out is read from its environment variable ({@link environment}); a `Config` that yields
 * `undefined` leaves the setting unset.
 *
 * @since 0.1.0
 */
export type ConfigOptions = Config.Config.Wrap<Partial<Options>>

/**
 * Builds the settings, validating every value.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Either.Either<TaskHistoryConfigShape, InvalidInput> =>
  fromPartial(options)

const fromPartial = (options: Partial<Options>): Either.Either<TaskHistoryConfigShape, InvalidInput> =>
  Either.gen(function* () {
    if (options.apiKey === undefined) {
      return yield* Either.left(
        new InvalidInput({ field: "API key", value: "", expected: `a key (set ${variables.apiKey})` })
      )
    }
    const apiKey = Redacted.isRedacted(options.apiKey) ? options.apiKey : Redacted.make(options.apiKey)
    if (Redacted.value(apiKey).trim() === "") {
      return yield* Either.left(
        new InvalidInput({ field: "API key", value: "", expected: `a non-empty key (${variables.apiKey})` })
      )
    }
    if (options.projectId === undefined) {
      return yield* Either.left(
        new InvalidInput({
          field: "project id",
          value: "",
          expected: `a Paragon project id (set ${variables.projectId})`
        })
      )
    }
    if (options.projectId.trim() === "" || /[/?#\s]/.test(options.projectId)) {
      return yield* Either.left(
        new InvalidInput({
          field: "project id",
          value: options.projectId,
          expected: `a Paragon project id (${variables.projectId})`
        })
      )
    }
    const baseUrl = yield* parseBaseUrl(options.baseUrl ?? cloudBaseUrl)
    const rateLimit =
      options.rateLimit === undefined
        ? defaultRateLimit
        : typeof options.rateLimit === "string"
          ? yield* parseRateLimit(options.rateLimit)
          : options.rateLimit
    const redis = options.rateLimitRedis
    const concurrency = options.pageConcurrency ?? 4
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      return yield* Either.left(
        new InvalidInput({
          field: "page concurrency",
          value: String(concurrency),
          expected: "a positive integer"
        })
      )
    }
    return {
      apiKey,
      projectId: options.projectId.trim(),
      baseUrl,
      rateLimit,
      rateLimitRedis:
        redis === undefined || (typeof redis === "string" && redis.trim() === "")
          ? Option.none()
          : Option.some(Redacted.isRedacted(redis) ? redis : Redacted.make(redis)),
      retry: { ...defaultRetry, ...options.retry },
      requestTimeout: Duration.decode(options.requestTimeout ?? Duration.seconds(60)),
      pageConcurrency: concurrency
    }
  })

const fromEither = <A>(either: Either.Either<A, InvalidInput>): Effect.Effect<A, InvalidInput> =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * A layer from plain options.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<TaskHistoryConfig, InvalidInput> =>
  Layer.effect(TaskHistoryConfig, fromEither(make(options)))

/**
 * A layer from `Config` values, each setting defaulting to its environment variable
 * (`PARAGON_API_KEY`, `PARAGON_PROJECT_ID`, `PARAGON_BASE_URL`, `PARAGON_RATE_LIMIT`,
 * `PARAGON_RATE_LIMIT_REDIS`; see {@link environment}). A missing or bad value fails with
 * `InvalidInput` naming it; a `Config` of yours that cannot be read fails with its
 * `ConfigError`.
 *
 * @example
 * // the environment, with the project id from elsewhere
 * TaskHistoryConfig.layerConfig({ projectId: Config.string("MY_PROJECT") })
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: ConfigOptions = {}
): Layer.Layer<TaskHistoryConfig, InvalidInput | ConfigError.ConfigError> =>
  Layer.effect(
    TaskHistoryConfig,
    Effect.flatMap(
      Config.unwrap<Partial<Options>>(Config.isConfig(config) ? config : { ...environment, ...config }),
      (options) => fromEither(fromPartial(options))
    )
  )
