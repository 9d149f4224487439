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
  /**
   * Queue the steps of these executions (`failed`: those now `FAILED`; `all`: every one) when they
   * are new or their status changed, in the same transaction (see {@link StepStore}). Default: none.
   *
   * @since 0.3.0
   */
  readonly steps?: StepScope | undefined
}

/**
 * Which executions' step executions are exported: `failed` (executions that failed) or `all`.
 *
 * @since 0.3.0
 */
export type StepScope = "failed" | "all"

/**
 * An execution whose step executions are still to be fetched.
 *
 * @since 0.3.0
 */
export interface QueuedSteps {
  readonly executionId: string
  /** The status it had when queued: its steps are fetched for that status. */
  readonly status: string
  readonly dateStarted: string
  readonly queuedAt: string
}

/**
 * One row of `step_executions`: a step of an execution as received (`raw`), its typed fields when
 * they have the expected type, and for a failed step its output and the error found in it.
 *
 * @since 0.3.0
 */
export interface StepRow {
  readonly id: string
  readonly executionId: string
  readonly stepId: string | undefined
  readonly type: string | undefined
  readonly status: string | undefined
  readonly dateStarted: string | undefined
  readonly dateEnded: string | undefined
  /** The error text of a failed step's output, when its shape is one we know. */
  readonly errorMessage: string | undefined
  /** A failed step's output as received, JSON text. */
  readonly outputRaw: string | undefined
  /** The step record as received (the element of `stepExecutions`), JSON text. */
  readonly raw: string
}

/**
 * One atomic write of step executions: the rows of the executions in `done`, which leave the
 * backlog (unless their status changed since they were queued), and the malformed step records.
 *
 * @since 0.3.0
 */
export interface StepBatch {
  readonly rows: ReadonlyArray<StepRow>
  readonly done: ReadonlyArray<QueuedSteps>
  readonly rejects: ReadonlyArray<Reject>
  /** The stream the rejects belong to. */
  readonly streamKey: string
}

/**
 * Where a sink keeps step executions and the backlog of executions whose steps are still to be
 * fetched (SQL sinks: tables `step_executions` and `step_backlog`).
 *
 * @since 0.3.0
 */
