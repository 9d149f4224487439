/**
 * Where and how to reach the Task History API: key, project, base URL, client-side rate limit,
 * retry budget and timeouts.
 *
 * @since 0.1.0
 */
import { Config, type ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { InvalidInput, type RequestError } from "./TaskHistoryError.js"

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
  /**
   * No retry starts once this much time has passed since the first attempt of a request, not
   * counting the waits a 429 asked for (those are bounded by `maxRetryAfter`).
   */
  readonly maxElapsed: Duration.Duration
  /**
   * While the server cannot be reached at all (connection refused, DNS, TLS, connect timeout),
   * no retry starts that would end after this much time since the first attempt: such failures
   * end within about this long.
   */
  readonly connectElapsed: Duration.Duration
  /**
   * The longest `Retry-After` waited for; a 429 asking for more (or with a header that cannot
   * be read) fails at once with `RateLimited`.
   */
  readonly maxRetryAfter: Duration.Duration
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
  maxElapsed: Duration.minutes(2),
  connectElapsed: Duration.seconds(15),
  maxRetryAfter: Duration.minutes(10),
  base: Duration.millis(500),
  cap: Duration.seconds(30)
}

/**
 * A retry the client is about to make.
 *
 * @since 0.1.0
 */
export interface RetryEvent {
  /** The failure that is retried. */
  readonly error: RequestError
  /** The attempt that failed (1 for the first). */
  readonly attempt: number
  /** The most attempts this request makes (`maxRetries + 1`). */
  readonly maxAttempts: number
  /** The wait before the next attempt (for a 429, what the server asked for). */
  readonly delay: Duration.Duration
}

/**
 * One line about a retry, for people: `retrying in 2s (attempt 2 of 9): connection refused ...`.
 *
 * @since 0.1.0
 */
export const describeRetry = (event: RetryEvent): string => {
  const ms = Duration.toMillis(event.delay)
  const wait =
    ms < 1000 ? `${Math.max(1, Math.round(ms))}ms` : Duration.format(Duration.seconds(Math.round(ms / 1000)))
  return `retrying in ${wait} (attempt ${event.attempt + 1} of ${event.maxAttempts}): ${event.error.message}`
}

/**
 * What the client does before each retry: by default a debug log ({@link describeRetry}). The
 * binaries print it on stderr when it is a terminal or with `--verbose`. Read when the client is
 * built: provide it to `TaskHistoryClient.layer`.
 *
 * @example
 * TaskHistoryClient.layer.pipe(
 *   Layer.provide(Layer.succeed(TaskHistoryConfig.RetryReporter, (event) => Console.error(TaskHistoryConfig.describeRetry(event))))
 * )
 *
 * @since 0.1.0
 */
export class RetryReporter extends Context.Reference<RetryReporter>()(
  "@taskhistory/core/TaskHistoryConfig/RetryReporter",
  {
    defaultValue: (): ((event: RetryEvent) => Effect.Effect<void>) => (event) =>
      Effect.logDebug(describeRetry(event))
  }
) {}

/**
 * The default deadlines and size limit of one request (see {@link TaskHistoryConfigShape}).
 *
 * @since 0.1.0
 */
export const defaultLimits = {
  requestTimeout: Duration.seconds(60),
  connectTimeout: Duration.seconds(10),
  headersTimeout: Duration.seconds(30),
  maxResponseBytes: 32 * 1024 * 1024
} as const

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
  /** Deadline of one request's whole answer (status, headers and body). Default 60 s. */
  readonly requestTimeout: Duration.Duration
  /** Deadline of the connection (TCP and TLS) of one request. Default 10 s. */
  readonly connectTimeout: Duration.Duration
  /** Deadline of the status and headers, from the moment the request is sent. Default 30 s. */
  readonly headersTimeout: Duration.Duration
  /** The largest body read (bytes); a larger answer fails with `InvalidResponse` `TooLarge`. Default 32 MiB. */
  readonly maxResponseBytes: number
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

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/i
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
}

/**
 * The longest duration a timer can wait (`setTimeout`'s limit, about 24.8 days): the default
 * upper bound of {@link parseDuration}.
 *
 * @since 0.1.0
 */
export const maxTimerDuration = Duration.millis(2 ** 31 - 1)

