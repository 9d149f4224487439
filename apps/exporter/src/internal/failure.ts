/**
 * What a failed run means for the exporter: a bounded reason (the `reason` label of
 * `taskhistory_export_runs_total`), whether it is permanent (a scheduled exporter stops with its
 * exit code: 401, 403, the project's 404) and one scrubbed line for `/healthz`.
 *
 * @internal
 */
import * as Main from "@taskhistory/app-kit/Main"
import { Cause, Option, Predicate } from "effect"

/** @internal */
export interface RunFailureInfo {
  readonly reason: string
  /** Retrying cannot help: the key, its permissions or the project are wrong. */
  readonly permanent: boolean
  /** One line, secrets scrubbed. */
  readonly message: string
}

const tagOf = (error: unknown): string | undefined =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : undefined

const statusOf = (error: unknown): number | undefined =>
  Predicate.hasProperty(error, "status") && typeof error.status === "number" ? error.status : undefined

const reasons: Record<string, string> = {
  Unauthorized: "unauthorized",
  NotFound: "not_found",
  RateLimited: "rate_limited",
  ServerError: "server_error",
  TransportError: "transport",
  InvalidResponse: "invalid_response",
  InvalidRecord: "invalid_response",
  RateLimiterUnavailable: "rate_limiter",
  ExportError: "export",
  SinkError: "sink",
  InvalidInput: "invalid_input"
}

/** @internal */
export const classify = (cause: Cause.Cause<unknown>): RunFailureInfo => {
  const described = Main.describeFailure(cause)
  const message = (described.lines[0] ?? "the run failed").replace(/^error: /, "")
  if (Cause.isInterruptedOnly(cause))
    return { reason: "interrupted", permanent: false, message: "interrupted" }
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return { reason: "bug", permanent: false, message }
  const error = failure.value
  const tag = tagOf(error)
  if (tag === "ClientError") {
    const status = statusOf(error)
    return status === 403
      ? { reason: "forbidden", permanent: true, message }
      : { reason: "client_error", permanent: false, message }
  }
  if (tag === "SinkError" && Predicate.hasProperty(error, "reason") && error.reason === "Fenced")
    return { reason: "fenced", permanent: false, message }
  const reason = (tag === undefined ? undefined : reasons[tag]) ?? "other"
  // The exporter only lists the project's executions: a 404 is the project's.
  return { reason, permanent: tag === "Unauthorized" || tag === "NotFound", message }
}
