/**
 * Every way a Task History call can fail, as tagged errors with a message a person can act on.
 * No error carries the API key: URLs are kept without credentials and bodies are cut to a short
 * excerpt.
 *
 * @since 0.1.0
 */
import { Data, Duration, Predicate } from "effect"

/**
 * @since 0.1.0
 */
export const TypeId: unique symbol = Symbol.for("@taskhistory/core/TaskHistoryError")

/**
 * @since 0.1.0
 */
export type TypeId = typeof TypeId

/**
 * Where a failed request went: method and URL, never headers.
 *
 * @since 0.1.0
 */
export interface RequestInfo {
  readonly method: string
  readonly url: string
}

const describe = (request: RequestInfo | undefined) =>
  request === undefined ? "" : ` (${request.method} ${request.url})`

/**
 * 401: the key was refused.
 *
 * @since 0.1.0
 */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `authentication failed (401)${describe(this.request)}: check PARAGON_API_KEY (or --api-key-file) and the project id`
  }
}

/**
 * 404: the project, execution or step does not exist (or is past retention).
 *
 * @since 0.1.0
 */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly resource: string
  /**
   * What was not found: the project itself (a list request: a wrong project id, which retrying
   * cannot fix), or one execution or step (which may be past retention).
   */
  readonly target?: "project" | "execution" | "step" | undefined
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `not found (404): ${this.resource}${describe(this.request)}`
  }
}

/**
 * 429, and the client stopped waiting:
 *
 * - `Exhausted`: the retry budget ran out (or retries were not allowed).
 * - `WaitTooLong`: the server asked to wait longer than `retry.maxRetryAfter` (`--wait`).
 * - `BadRetryAfter`: the server's `Retry-After` header could not be read.
 *
 * @since 0.1.0
 */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  /** What the server asked us to wait (Retry-After), when it said. */
  readonly retryAfter?: Duration.Duration | undefined
  readonly request?: RequestInfo | undefined
  /** Why the client stopped waiting. Default `Exhausted`. */
  readonly reason?: "Exhausted" | "WaitTooLong" | "BadRetryAfter" | undefined
  /** The `Retry-After` header as the server sent it (cut to 100 characters). */
  readonly header?: string | undefined
  /** The longest wait the client accepts (`retry.maxRetryAfter`), for `WaitTooLong`. */
  readonly maxWait?: Duration.Duration | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const header = this.header === undefined ? "" : ` (Retry-After: ${JSON.stringify(this.header)})`
    switch (this.reason) {
      case "WaitTooLong":
        return `rate limited (429)${describe(this.request)}: the server asked to wait ${this.retryAfter === undefined ? "" : Duration.format(this.retryAfter)}${header}, longer than the ${this.maxWait === undefined ? "limit" : Duration.format(this.maxWait)} this client waits: try again later, or allow a longer wait with --wait DURATION`
      case "BadRetryAfter":
        return `rate limited (429)${describe(this.request)}: the server's Retry-After header cannot be read${header}; not retried: try again later`
      default: {
        const wait =
          this.retryAfter === undefined
            ? ""
            : `; the server asked to wait ${Duration.format(this.retryAfter)}`
        return `rate limited (429)${describe(this.request)}${wait}: lower --rate-limit, or check other clients that share the key`
      }
    }
  }
}

/**
 * What an error answer carries: its status, an excerpt of its body (the key scrubbed), and the
 * request it answered.
 *
 * @since 0.1.0
 */
export interface AnswerFields {
  readonly status: number
  readonly excerpt?: string | undefined
  readonly request?: RequestInfo | undefined
}

const answerMessage = (what: string, answer: AnswerFields): string =>
  `${what} (${answer.status})${describe(answer.request)}${answer.excerpt ? `: ${answer.excerpt}` : ""}`

/**
 * A 5xx answer.
 *
 * @since 0.1.0
 */
export class ServerError extends Data.TaggedError("ServerError")<AnswerFields> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return answerMessage("server error", this)
  }
}

/**
 * Another 4xx answer (400, 403, 409, ...): not retried.
 *
 * @since 0.1.0
 */
export class ClientError extends Data.TaggedError("ClientError")<AnswerFields> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return answerMessage("request refused", this)
  }
}

