/**
 * The HTTP pipeline: one decoration of `@effect/platform`'s HttpClient, in small steps.
 *
 * 1. `decorate`: base URL + `/projects/<id>/task-history`, bearer auth, JSON, User-Agent.
 * 2. `send`: one attempt within its deadlines (connect, headers, whole answer) and size limit;
 *    transport failures classified; status -> typed error.
 * 3. `parseJson` then `validateAt`: body -> JSON -> schema check (the value itself is kept), or
 *    `InvalidResponse` naming the field.
 * 4. `withRetry`: every attempt through `RateLimiter.withPermit`; a 429 pauses the limiter;
 *    retried on a `Schedule` (GETs: 429, 5xx, transport; replays: only 429 and failures before
 *    anything was sent), within the budgets of `RetryOptions`, each retry reported.
 */
// Deep imports: the `@effect/platform` index loads every module of the package (HttpApi,
// OpenApi, ...), ~35 MB of RSS that a client never uses.
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type { HttpClientError } from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import {
  Clock,
  Duration,
  Effect,
  Either,
  type Exit,
  Fiber,
  FiberRef,
  LogLevel,
  Metric,
  ParseResult,
  Predicate,
  Redacted,
  Schedule,
  type Schema,
  Stream,
  type Tracer
} from "effect"
import type { RateLimiterShape } from "../RateLimiter.js"
import { defaultPause } from "../RateLimiter.js"
import type { RetryEvent, RetryOptions, TaskHistoryConfigShape } from "../TaskHistoryConfig.js"
import {
  ClientError,
  excerpt,
  InvalidResponse,
  isConnectFailure,
  NotFound,
  neverSent,
  RateLimited,
  type RateLimiterUnavailable,
  ReplayOutcomeUnknown,
  type RequestError,
  type RequestInfo,
  ServerError,
  TransportError,
  Unauthorized
} from "../TaskHistoryError.js"
import {
  AnswerTimeout,
  BodyText,
  type HasBodyText,
  isLimitsCapable,
  KeepsSize,
  KeepsTimeout,
  ResponseTooLarge,
  WithLimits
} from "./deadline.js"
import * as metrics from "./metrics.js"
import { version } from "./version.js"

/** The `User-Agent` this client sends. */
export const userAgent = `taskhistory/${version}`

/** The path prefix of every request, below the base URL. */
export const rootPath = (projectId: string) => `/projects/${encodeURIComponent(projectId)}/task-history`

const tracerDisabled = () => true

/** The tracer of a program that installs none: the spans it keeps are read by nobody. */
const nativeTracer = Effect.runSync(Effect.tracer)

/**
 * `Effect.withSpan`, when a tracer is installed (`@effect/opentelemetry`, ...). A span copies the
 * fiber's context; with no tracer to receive it, two spans per page cost as much CPU as the
 * request itself on a bulk read.
 */
export const traced =
  (name: string, options: Tracer.SpanOptions) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.tracerWith((tracer) => (tracer === nativeTracer ? self : Effect.withSpan(self, name, options)))

/** The clock of a program that installs none (not a `TestClock`). */
const liveClock = Effect.runSync(Effect.clock)

/** The longest delay `setTimeout` honours: it fires after 1 ms for anything longer. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * `Effect.timeoutFail`. Under the live clock: the effect in one forked fiber, watched by a
 * timer; Effect's own (a race of two forked fibers) was half the CPU of the request pipeline on
 * a bulk read. Under any other clock (`TestClock`), Effect's own, so that tests control time.
 * A duration longer than a timer can hold (`Duration.infinity`, more than ~24.8 days) never
 * times out, as with Effect's own clock.
 */
