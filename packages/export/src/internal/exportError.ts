/**
 * The engine's own error (the client's `RequestError`s and the sink's `SinkError`s pass through).
 *
 * @internal
 */
import { Data } from "effect"

/** Why a run stopped. */
export type ExportErrorReason = "InvalidOptions" | "InvalidRecords" | "Inconsistent" | "NoProgress"

const what: Record<ExportErrorReason, string> = {
  InvalidOptions: "invalid export options",
  InvalidRecords: "invalid execution record (--on-invalid fail)",
  Inconsistent: "the API gave inconsistent answers",
  NoProgress: "the server's answers bring nothing new"
}

const after: Record<ExportErrorReason, string> = {
  InvalidOptions: "",
  InvalidRecords:
    "; nothing of this batch was written and the high-water mark did not move: fix the record upstream, or run with --on-invalid quarantine",
  Inconsistent: "; the next run resumes after the last batch written",
  NoProgress:
    "; the read stopped instead of spending the key's budget (the server is misbehaving); the next run resumes after the last batch written"
}

export class ExportError extends Data.TaggedError("ExportError")<{
  readonly reason: ExportErrorReason
  readonly detail: string
  /** The underlying error or value, when there is one (shown with `--verbose`). */
  readonly cause?: unknown
}> {
  override get message() {
    return `${what[this.reason]}: ${this.detail}${after[this.reason]}`
  }
}