/**
 * The request failed below HTTP.
 *
 * - `ConnectionRefused`: nothing listened; the request provably never reached a server.
 * - `Dns`: the host name could not be resolved (nothing was sent).
 * - `ConnectTimeout`: no connection within the connect timeout, or the host is unreachable
 *   (nothing was sent).
 * - `Tls`: the TLS handshake failed (a certificate that does not match or cannot be verified).
 * - `Reset`: the connection dropped after it was open (the server may have acted).
 * - `Timeout`: no answer (headers) or no complete body within its deadline.
 * - `Other`: anything else below HTTP.
 *
 * @since 0.1.0
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: "ConnectionRefused" | "Dns" | "ConnectTimeout" | "Tls" | "Reset" | "Timeout" | "Other"
  readonly detail?: string | undefined
  readonly request?: RequestInfo | undefined
  /** Attempts made before giving up (set by the retry loop when it retried). */
  readonly attempts?: number | undefined
  /** Time from the first attempt to giving up (set with `attempts`). */
  readonly elapsed?: Duration.Duration | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const what = {
      ConnectionRefused: "connection refused",
      Dns: "host name not found",
      ConnectTimeout: "could not connect",
      Tls: "TLS handshake failed",
      Reset: "connection reset",
      Timeout: "request timed out",
      Other: "network error"
    }[this.reason]
    const origin = this.request === undefined ? "" : ` to ${originOf(this.request.url)}`
    const detail = this.detail ? `: ${this.detail}` : ""
    const gaveUp =
      this.attempts === undefined || this.attempts < 2
        ? ""
        : `; gave up after ${this.attempts} attempts${this.elapsed === undefined ? "" : ` in ${Duration.format(roundSeconds(this.elapsed))}`}`
    return `${what}${origin}${describe(this.request)}${detail}${gaveUp}`
  }
}

/** Whether a transport failure happened before any byte of the request was sent. */
export const neverSent = (error: TransportError): boolean =>
  error.reason === "ConnectionRefused" || error.reason === "Dns" || error.reason === "ConnectTimeout"

/** Whether a transport failure means the server could not be reached at all. */
export const isConnectFailure = (error: TransportError): boolean => neverSent(error) || error.reason === "Tls"

const roundSeconds = (d: Duration.Duration) => Duration.millis(Math.round(Duration.toMillis(d) / 100) * 100)

/** `scheme://host:port` of a URL (the port always shown), or the text itself if it is not one. */
const originOf = (url: string): string => {
  try {
    const u = new URL(url)
    const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : u.protocol === "http:" ? "80" : ""
    return `${u.protocol}//${u.hostname.includes(":") && !u.hostname.startsWith("[") ? `[${u.hostname}]` : u.hostname}${port === "" ? "" : `:${port}`}`
  } catch {
    return url
  }
}

/**
 * A response that could not be decoded.
 *
 * - `NotJson`: the body is not JSON (truncated, or plain text).
 * - `Html`: an HTML page, typically from a proxy or gateway.
 * - `Shape`: JSON of the wrong shape; `path` names the field.
 * - `TooLarge`: the body is larger than `maxResponseBytes`; it was not read (the connection was
 *   closed at the limit, or at the headers when they announced more).
 *
 * @since 0.1.0
 */
export class InvalidResponse extends Data.TaggedError("InvalidResponse")<{
  readonly reason: "NotJson" | "Html" | "Shape" | "TooLarge"
  readonly status: number
  readonly path?: string | undefined
  readonly detail?: string | undefined
  readonly excerpt: string
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const what = {
      NotJson: "the response is not valid JSON",
      Html: "the response is an HTML page (a proxy or gateway answered, not the API)",
      Shape: `the response has an unexpected shape${this.path ? ` at ${this.path}` : ""}`,
      TooLarge: "response too large"
    }[this.reason]
    const detail = this.detail ? ` (${this.detail})` : ""
    const body = this.excerpt === "" ? "" : `; body starts: ${this.excerpt}`
    return `${what}${detail}${describe(this.request)}, status ${this.status}${body}`
  }
}

/**
 * The server's paging went nowhere: the reader stopped instead of spending more requests.
 *
 * - `SamePage`: pages at new offsets brought only ids already read (the server ignores
 *   `offset`, or serves one page over and over).
 * - `LinkNotAdvancing`: `nextLink` pointed at an offset already read, or backwards.
 * - `PastTotal`: far more records than the `total` the server announced.
 *
 * @since 0.1.0
 */
export class NoProgress extends Data.TaggedError("NoProgress")<{
  readonly reason: "SamePage" | "LinkNotAdvancing" | "PastTotal"
  readonly detail: string
  /** Requests that brought nothing new before the reader stopped. */
  readonly wasted: number
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const what = {
      SamePage: "the server keeps sending pages already read",
      LinkNotAdvancing: "the server's nextLink does not move forward",
      PastTotal: "the server sends more executions than its total"
    }[this.reason]
    return `${what}${describe(this.request)}: ${this.detail}; stopped after ${this.wasted} wasted request(s) (the server is misbehaving: nothing more was read)`
  }
}

/**
 * The rate limiter could not grant a request: a limiter shared by processes (Redis) stayed
 * unreachable or kept failing after its own retries. The request was not sent (going on without
 * the shared budget would break it), so a replay that fails this way may be sent again.
 *
 * @since 0.1.0
 */
export class RateLimiterUnavailable extends Data.TaggedError("RateLimiterUnavailable")<{
  /** What failed, as a sentence, without credentials (e.g. the Redis server by host and port). */
  readonly detail: string
  /** The limiter's own error (e.g. a `RedisLimiterError`), shown with `--verbose`. */
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return this.detail
  }
}

/**
 * A replay request was sent and its outcome is unknown (timeout, reset, 5xx after sending). The
 * execution may have been replayed; it was not re-sent, since replays have no idempotency key.
 *
 * @since 0.1.0
 */