export const timeoutFail =
  <E2>(duration: Duration.Duration, onTimeout: () => E2) =>
  <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | E2> =>
    Effect.clockWith((clock) =>
      clock !== liveClock
        ? Effect.timeoutFail(self, { duration, onTimeout })
        : Duration.toMillis(duration) > MAX_TIMER_MILLIS
          ? self
          : Effect.flatMap(Effect.fork(self), (fiber) =>
              Effect.async<A, E | E2>((resume) => {
                const observer = (exit: Exit.Exit<A, E>) => {
                  clearTimeout(timer)
                  resume(exit)
                }
                const timer = setTimeout(() => {
                  fiber.removeObserver(observer)
                  resume(Effect.zipRight(Fiber.interrupt(fiber), Effect.fail(onTimeout())))
                }, Duration.toMillis(duration))
                fiber.addObserver(observer)
                return Effect.suspend(() => {
                  clearTimeout(timer)
                  fiber.removeObserver(observer)
                  return Fiber.interrupt(fiber)
                })
              })
            )
    )

/**
 * Step 1: base URL, auth and headers. The key is unwrapped once, into the `Authorization` header
 * (which the platform redacts wherever it shows headers). A client that can keep the deadlines
 * and the size limit itself (`UndiciHttpClient`) is given them here.
 *
 * The platform's own `http.client` span is turned off: `send` opens one span per request
 * (`TaskHistory.request`), and a second one per request (with its attributes built from the
 * full URL and every header) was a fifth of the client's CPU time on a bulk read.
 */
export const decorate = (
  given: HttpClient.HttpClient,
  config: TaskHistoryConfigShape
): HttpClient.HttpClient => {
  // A client that can keep the limits itself is asked to (see `withDeadline` and `bodyOf`).
  const client = isLimitsCapable(given)
    ? given[WithLimits]({
        total: config.requestTimeout,
        connect: config.connectTimeout,
        headers: config.headersTimeout,
        maxBytes: config.maxResponseBytes
      })
    : given
  const base = `${config.baseUrl}${rootPath(config.projectId)}`
  // Built once: the same headers for every request.
  const headers = Headers.fromInput({
    authorization: `Bearer ${Redacted.value(config.apiKey)}`,
    accept: "application/json",
    "user-agent": userAgent
  })
  const decorated = HttpClient.mapRequest(
    HttpClient.withTracerDisabledWhen(client, tracerDisabled),
    (request) => HttpClientRequest.setHeaders(HttpClientRequest.prependUrl(request, base), headers)
  )
  // the decorations run before the client's own code: it still keeps the limits
  return Object.assign(
    decorated,
    KeepsTimeout in client ? { [KeepsTimeout]: true } : {},
    KeepsSize in client ? { [KeepsSize]: true } : {}
  )
}

/** What a request asks for, relative to the task-history root. */
export interface RequestSpec {
  readonly method: "GET" | "POST"
  /** What the request does, as the `operation` tag of the request counter. */
  readonly operation: metrics.Operation
  /** Path below `/projects/<id>/task-history`, starting with `/`. */
  readonly path: string
  readonly params?: ReadonlyArray<readonly [string, string]> | undefined
  /** What a 404 means, for the error message ("execution abc"). */
  readonly resource: string
  /** What a 404 is about: the project (a list), or one execution or step. */
  readonly target?: "project" | "execution" | "step" | undefined
  /** Extra annotations of the debug logs of the request (only built when debug logs are kept). */
  readonly annotations?: Readonly<Record<string, unknown>> | undefined
}

/** The `code` of a request that got no HTTP answer, by the transport error's reason. */
const transportCode: Record<TransportError["reason"], string> = {
  ConnectionRefused: "refused",
  Dns: "dns",
  ConnectTimeout: "connect_timeout",
  Tls: "tls",
  Reset: "reset",
  Timeout: "timeout",
  Other: "network"
}

/** A completed answer with a 2xx status. */
export interface Answer {
  readonly status: number
  /** The body's text (decoded the first time it is read, when the client kept the bytes). */
  readonly body: string
  readonly contentType: string
  readonly request: RequestInfo
}

/**
 * The forms a secret takes in a text a server sends back: as it is, JSON-escaped (a key with a
 * quote or a backslash, echoed in a JSON body) and URL-encoded (echoed from a query or a form).
 */
