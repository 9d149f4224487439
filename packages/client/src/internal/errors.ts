/**
 * From the core's tagged errors (and a failed Effect's `Cause`) to this package's classes.
 *
 * @internal
 */
import type * as Core from "@taskhistory/core/TaskHistoryError"
import { isTaskHistoryError } from "@taskhistory/core/TaskHistoryError"
import { Cause, Duration, Option, Predicate } from "effect"
import {
  ClientError,
  ConnectionError,
  InvalidInputError,
  InvalidRecordError,
  InvalidResponseError,
  NoProgressError,
  NotFoundError,
  RateLimitedError,
  RateLimiterError,
  ReplayOutcomeUnknownError,
  ServerError,
  TaskHistoryError,
  UnauthorizedError
} from "../TaskHistoryError.js"

/** The class of a core error, with the same message. */
export const fromCore = (error: Core.TaskHistoryError): TaskHistoryError => {
  const details = { cause: error }
  switch (error._tag) {
    case "Unauthorized":
      return new UnauthorizedError(error.message, { ...details, request: error.request })
    case "NotFound":
      return new NotFoundError(error.message, error.resource, { ...details, request: error.request })
    case "RateLimited":
      return new RateLimitedError(
        error.message,
        error.retryAfter === undefined ? undefined : Duration.toMillis(error.retryAfter),
        { ...details, request: error.request, reason: error.reason }
      )
    case "ServerError":
      return new ServerError(error.message, { ...details, status: error.status, request: error.request })
    case "ClientError":
      return new ClientError(error.message, { ...details, status: error.status, request: error.request })
    case "TransportError":
      return new ConnectionError(error.message, error.reason, { ...details, request: error.request })
    case "InvalidResponse":
      return new InvalidResponseError(error.message, {
        ...details,
        status: error.status,
        request: error.request
      })
    case "ReplayOutcomeUnknown":
      return new ReplayOutcomeUnknownError(error.message, error.executionId, {
        ...details,
        status: error.cause._tag === "TransportError" ? undefined : error.cause.status,
        request: error.cause.request
      })
    case "InvalidInput":
      return new InvalidInputError(error.message, error.field, error.value)
    case "InvalidRecord":
      return new InvalidRecordError(error.message, error.raw, error.position)
    case "NoProgress":
      return new NoProgressError(error.message, error.reason, { ...details, request: error.request })
    case "RateLimiterUnavailable":
      return new RateLimiterError(error.message, error.cause ?? error)
  }
}

const messageOf = (u: unknown): string =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" ? u.message : String(u)

const fromUnknown = (u: unknown): TaskHistoryError => {
  if (u instanceof TaskHistoryError) return u
  if (isTaskHistoryError(u)) return fromCore(u)
  // The Redis limiter's own error: a bad URL or an unreachable server when the runtime is built
  // (at run time its failures arrive as the core's RateLimiterUnavailable).
  if (Predicate.isTagged(u, "RedisLimiterError")) return new RateLimiterError(messageOf(u), u)
  return new TaskHistoryError(
    "unexpected",
    `unexpected failure (this is a bug, please report it): ${messageOf(u)}`,
    { cause: u }
  )
}

/** The error to throw for a failed Effect (not an interruption). */
export const fromCause = (cause: Cause.Cause<unknown>): TaskHistoryError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return fromUnknown(failure.value)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return fromUnknown(defect.value)
  return new TaskHistoryError("unexpected", "the call was interrupted", { cause: Cause.squash(cause) })
}
