/**
 * Building `SinkError`s: from a thrown value, a failed promise or an `@effect/sql` error, with a
 * detail a person can read and the original kept as `cause`.
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import { SinkError, type SinkErrorReason } from "../Sink.js"

export { SinkError }

/** What a sink was doing when it failed. */
export type Operation =
  | "open"
  | "connect"
  | "lock"
  | "migrate"
  | "recover"
  | "read day"
  | "write day"
  | "write rejects"
  | "write state"
  | "read state"
  | "write batch"
  | "load state"
  | "read status"
  | "read executions"
  | "read freshness"
  | "read backlog"
  | "write steps"
  | "read steps"
  | "lease"
  | "load alert state"
  | "save alert state"

/** The message of a thrown value. */
export const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** A `SinkError` with a detail of our own (no underlying error). */
export const make = (
  reason: SinkErrorReason,
  sink: string,
  operation: Operation,
  detail: string,
  cause?: unknown
): SinkError =>
  new SinkError(
    cause === undefined ? { reason, sink, operation, detail } : { reason, sink, operation, detail, cause }
  )

/** A `SinkError` for a thrown value or failed promise (its message is the detail). */
export const fromCause =
  (reason: SinkErrorReason, sink: string, operation: Operation) =>
  (cause: unknown): SinkError =>
    make(reason, sink, operation, describe(cause), cause)

/** A `SinkError` for a failed SQL statement: the client's message and the driver's. */
export const fromSql = (sink: string, operation: Operation, error: SqlError): SinkError => {
  const cause = error.cause
  const inner =
    cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause ?? null)
  const detail = inner === undefined || inner === "" ? error.message : `${error.message}: ${inner}`
  return make(
    operation === "connect" || operation === "open" ? "Unavailable" : "Io",
    sink,
    operation,
    detail,
    error
  )
}