const secretForms = (value: string): ReadonlyArray<string> => {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])
  // Longest first: a form that contains another is removed whole.
  return [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length)
}

/** Removes every occurrence of the secret (in each of its forms) from a text meant for an error message. */
export const scrub = (secret: Redacted.Redacted<string>, text: string): string => {
  let out = text
  for (const form of secretForms(Redacted.value(secret))) {
    if (out.includes(form)) out = out.split(form).join("<redacted>")
  }
  return out
}

/** An HTTP date (IMF-fixdate, RFC 850 or asctime): it starts with the name of a day. */
const HTTP_DATE = /^(mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s/i

/**
 * Parses `Retry-After`: delta-seconds or an HTTP date (a date in the past means now).
 * Returns `undefined` for a missing value, `"unreadable"` for one that is neither.
 */
export const parseRetryAfter = (
  value: string | undefined,
  nowMs: number
): Duration.Duration | "unreadable" | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Duration.millis(Math.round(Number(text) * 1000))
  const at = HTTP_DATE.test(text) ? Date.parse(text) : Number.NaN
  if (Number.isNaN(at)) return "unreadable"
  return Duration.millis(Math.max(0, at - nowMs))
}

const TRANSPORT_RESET = /ECONNRESET|EPIPE|socket hang up|other side closed|UND_ERR_SOCKET|ECONNABORTED/i
const TRANSPORT_DNS = /ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NODATA|EAI_NONAME/
const TRANSPORT_UNREACHABLE = /UND_ERR_CONNECT_TIMEOUT|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN/
const TRANSPORT_TLS =
  /ERR_TLS_|ERR_SSL_|CERT_|_CERT\b|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|EPROTO|wrong version number|ssl3_|tlsv1 alert/i

/** Walks an error's `cause` chain (and `errors` of an AggregateError) for codes and messages. */
const causeTexts = (cause: unknown): Array<string> => {
  const out: Array<string> = []
  const seen = new Set<unknown>()
  const queue: Array<unknown> = [cause]
  while (queue.length > 0 && out.length < 32) {
    const current = queue.shift()
    if (current === undefined || current === null || seen.has(current)) continue
    seen.add(current)
    if (Predicate.hasProperty(current, "code") && typeof current.code === "string") out.push(current.code)
    if (Predicate.hasProperty(current, "name") && typeof current.name === "string") out.push(current.name)
    if (Predicate.hasProperty(current, "message") && typeof current.message === "string")
      out.push(current.message)
    if (typeof current === "string") out.push(current)
    if (Predicate.hasProperty(current, "cause")) queue.push(current.cause)
    if (Predicate.hasProperty(current, "errors") && Array.isArray(current.errors))
      queue.push(...current.errors)
  }
  return out
}

/** Classifies a failure below HTTP by the underlying cause code. */
export const classifyTransport = (cause: unknown): { reason: TransportError["reason"]; detail: string } => {
  const texts = causeTexts(cause)
  const detail = excerpt(
    texts.filter((t) => t !== "Error" && t !== "TypeError" && t !== "fetch failed").join(": ") || "unknown",
    160
  )
  if (texts.some((t) => t.includes("ECONNREFUSED"))) return { reason: "ConnectionRefused", detail }
  if (texts.some((t) => TRANSPORT_DNS.test(t))) return { reason: "Dns", detail }
  if (texts.some((t) => TRANSPORT_UNREACHABLE.test(t))) return { reason: "ConnectTimeout", detail }
  if (texts.some((t) => TRANSPORT_TLS.test(t))) return { reason: "Tls", detail }
  if (texts.some((t) => TRANSPORT_RESET.test(t))) return { reason: "Reset", detail }
  return { reason: "Other", detail }
}

/** `?a=1&b=2` (form-encoded, as `URLSearchParams` writes it), or "" without parameters. */
const queryString = (params: ReadonlyArray<readonly [string, string]> | undefined): string =>
  params === undefined || params.length === 0
    ? ""
    : `?${new URLSearchParams(params as Array<[string, string]>).toString()}`

