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
 * What a batch changed.
 *
 * @since 0.1.0
 */
export interface BatchResult {
  readonly inserted: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: number
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
 * A sink could not read or write.
 *
 * @since 0.1.0
 */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly sink: string
  readonly operation: string
  readonly detail: string
  /** `DriverMissing`: the sink's driver is not installed, or has no native binding (`detail` says how to fix it). */
  readonly reason?: "DriverMissing" | undefined
}> {
  override get message() {
    return `${this.sink}: ${this.operation} failed: ${this.detail}`
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
