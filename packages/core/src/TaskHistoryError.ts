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
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `not found (404): ${this.resource}${describe(this.request)}`
  }
}

/**
 * 429 and the retry budget ran out (or retries were not allowed).
 *
 * @since 0.1.0
 */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  /** What the server asked us to wait (Retry-After), when it said. */
  readonly retryAfter?: Duration.Duration | undefined
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const wait =
      this.retryAfter === undefined ? "" : `; the server asked to wait ${Duration.format(this.retryAfter)}`
    return `rate limited (429)${describe(this.request)}${wait}: lower --rate-limit, or check other clients that share the key`
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
 * - `Reset`: the connection dropped after it was open (the server may have acted).
 * - `Timeout`: no complete answer within the per-request timeout.
 * - `Other`: DNS failure, TLS error, ...
 *
 * @since 0.1.0
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: "ConnectionRefused" | "Reset" | "Timeout" | "Other"
  readonly detail?: string | undefined
  readonly request?: RequestInfo | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const what = {
      ConnectionRefused: "connection refused",
      Reset: "connection reset",
      Timeout: "request timed out",
      Other: "network error"
    }[this.reason]
    const detail = this.detail ? `: ${this.detail}` : ""
    return `${what}${describe(this.request)}${detail}`
  }
}

/**
 * A response that could not be decoded.
 *
 * - `NotJson`: the body is not JSON (truncated, or plain text).
 * - `Html`: an HTML page, typically from a proxy or gateway.
 * - `Shape`: JSON of the wrong shape; `path` names the field.
 *
 * @since 0.1.0
 */
export class InvalidResponse extends Data.TaggedError("InvalidResponse")<{
  readonly reason: "NotJson" | "Html" | "Shape"
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
      Shape: `the response has an unexpected shape${this.path ? ` at ${this.path}` : ""}`
    }[this.reason]
    const detail = this.detail ? ` (${this.detail})` : ""
    return `${what}${detail}${describe(this.request)}, status ${this.status}; body starts: ${this.excerpt}`
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
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `invalid ${this.field} ${JSON.stringify(this.value)}: expected ${this.expected}`
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
    case "RateLimiterUnavailable":
      return 6
    case "ReplayOutcomeUnknown":
      return 7
  }
}

/**
 * Whether a GET that failed with this error may be retried: 429, 5xx and transport errors (the
 * client's own retry uses it).
 *
 * @since 0.1.0
 */
export const isRetryable = (error: TaskHistoryError): boolean =>
  error._tag === "RateLimited" || error._tag === "ServerError" || error._tag === "TransportError"

/**
 * Cuts a body to a short single-line excerpt for error messages.
 *
 * @since 0.1.0
 */
export const excerpt = (body: string, max = 120): string => {
  const flat = body.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}