const statusError = (
  status: number,
  headers: Readonly<Record<string, string | undefined>>,
  body: string,
  spec: RequestSpec,
  info: RequestInfo,
  nowMs: number,
  config: TaskHistoryConfigShape
): RequestError => {
  const text = excerpt(scrub(config.apiKey, body))
  if (status === 401) return new Unauthorized({ request: info })
  if (status === 404) return new NotFound({ resource: spec.resource, target: spec.target, request: info })
  if (status === 429) {
    const raw = headers["retry-after"]
    const header = raw === undefined ? undefined : excerpt(raw, 100)
    const retryAfter = parseRetryAfter(raw, nowMs)
    if (retryAfter === "unreadable")
      return new RateLimited({ reason: "BadRetryAfter", header, request: info })
    const maxWait = config.retry.maxRetryAfter
    if (retryAfter !== undefined && Duration.greaterThan(retryAfter, maxWait)) {
      return new RateLimited({ reason: "WaitTooLong", retryAfter, header, maxWait, request: info })
    }
    return new RateLimited({ retryAfter, header, request: info })
  }
  if (status >= 500) return new ServerError({ status, excerpt: text, request: info })
  return new ClientError({ status, excerpt: text, request: info })
}

/**
 * The request timeout of `send`: kept by the client's own timer when it does (`KeepsTimeout`,
 * under the live clock: no fiber forked per request), else `timeoutFail`.
 */
const withDeadline =
  <E2>(client: HttpClient.HttpClient, duration: Duration.Duration, onTimeout: () => E2) =>
  <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | E2> =>
    KeepsTimeout in client
      ? Effect.clockWith((clock) => (clock === liveClock ? self : timeoutFail(duration, onTimeout)(self)))
      : timeoutFail(duration, onTimeout)(self)

