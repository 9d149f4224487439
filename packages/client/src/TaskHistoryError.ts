/**
 * The errors of the Promise client: one class per failure, all extending {@link TaskHistoryError},
 * so `instanceof` and `code` tell them apart. Messages are the core's (the same words the CLI
 * prints); no error carries the API key.
 *
 * @since 0.1.0
 */

/**
 * What went wrong, as a string to `switch` on.
 *
 * @since 0.1.0
 */
export type ErrorCode =
  | "unauthorized"
  | "not_found"
  | "rate_limited"
  | "server_error"
  | "client_error"
  | "connection_error"
  | "invalid_response"
  | "replay_outcome_unknown"
  | "invalid_input"
  | "invalid_record"
  | "rate_limiter_unavailable"
  | "no_progress"
  | "closed"
  | "unexpected"

/**
 * The method and URL of the request that failed (never its headers).
 *
 * @since 0.1.0
 */
export interface RequestInfo {
  readonly method: string
  readonly url: string
}

/**
 * Fields every error may carry.
 *
 * @since 0.1.0
 */
export interface ErrorDetails {
  /** The HTTP status of the answer, when there was one. */
  readonly status?: number | undefined
  /** The request that failed, when one did. */
  readonly request?: RequestInfo | undefined
  /** The underlying error (the core's tagged error), for logs and debugging. */
  readonly cause?: unknown
}

/**
 * The base class of every error this package throws.
 *
 * @example
 * try {
 *   await th.executions.get(id)
 * } catch (error) {
 *   if (error instanceof NotFoundError) return undefined
 *   throw error
 * }
 *
 * @since 0.1.0
 */
export class TaskHistoryError extends Error {
  /** What went wrong. */
  readonly code: ErrorCode
  /** The HTTP status of the answer, when there was one. */
  readonly status: number | undefined
  /** The request that failed, when one did. */
  readonly request: RequestInfo | undefined

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.code = code
    this.status = details.status
    this.request = details.request
  }
}

/**
 * 401: the API key was refused.
 *
 * @since 0.1.0
 */
export class UnauthorizedError extends TaskHistoryError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("unauthorized", message, { status: 401, ...details })
  }
}

/**
 * 404: the project, execution or step does not exist (or is past retention).
 *
 * @since 0.1.0
 */
export class NotFoundError extends TaskHistoryError {
  /** What was not found, e.g. `execution 1234`. */
  readonly resource: string
  constructor(message: string, resource: string, details: ErrorDetails = {}) {
    super("not_found", message, { status: 404, ...details })
    this.resource = resource
  }
}

/**
 * 429, and the client stopped waiting: the retry budget ran out (`Exhausted`), the server asked
 * to wait longer than `maxRetryAfterMs` (`WaitTooLong`), or its `Retry-After` could not be read
 * (`BadRetryAfter`).
 *
 * @since 0.1.0
 */
export class RateLimitedError extends TaskHistoryError {
  /** How long the server asked to wait (Retry-After), in milliseconds, when it said. */
  readonly retryAfterMs: number | undefined
  /** Why the client stopped waiting. */
  readonly reason: "Exhausted" | "WaitTooLong" | "BadRetryAfter"
  constructor(
    message: string,
    retryAfterMs: number | undefined,
    details: ErrorDetails & {
      readonly reason?: "Exhausted" | "WaitTooLong" | "BadRetryAfter" | undefined
    } = {}
  ) {
    super("rate_limited", message, { status: 429, ...details })
    this.retryAfterMs = retryAfterMs
    this.reason = details.reason ?? "Exhausted"
  }
}

/**
 * A 5xx answer, after the retries of a read.
 *
 * @since 0.1.0
 */
export class ServerError extends TaskHistoryError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("server_error", message, details)
  }
}

/**
 * Another 4xx answer (400, 403, 409, ...): not retried.
 *
 * @since 0.1.0
 */
export class ClientError extends TaskHistoryError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("client_error", message, details)
  }
}

/**
 * Why a request failed below HTTP.
 *
 * @since 0.1.0
 */
export type ConnectionFailure =
  | "ConnectionRefused"
  | "Dns"
  | "ConnectTimeout"
  | "Tls"
  | "Reset"
  | "Timeout"
  | "Other"

/**
 * The request failed below HTTP: refused, host not found, no connection in time, TLS, reset,
 * no answer in time.
 *
 * @since 0.1.0
 */
export class ConnectionError extends TaskHistoryError {
  /** `ConnectionRefused`, `Dns`, `ConnectTimeout`, `Tls`, `Reset`, `Timeout` or `Other`. */
  readonly reason: ConnectionFailure
  constructor(message: string, reason: ConnectionFailure, details: ErrorDetails = {}) {
    super("connection_error", message, details)
    this.reason = reason
  }
}

/**
 * An answer that could not be decoded (not JSON, an HTML page from a proxy, the wrong shape).
 *
 * @since 0.1.0
 */
export class InvalidResponseError extends TaskHistoryError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("invalid_response", message, details)
  }
}

/**
 * The server's paging went nowhere (it ignores `offset`, its `nextLink` loops or goes back, or
 * it sends far more than its `total`): `list` stopped after a few wasted requests.
 *
 * @since 0.1.0
 */
export class NoProgressError extends TaskHistoryError {
  /** `SamePage`, `LinkNotAdvancing` or `PastTotal`. */
  readonly reason: "SamePage" | "LinkNotAdvancing" | "PastTotal"
  constructor(
    message: string,
    reason: "SamePage" | "LinkNotAdvancing" | "PastTotal",
    details: ErrorDetails = {}
  ) {
    super("no_progress", message, details)
    this.reason = reason
  }
}

/**
 * A replay was sent and its outcome is unknown (timeout, reset, 5xx after sending). It may have
 * been applied; it was not re-sent, since replays have no idempotency key.
 *
 * @since 0.1.0
 */
export class ReplayOutcomeUnknownError extends TaskHistoryError {
  readonly executionId: string
  constructor(message: string, executionId: string, details: ErrorDetails = {}) {
    super("replay_outcome_unknown", message, details)
    this.executionId = executionId
  }
}

/**
 * An invalid option or filter: the message names the bad value. Thrown by the constructor too.
 *
 * @since 0.1.0
 */
export class InvalidInputError extends TaskHistoryError {
  /** The option or filter, e.g. `status`. */
  readonly field: string
  /** The value given. */
  readonly value: string
  constructor(message: string, field: string, value: string) {
    super("invalid_input", message)
    this.field = field
    this.value = value
  }
}

/**
 * A record that is not a valid execution, met by `list` (unless `onInvalid: "skip"`).
 *
 * @since 0.1.0
 */
export class InvalidRecordError extends TaskHistoryError {
  /** The record as received. */
  readonly raw: unknown
  /** Position of the record in the whole result. */
  readonly position: number
  constructor(message: string, raw: unknown, position: number) {
    super("invalid_record", message)
    this.raw = raw
    this.position = position
  }
}

/**
 * The shared (Redis) rate limiter could not be used: Redis unreachable, a bad `redisUrl`, or
 * `@taskhistory/redis` not installed. The message never shows the URL's password.
 *
 * @since 0.1.0
 */
export class RateLimiterError extends TaskHistoryError {
  constructor(message: string, cause?: unknown) {
    super("rate_limiter_unavailable", message, { cause })
  }
}

/**
 * A call on a client after `close()`.
 *
 * @since 0.1.0
 */
export class ClosedError extends TaskHistoryError {
  constructor() {
    super("closed", "this TaskHistory client is closed")
  }
}