export class ReplayOutcomeUnknown extends Data.TaggedError("ReplayOutcomeUnknown")<{
  readonly executionId: string
  readonly cause: ServerError | TransportError | InvalidResponse
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `replay of ${this.executionId} may or may not have been applied (${this.cause.message}); it was not re-sent: check the execution list before replaying again`
  }
}

/**
 * Invalid input from a user or configuration: a flag, a date, a rate limit. Names the bad value.
 *
 * @since 0.1.0
 */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly field: string
  readonly value: string
  readonly expected: string
  /**
   * What is wrong, when the value must not be shown (a secret): the message is then
   * `<field> <problem>: expected <expected>` and `value` stays empty.
   */
  readonly problem?: string | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return this.problem === undefined
      ? `invalid ${this.field} ${JSON.stringify(this.value)}: expected ${this.expected}`
      : `${this.field} ${this.problem}: expected ${this.expected}`
  }
}

/**
 * A record that is not a valid execution, met while streaming with `onInvalid: "fail"`.
 *
 * @since 0.1.0
 */
export class InvalidRecordError extends Data.TaggedError("InvalidRecord")<{
  /** The record as received. */
  readonly raw: unknown
  readonly reason: string
  /** Position of the record in the whole result (page offset + index). */
  readonly position: number
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const id = Predicate.hasProperty(this.raw, "id") ? ` (id ${JSON.stringify(this.raw.id)})` : ""
    return `invalid execution record at position ${this.position}${id}: ${this.reason}`
  }
}

/**
 * Any error of a Task History request.
 *
 * @since 0.1.0
 */
export type RequestError =
  | Unauthorized
  | NotFound
  | RateLimited
  | ServerError
  | ClientError
  | TransportError
  | InvalidResponse
  | NoProgress
  | RateLimiterUnavailable

/**
 * Any error of this package.
 *
 * @since 0.1.0
 */
export type TaskHistoryError = RequestError | ReplayOutcomeUnknown | InvalidInput | InvalidRecordError

/**
 * @since 0.1.0
 */
export const isTaskHistoryError = (u: unknown): u is TaskHistoryError => Predicate.hasProperty(u, TypeId)

/**
 * The process exit code the binaries use for an error (see the contract).
 *
 * @since 0.1.0
 */
export const exitCode = (error: TaskHistoryError): number => {
  switch (error._tag) {
    case "InvalidInput":
      return 2
    case "Unauthorized":
      return 3
    case "NotFound":
      return 4
    case "RateLimited":
      return 5
    case "ServerError":
    case "ClientError":
    case "TransportError":
    case "InvalidResponse":
    case "InvalidRecord":
    case "NoProgress":
    case "RateLimiterUnavailable":
      return 6
    case "ReplayOutcomeUnknown":
      return 7
  }
}

/**
 * Whether a GET that failed with this error may be retried: 429, 5xx and transport errors (the
 * client's own retry uses it, within its budgets).
 *
 * @since 0.1.0
 */
export const isRetryable = (error: TaskHistoryError): boolean =>
  (error._tag === "RateLimited" && (error.reason === undefined || error.reason === "Exhausted")) ||
  error._tag === "ServerError" ||
  error._tag === "TransportError"

/**
 * Whether an error will come back on every try until someone changes the configuration: a
 * refused key (401), a forbidden project (403) or another 4xx that is not about timing, the
 * project not found (404 of a list), invalid input. A scheduled exporter stops on these with the
 * error's exit code; everything else is transient (a later run may succeed).
 *
 * @since 0.1.0
 */
export const isPermanent = (error: TaskHistoryError): boolean => {
  switch (error._tag) {
    case "Unauthorized":
    case "InvalidInput":
      return true
    case "NotFound":
      return error.target === "project"
    case "ClientError":
      return error.status !== 408 && error.status !== 409 && error.status !== 425
    default:
      return false
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g

const visible = (c: string): string => {
  const code = c.charCodeAt(0)
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`
}

/**
 * Text a server controls, made safe to print on a terminal: every control character (C0, DEL,
 * C1, and the Unicode line and paragraph separators) written as a visible escape such as `\x1b`
 * or `\u009b`, so that no escape sequence reaches the terminal. With `keepLines`, tab and line
 * feed are kept (multi-line messages).
 *
 * @example
 * escapeControls("ok\u001b]0;pwned\u0007") // "ok\\x1b]0;pwned\\x07"
 *
 * @since 0.1.0
 */
export const escapeControls = (text: string, keepLines = false): string =>
  text.replace(keepLines ? CONTROL_BUT_LINES : CONTROL, visible)

/**
 * Cuts a body to a short single-line excerpt for error messages, control characters escaped
 * ({@link escapeControls}): an excerpt is text a server controls.
 *
 * @since 0.1.0
 */
export const excerpt = (body: string, max = 120): string => {
  const flat = escapeControls(body.replace(/[\t\n\r ]+/g, " ").trim())
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}