const formatBytes = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB` : `${n} bytes`

const utf8 = new TextDecoder()

const hasBodyText = (
  response: HttpClientResponse.HttpClientResponse
): response is HttpClientResponse.HttpClientResponse & HasBodyText => BodyText in response

/**
 * The body as text (a function that decodes it, when the client read it whole: see `BodyText`),
 * at most `maxBytes` of it: a client that keeps the limit itself (`KeepsSize`) hands over a body
 * within it; any other is read from its stream, stopped (and the connection closed) as soon as
 * it grows past the limit or announces more.
 */
const bodyOf = (
  client: HttpClient.HttpClient,
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<string | (() => string), HttpClientError | ResponseTooLarge> => {
  if (KeepsSize in client) return hasBodyText(response) ? Effect.succeed(response[BodyText]) : response.text
  return Effect.suspend(() => {
    const declared = response.headers["content-length"]
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
      return Effect.fail(new ResponseTooLarge(maxBytes, Number(declared), response.status))
    }
    const chunks: Array<Uint8Array> = []
    let length = 0
    return Stream.runForEach(response.stream, (chunk) => {
      length += chunk.length
      if (length > maxBytes) return Effect.fail(new ResponseTooLarge(maxBytes, undefined, response.status))
      chunks.push(chunk)
      return Effect.void
    }).pipe(Effect.map(() => utf8.decode(Buffer.concat(chunks, length))))
  })
}

const textOf = (body: string | (() => string)): string => (typeof body === "string" ? body : body())

/** An `Answer` whose body is decoded when it is first read, if it is not text already. */
const answerOf = (
  status: number,
  body: string | (() => string),
  contentType: string,
  request: RequestInfo
): Answer => {
  if (typeof body === "string") return { status, body, contentType, request }
  // Not cached: an answer may outlive its use (referenced by an old object not collected yet),
  // and its text with it; each reader decodes it once (see `parseJson`).
  return {
    status,
    contentType,
    request,
    get body() {
      return body()
    }
  }
}

/**
 * Step 2: one attempt. Deadlines: the connection, the status and headers, the whole answer (body
 * included); the body is read up to `maxResponseBytes`. Non-2xx statuses become typed errors;
 * failures below HTTP are classified by their cause.
 */
export const send = (
  client: HttpClient.HttpClient,
  config: TaskHistoryConfigShape,
  spec: RequestSpec
): Effect.Effect<Answer, RequestError> => {
  const query = queryString(spec.params)
  // The full URL is only spelled out when an error or a log shows it.
  let url: string | undefined
  const info: RequestInfo = {
    method: spec.method,
    get url() {
      url ??= `${config.baseUrl}${rootPath(config.projectId)}${spec.path}${query}`
      return url
    }
  }
  const request =
    spec.method === "GET"
      ? HttpClientRequest.get(spec.path + query)
      : HttpClientRequest.post(spec.path + query)
  const transport = (cause: unknown) => {
    const { reason, detail } = classifyTransport(cause)
    return new TransportError({ reason, detail: scrub(config.apiKey, detail), request: info })
  }
  const timedOut = (cause?: AnswerTimeout) => {
    const within = Duration.format(
      cause === undefined ? config.requestTimeout : Duration.millis(cause.millis)
    )
    return cause?.phase === "connect"
      ? new TransportError({
          reason: "ConnectTimeout",
          detail: `no connection within ${within}`,
          request: info
        })
      : new TransportError({
          reason: "Timeout",
          detail:
            cause?.phase === "headers"
              ? `no answer (status and headers) within ${within}`
              : `no complete answer within ${within}`,
          request: info
        })
  }
  const tooLarge = (cause: ResponseTooLarge) =>
    new InvalidResponse({
      reason: "TooLarge",
      status: cause.status ?? 200,
      detail:
        cause.declared === undefined
          ? `more than ${formatBytes(cause.limit)}; the rest was not read`
          : `${formatBytes(cause.declared)} announced, more than ${formatBytes(cause.limit)}; not read`,
      excerpt: "",
      request: info
    })
  const exchange = Effect.flatMap(client.execute(request), (response) =>
    Effect.map(bodyOf(client, response, config.maxResponseBytes), (body) => ({
      status: response.status,
      headers: response.headers,
      body
    }))
  ).pipe(
    Effect.catchAll((error: HttpClientError | ResponseTooLarge) => {
      const cause = error instanceof ResponseTooLarge ? error : (error.cause ?? error)
      return Effect.fail(
        cause instanceof ResponseTooLarge
          ? tooLarge(cause)
          : cause instanceof AnswerTimeout
            ? timedOut(cause)
            : transport(cause)
      )
    })
  )
  const attempt = withDeadline(
    client,
    config.requestTimeout,
    timedOut
  )(exchange).pipe(
    // Every attempt is counted once it ended, with its status or what happened instead.
    Effect.tapBoth({
      onFailure: (error) =>
        metrics.countRequest(
          spec.operation,
          error._tag === "TransportError" ? transportCode[error.reason] : "too_large"
        ),
      onSuccess: ({ status }) => metrics.countRequest(spec.operation, String(status))
    }),
    Effect.flatMap(({ status, headers, body }) =>
      status >= 200 && status < 300
        ? Effect.succeed(answerOf(status, body, headers["content-type"] ?? "", info))
        : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.fail(statusError(status, headers, textOf(body), spec, info, now, config))
          )
    )
  )
  // The debug logs of an attempt (and their annotations) cost a few fiber-ref updates per
  // request even when they are dropped: they are only attached when debug logs are kept.
  const logged = () =>
    attempt.pipe(
      Effect.tap((answer) =>
        Effect.logDebug("Task History answer").pipe(Effect.annotateLogs("status", answer.status))
      ),
      Effect.tapError((error) =>
        Effect.logDebug("Task History request failed").pipe(Effect.annotateLogs("error", error._tag))
      ),
      Effect.annotateLogs({ method: spec.method, path: spec.path, ...spec.annotations })
    )
  return Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (minimum) =>
    LogLevel.greaterThan(minimum, LogLevel.Debug) ? attempt : logged()
  ).pipe(
    traced("TaskHistory.request", {
      kind: "client",
      captureStackTrace: false,
      attributes: { "http.request.method": spec.method, "url.path": spec.path }
    })
  )
}

const HTML = /^\s*<(!doctype\s+html|html|head|body)\b/i

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join("")

/** Step 3a: parses a body as JSON: `NotJson` or `Html` when it is not. */
export const parseJson = (
  answer: Answer,
  secret: Redacted.Redacted<string>
): Either.Either<unknown, InvalidResponse> => {
  // read once: a lazy answer decodes its body at each read
  const body = answer.body
  const fail = (reason: "NotJson" | "Html", detail?: string) =>
    new InvalidResponse({
      reason,
      status: answer.status,
      detail,
      excerpt: excerpt(scrub(secret, body)),
      request: answer.request
    })
  if (HTML.test(body) || /text\/html/i.test(answer.contentType)) return Either.left(fail("Html"))
  return Either.try({
    try: (): unknown => JSON.parse(body),
    catch: (e) => fail("NotJson", e instanceof Error ? excerpt(scrub(secret, e.message), 100) : undefined)
  })
}

/** A `Shape` error naming the first failing field and showing an excerpt. */
export const shapeError = (
  answer: Answer,
  secret: Redacted.Redacted<string>,
  path: string,
  detail: string
): InvalidResponse =>
  new InvalidResponse({
    reason: "Shape",
    status: answer.status,
    path: path === "" ? "(root)" : path,
    detail: excerpt(scrub(secret, detail), 160),
    excerpt: excerpt(scrub(secret, answer.body)),
    request: answer.request
  })

/**
 * Step 3b: checks `json` against `schema` and returns it untouched (key order, unknown fields);
 * on failure, a `Shape` error whose path is `prefix` + the issue's path.
 */
export const validateAt = <A, I>(
  answer: Answer,
  secret: Redacted.Redacted<string>,
  schema: Schema.Schema<A, I>,
  json: unknown,
  prefix: ReadonlyArray<PropertyKey> = []
): Either.Either<A, InvalidResponse> =>
  Either.mapLeft(ParseResult.decodeUnknownEither(schema, { errors: "first" })(json), (issue) => {
    const first = ParseResult.ArrayFormatter.formatIssueSync(issue)[0]
    const path = formatPath([...prefix, ...(first?.path ?? [])])
    return shapeError(answer, secret, path, first?.message ?? "unexpected value")
  })

/**
 * The retry schedule: exponential from `base` with jitter, each delay capped at `cap`, at most
 * `maxRetries` retries. The time budgets (`maxElapsed`, `connectElapsed`) are kept by
 * {@link withRetry}, which knows what each failure was.
 */
export const retrySchedule = (options: RetryOptions) =>
  Schedule.exponential(options.base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, options.cap)),
    Schedule.intersect(Schedule.recurs(options.maxRetries))
  )

// One schedule per retry configuration (a schedule is a description: each `retry` runs its own
// state), not a new one per request.
const schedules = new WeakMap<RetryOptions, Schedule.Schedule<Duration.Duration>>()
const delaysFor = (options: RetryOptions) => {
  let schedule = schedules.get(options)
  if (schedule === undefined) {
    schedule = Schedule.delays(retrySchedule(options))
    schedules.set(options, schedule)
  }
  return schedule
}

/** Which failures of a replay are retried: only those that provably never reached the server. */
export const isRetryableReplay = (error: RequestError): boolean =>
  (error._tag === "RateLimited" && (error.reason === undefined || error.reason === "Exhausted")) ||
  (error._tag === "TransportError" && neverSent(error))

/** How {@link withRetry} tells that it retries (the `RetryReporter` of the client). */
export type ReportRetry = (event: RetryEvent) => Effect.Effect<void>

/**
 * Step 4: retry over rate limit. Every attempt waits for a permit; a 429 pauses every caller
 * for its Retry-After (or `RateLimiter.defaultPause`) before the schedule retries.
 *
 * Budgets, besides `maxRetries`: no retry starts once `maxElapsed` has passed since the first
 * attempt (the waits 429s asked for not counted); while the server cannot be reached at all
 * (connection refused, DNS, TLS, connect timeout) no retry starts that would end after
 * `connectElapsed` (its length guessed from the last attempt). Each retry is reported before it
 * waits; a transport failure that was retried carries the attempts and the time spent.
 */
export const withRetry = <A, E extends RequestError>(
  attempt: Effect.Effect<A, E>,
  limiter: RateLimiterShape,
  options: RetryOptions,
  retryable: (error: NoInfer<E> | RateLimiterUnavailable) => boolean,
  report: ReportRetry = () => Effect.void
): Effect.Effect<A, E | RateLimiterUnavailable> =>
  Effect.suspend(() => {
    let attempts = 0
    let firstStart = 0
    let lastStart = 0
    /** Time spent in the pauses 429s asked for. */
    let waived = 0
    const once = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      attempts++
      lastStart = now
      if (attempts === 1) firstStart = now
      return attempts > 1 ? Effect.zipRight(Metric.increment(metrics.retries), attempt) : attempt
    }).pipe(
      limiter.withPermit,
      Effect.tapError((error) =>
        error._tag === "RateLimited" && retryable(error)
          ? Effect.zipRight(
              Metric.increment(metrics.rateLimited),
              limiter.pause((error as RateLimited).retryAfter ?? defaultPause)
            )
          : Effect.void
      )
    )
    /** Whether to retry after `error`, `delay` from now (reported when it does). */
    const decide = (error: E | RateLimiterUnavailable, delay: Duration.Duration) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (!retryable(error)) return Effect.succeed(false)
        let wait = delay
        if (error._tag === "RateLimited") {
          const asked = (error as RateLimited).retryAfter ?? defaultPause
          waived += Duration.toMillis(asked)
          wait = Duration.max(delay, asked)
        }
        const next = now + Duration.toMillis(delay)
        if (error._tag === "TransportError" && isConnectFailure(error as TransportError)) {
          // The next attempt, if it fails the same way, takes about as long as the last one.
          const ends = next + (now - lastStart)
          if (ends - firstStart > Duration.toMillis(options.connectElapsed)) return Effect.succeed(false)
        } else if (next - firstStart - waived > Duration.toMillis(options.maxElapsed)) {
          return Effect.succeed(false)
        }
        return Effect.as(
          report({ error, attempt: attempts, maxAttempts: options.maxRetries + 1, delay: wait }),
          true
        )
      })
    const gaveUp = (error: E | RateLimiterUnavailable) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(
          error._tag === "TransportError" && attempts > 1
            ? (new TransportError({
                ...(error as TransportError),
                attempts,
                elapsed: Duration.millis(now - firstStart)
              }) as E)
            : error
        )
      )
    // The schedule's driver is only built after a first retryable failure, which is handed to
    // it as the first attempt's outcome: the same decisions as `Effect.retry(once, ...)`, without
    // its cost on the (common) request that succeeds at once.
    return Effect.catchAll(once, (first) => {
      if (!retryable(first)) return Effect.fail(first)
      let replayed = false
      const again = Effect.suspend(() => {
        if (replayed) return once
        replayed = true
        return Effect.fail(first)
      })
      return Effect.retry(again, {
        schedule: Schedule.checkEffect(delaysFor(options), decide)
      }).pipe(Effect.catchAll(gaveUp))
    })
  })

/** A replay failure after the request may have reached the server. */
export const replayUnknown = (
  executionId: string,
  error: RequestError
): RequestError | ReplayOutcomeUnknown =>
  error._tag === "ServerError" ||
  error._tag === "InvalidResponse" ||
  (error._tag === "TransportError" && !neverSent(error))
    ? new ReplayOutcomeUnknown({ executionId, cause: error })
    : error