/**
 * Parses a duration such as `500ms`, `4s`, `10m`, `1h`, `7d` or `2w`. The unit is required (a
 * bare number is refused: `5` could mean seconds or minutes); the value must be positive and at
 * most `max` (default {@link maxTimerDuration}).
 *
 * @since 0.1.0
 */
export const parseDuration = (
  input: string,
  field = "duration",
  max: Duration.Duration = maxTimerDuration
): Either.Either<Duration.Duration, InvalidInput> => {
  const text = input.trim()
  const m = DURATION.exec(text)
  const ms = m === null ? Number.NaN : Number(m[1]) * (UNIT_MS[(m[2] ?? "").toLowerCase()] ?? Number.NaN)
  const expected = /^\d+(\.\d+)?$/.test(text)
    ? "a duration with a unit, such as 30s or 15m (a bare number has none)"
    : "a duration such as 500ms, 4s, 10m, 1h or 7d"
  if (!Number.isFinite(ms) || ms <= 0) return Either.left(new InvalidInput({ field, value: input, expected }))
  if (ms > Duration.toMillis(max)) {
    return Either.left(
      new InvalidInput({ field, value: input, expected: `a duration of at most ${Duration.format(max)}` })
    )
  }
  return Either.right(Duration.millis(ms))
}

/**
 * What is wrong with a secret (an API key, a URL with a password) that cannot be sent as is: a
 * control character (newline, CR, NUL, ...) anywhere, or whitespace inside it. `undefined` when
 * it is fine. The secret itself is never part of the answer.
 *
 * @example
 * secretProblem("abc\ndef") // "contains a newline (character 4)"
 *
 * @since 0.1.0
 */
export const secretProblem = (value: string): string | undefined => {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    const what =
      code === 10
        ? "a newline"
        : code === 13
          ? "a carriage return"
          : code === 0
            ? "a NUL character"
            : code === 9
              ? "a tab"
              : code < 32 || code === 127 || (code >= 0x80 && code <= 0x9f)
                ? `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`
                : code === 32 || (code > 0x9f && /\s/.test(value[i] as string))
                  ? "a space"
                  : undefined
    if (what !== undefined) return `contains ${what} (character ${i + 1})`
  }
  return undefined
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
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly headersTimeout?: Duration.DurationInput | undefined
  readonly maxResponseBytes?: number | undefined
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
    const given = Redacted.isRedacted(options.apiKey) ? Redacted.value(options.apiKey) : options.apiKey
    // Whitespace around the key (a trailing newline of a file or a secret store) is dropped;
    // anything else that cannot go into an HTTP header is refused before any request.
    const trimmed = given.trim()
    if (trimmed === "") {
      return yield* Either.left(
        new InvalidInput({ field: "API key", value: "", expected: `a non-empty key (${variables.apiKey})` })
      )
    }
    const problem = secretProblem(trimmed)
    if (problem !== undefined) {
      return yield* Either.left(
        new InvalidInput({
          field: "API key",
          value: "",
          problem,
          expected: "the key on one line, without spaces or control characters"
        })
      )
    }
    const apiKey =
      Redacted.isRedacted(options.apiKey) && trimmed === given ? options.apiKey : Redacted.make(trimmed)
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
    if (redis !== undefined) {
      const text = Redacted.isRedacted(redis) ? Redacted.value(redis) : redis
      const problem = secretProblem(text.trim())
      if (problem !== undefined) {
        return yield* Either.left(
          new InvalidInput({
            field: "Redis URL",
            value: "",
            problem,
            expected: "a redis:// URL on one line, without spaces or control characters"
          })
        )
      }
    }
    const maxBytes = options.maxResponseBytes ?? defaultLimits.maxResponseBytes
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1024) {
      return yield* Either.left(
        new InvalidInput({
          field: "max response bytes",
          value: String(maxBytes),
          expected: "an integer of at least 1024"
        })
      )
    }
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
      requestTimeout: Duration.decode(options.requestTimeout ?? defaultLimits.requestTimeout),
      connectTimeout: Duration.decode(options.connectTimeout ?? defaultLimits.connectTimeout),
      headersTimeout: Duration.decode(options.headersTimeout ?? defaultLimits.headersTimeout),
      maxResponseBytes: maxBytes,
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