export interface StepStore {
  /** The oldest queued executions (by start date), at most `limit`. */
  readonly backlog: (limit: number) => Effect.Effect<ReadonlyArray<QueuedSteps>, SinkError>
  /** How many executions are queued. */
  readonly backlogSize: Effect.Effect<number, SinkError>
  /** Writes step rows and removes their executions from the backlog, atomically. */
  readonly writeSteps: (batch: StepBatch) => Effect.Effect<void, SinkError>
  /**
   * Once per scope (and sink): queues the stored executions in `scope` that have no step rows,
   * those exported before steps were; returns how many. Later calls queue nothing.
   */
  readonly queueStored: (scope: StepScope) => Effect.Effect<number, SinkError>
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
  /**
   * Rows of `step_executions` and executions in the step backlog, when the sink stores steps.
   *
   * @since 0.3.0
   */
  readonly steps?: { readonly rows: number; readonly backlog: number } | undefined
  /**
   * The streams' leases (Postgres sinks written by replicas).
   *
   * @since 0.3.0
   */
  readonly leases?: ReadonlyArray<LeaseRecord> | undefined
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
 * - `Fenced`: a write under a lease ({@link SinkShape.fenced}) was refused because the lease is
 *   no longer the writer's (expired, or taken over by another replica); nothing of it was written.
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
  | "Fenced"

const sinkHints: Record<SinkErrorReason, string> = {
  Unavailable: "; check the sink's path or URL, its permissions, and that the database is reachable",
  Locked: "; another process is exporting there: stop it, or export into another directory",
  Io: "",
  Corrupt:
    "; the stored files were changed by something else than this sink: restore them, or export into a new directory",
  InvalidRecord: "",
  ReadOnly: "",
  DriverMissing: "",
  Fenced: "; another replica leads this stream now: this one stands by"
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
  /**
   * Step executions and their backlog, when the sink stores them.
   *
   * @since 0.3.0
   */
  readonly steps?: StepStore | undefined
  /**
   * The alert state of a stream (a JSON-serialisable value, opaque to sinks: see `Alerts.ts`),
   * if any was saved.
   *
   * @since 0.3.0
   */
  readonly loadAlertState: (streamKey: string) => Effect.Effect<Option.Option<unknown>, SinkError>
  /**
   * Replaces the alert state of a stream, atomically (a row of `alert_state` in the SQL sinks,
   * `_alerts.json` beside `_state.json` in the file sinks).
   *
   * @since 0.3.0
   */
  readonly saveAlertState: (streamKey: string, state: unknown) => Effect.Effect<void, SinkError>
  /**
   * Leases of streams among replicas (Postgres only).
   *
   * @since 0.3.0
   */
  readonly leases?: LeaseStore | undefined
  /**
   * The same sink with every `writeBatch` fenced by `lease`: the transaction that writes the rows
   * and the state first checks that the lease is still the writer's (same holder and token, not
   * expired) and fails with a `Fenced` `SinkError` otherwise (Postgres only).
   *
   * @since 0.3.0
   */
  readonly fenced?: ((lease: Lease) => SinkShape) | undefined
}

/**
 * A replica's lease on a stream: while it holds it (and `expiresAt` has not passed on the
 * database's clock), it alone writes the stream. `token` grows by one at each acquisition: the
 * fencing token every write of the holder is checked against.
 *
 * @since 0.3.0
 */
export interface Lease {
  /** The stream: project and filters (`PROJECT/STREAMKEY`). */
  readonly stream: string
  readonly holder: string
  readonly token: number
  /** ISO, on the database's clock. */
  readonly expiresAt: string
  /** How long the lease lasts after each renewal, in ms. */
  readonly ttlMs: number
}

/**
 * A stream's lease as stored, for `status`.
 *
 * @since 0.3.0
 */
export interface LeaseRecord {
  readonly stream: string
  /** `undefined` when the last holder let it go. */
  readonly holder: string | undefined
  readonly token: number
  readonly expiresAt: string
  readonly acquiredAt: string
  /** Whether `expiresAt` has passed, on the database's clock. */
  readonly expired: boolean
}

/**
 * What acquiring a lease got: the lease, and the holder it was taken from when that holder's
 * lease had expired (a takeover).
 *
 * @since 0.3.0
 */
export interface Acquired {
  readonly lease: Lease
  /** The previous holder, when the lease was taken from another replica after it expired. */
  readonly takenFrom: string | undefined
}

/**
 * Leases of streams, on the database's clock (replicas on hosts whose clocks differ agree).
 *
 * @since 0.3.0
 */
export interface LeaseStore {
  /** Says `holder` is alive for `ttlMs`; returns how many replicas are alive (itself included). */
  readonly heartbeat: (holder: string, ttlMs: number) => Effect.Effect<number, SinkError>
  /** Takes the stream's lease when nobody holds it (or the holder's expired, or it is `holder`'s). */
  readonly acquire: (
    stream: string,
    holder: string,
    ttlMs: number
  ) => Effect.Effect<Option.Option<Acquired>, SinkError>
  /** Extends the lease while it is still `lease.holder`'s with the same token; `None` if it is not. */
  readonly renew: (lease: Lease, ttlMs: number) => Effect.Effect<Option.Option<Lease>, SinkError>
  /** Lets the lease go (another replica may take it at once), and the replica's heartbeat with it. */
  readonly release: (lease: Lease) => Effect.Effect<void, SinkError>
  /** Forgets a replica's heartbeat (it stops). */
  readonly leave: (holder: string) => Effect.Effect<void, SinkError>
  /** Every stored lease. */
  readonly list: Effect.Effect<ReadonlyArray<LeaseRecord>, SinkError>
}

/**
 * @since 0.1.0
 */
export class Sink extends Context.Tag("@taskhistory/export/Sink")<Sink, SinkShape>() {}
