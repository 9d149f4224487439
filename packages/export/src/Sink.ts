/**
 * Where exported executions go. One service, one Layer per destination (SQLite, Postgres,
 * NDJSON, CSV, Parquet). A sink writes a batch of rows and the export state that covers them
 * atomically: either both are durable or neither is.
 *
 * @since 0.1.0
 */

import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Context, Data, type Effect, type Option } from "effect"

/**
 * The progress of one export stream (one set of filters), stored beside the rows.
 *
 * @since 0.1.0
 */
export interface ExportState {
  /** Identifies the filters this state belongs to (a stable hash of the query). */
  readonly streamKey: string
  /** Every execution that started before this instant (ISO) has been read at least once. */
  readonly highWaterMark: string | undefined
  /** The longest run seen so far, in ms (used to size the default look-back). */
  readonly longestRunMs: number
  /** When the last complete run finished (ISO), if any. */
  readonly lastRunAt: string | undefined
  /** Free-form engine data (a JSON-serialisable object), opaque to sinks. */
  readonly cursor: unknown
}

/**
 * A record that was not a valid execution, kept with the reason.
 *
 * @since 0.1.0
 */
export interface Reject {
  /** The `id` of the record when it had a usable one. */
  readonly id: string | undefined
  /** The record as received, JSON text. */
  readonly raw: string
  readonly reason: string
  readonly seenAt: string
}

/**
 * One atomic write.
 *
 * @since 0.1.0
 */
export interface Batch {
  readonly records: ReadonlyArray<WorkflowExecution>
  readonly rejects: ReadonlyArray<Reject>
  /** The state to store with these rows; `undefined` leaves the stored state as it is. */
  readonly state: ExportState | undefined
}

/**
 * An execution that reached a final status (`SUCCEEDED` or `FAILED`) in a write: stored for the
 * first time with that status, or stored before with a status that was not final. Each execution
 * reaches a final status once in a sink, whatever is read again (look-back, restarts): counted
 * from these, metrics count each execution once.
 *
 * @since 0.2.0
 */
export interface Finished {
  readonly workflowId: string | undefined
  readonly status: "SUCCEEDED" | "FAILED"
  readonly taskCount: number | undefined
  /** `runDuration` of the record, in ms, when it has one. */
  readonly runDurationMs: number | undefined
}

/**
 * Whether a status is final: `SUCCEEDED` or `FAILED` (an execution in any other status may still
 * change).
 *
 * @since 0.2.0
 */
export const isFinalStatus = (status: unknown): status is Finished["status"] =>
  status === "SUCCEEDED" || status === "FAILED"

/**
 * What a batch changed.
 *
 * @since 0.1.0
 */
export interface BatchResult {
  readonly inserted: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: number
  /**
   * The executions this batch brought to a final status, decided inside the write transaction
   * from the stored row (see {@link Finished}).
   *
   * @since 0.2.0
   */
  readonly finished: ReadonlyArray<Finished>
}

/**
 * What `taskhistory-exporter status` shows.
 *
 * @since 0.1.0
 */
export interface SinkStatus {
  readonly sink: string
  readonly rows: number
  readonly rejects: number
  readonly states: ReadonlyArray<ExportState>
}

/**
 * Why a sink failed.
 *
 * - `Unavailable`: the database or directory could not be opened or reached (a path that cannot
 *   be created, a refused connection, bad credentials).
 * - `Locked`: another writer holds the sink (a file sink's `_lock`, a SQLite database's `PATH.lock`);
 *   `detail` names it (pid and host).
 * - `Io`: a statement or a file read or write failed.
 * - `Corrupt`: what the sink finds stored is not what it wrote (an invalid `_state.json` or day
 *   file, a directory holding another format).
 * - `InvalidRecord`: the batch holds a record the sink cannot store; nothing of it was written.
 * - `ReadOnly`: the sink was opened read-only and was asked to write.
 * - `DriverMissing`: the sink's driver is not installed, or has no native binding (`detail` says
 *   how to fix it; exit code 2 in the exporter).
 *
 * @since 0.1.0
 */
export type SinkErrorReason =
  | "Unavailable"
  | "Locked"
  | "Io"
  | "Corrupt"
  | "InvalidRecord"
  | "ReadOnly"
  | "DriverMissing"

const sinkHints: Record<SinkErrorReason, string> = {
  Unavailable: "; check the sink's path or URL, its permissions, and that the database is reachable",
  Locked: "; another process is exporting there: stop it, or export into another directory",
  Io: "",
  Corrupt:
    "; the stored files were changed by something else than this sink: restore them, or export into a new directory",
  InvalidRecord: "",
  ReadOnly: "",
  DriverMissing: ""
}

/**
 * A sink could not read or write. `detail` says what happened (never a password); `cause` is the
 * underlying error when there is one (shown with `--verbose`).
 *
 * @since 0.1.0
 */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly reason: SinkErrorReason
  /** The sink, as safe for logs (`sqlite:PATH`, a URL without its password, `csv:DIR`). */
  readonly sink: string
  /** What the sink was doing: `open`, `lock`, `migrate`, `write batch`, `load state`, ... */
  readonly operation: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.sink}: ${this.operation} failed: ${this.detail}${sinkHints[this.reason]}`
  }
}

/**
 * @since 0.1.0
 */
export interface SinkShape {
  /** A description safe for logs (no password). */
  readonly name: string
  /** The stored state of a stream, if any. */
  readonly loadState: (streamKey: string) => Effect.Effect<Option.Option<ExportState>, SinkError>
  /** Upserts the records by `id`, stores the rejects and the state, atomically. */
  readonly writeBatch: (batch: Batch) => Effect.Effect<BatchResult, SinkError>
  /** Counts and states, for `status`. */
  readonly status: Effect.Effect<SinkStatus, SinkError>
}

/**
 * @since 0.1.0
 */
export class Sink extends Context.Tag("@taskhistory/export/Sink")<Sink, SinkShape>() {}
