/**
 * The read side of the export: the executions an exporter wrote into a sink, streamed back with
 * the same filters as the API's, and how fresh they are. Analysis (`taskhistory usage --source`,
 * `taskhistory report --source`) reads the export through this service and makes zero API
 * requests.
 *
 * One Layer per sink, picked from a sink specification by {@link layer}: SQLite (opened
 * read-only; a running exporter may keep writing), Postgres, and the NDJSON, CSV and Parquet file
 * sinks' directories (each day's file read whole, as the sink decodes it).
 *
 * @since 0.1.0
 */
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import type { StepFailure } from "@taskhistory/core/StepErrors"
import type { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Context, Effect, Layer, Redacted, type Stream } from "effect"
import * as internal from "./internal/readerQuery.js"
import type { SinkError } from "./Sink.js"
import type { SinkSpec } from "./SinkSpec.js"

/**
 * How fresh an export is, from its stored state.
 *
 * @since 0.1.0
 */
export interface Freshness {
  /** When the most recent successful run finished (ISO), if any run finished. */
  readonly lastRunAt: string | undefined
  /** Every execution that started before this instant had been read by that run (ISO). */
  readonly highWaterMark: string | undefined
  /** Export streams (sets of filters) stored in the sink. */
  readonly streams: number
}

/**
 * How {@link ExportReaderShape.countBy} groups executions: by workflow, by user, or all as one.
 *
 * @since 0.3.0
 */
export type CountBy = "workflow" | "user" | "all"

/**
 * The exported executions of one group, counted where they are stored.
 *
 * @since 0.3.0
 */
export interface GroupCounts {
  /** The group's workflow (`by: "workflow"`). */
  readonly workflowId?: string | undefined
  /** The group's user (`by: "user"`). */
  readonly userId?: string | undefined
  /** Executions of any status. */
  readonly executions: number
  /** Executions that reached a final status (`SUCCEEDED` or `FAILED`). */
  readonly finished: number
  /** `FAILED` executions. */
  readonly failures: number
  /** The latest start of an execution of the group (ms since the epoch). */
  readonly lastStartedMs: number
}

/**
 * @since 0.1.0
 */
export interface ExportReaderShape {
  /** The sink, as safe for logs (no password). */
  readonly name: string
  /**
   * The exported executions that match `query`, in no particular order: `workflowId`, `userId`
   * and `status` as the API filters them, `afterDate`/`beforeDate` on the start date, inclusive
   * (as the simulator's default). `integration` is refused with `InvalidInput`: records do not
   * carry their integration, so the export cannot tell.
   */
  readonly executions: (query: ExecutionQuery) => Stream.Stream<WorkflowExecution, SinkError | InvalidInput>
  /** The last successful run and its high-water mark. */
  readonly freshness: Effect.Effect<Freshness, SinkError>
  /**
   * The failed steps (`step_executions` with status `FAILED`) of the exported executions that
   * match `query` (filters as for {@link ExportReaderShape.executions}), with their error
   * messages: what `taskhistory-exporter run --steps failed|all` exported. Only in the SQL
   * readers; a sink without step executions fails with a `SinkError` that says how to export them.
   *
   * @since 0.3.0
   */
  readonly stepFailures?:
    | ((query: ExecutionQuery) => Stream.Stream<StepFailure, SinkError | InvalidInput>)
    | undefined
  /**
   * Counts the exported executions that match `query` (filters as for
   * {@link ExportReaderShape.executions}) by group, without reading them into memory: the SQL
   * readers count in the database (`GROUP BY`), the file readers fold one day file at a time.
   * Executions without the grouping field (no `workflowId` for `by: "workflow"`) are left out;
   * groups come in no particular order, only groups with executions. What the alert rules of
   * `run --alerts` are evaluated with.
   *
   * @since 0.3.0
   */
  readonly countBy?:
    | ((
        query: ExecutionQuery,
        by: CountBy
      ) => Effect.Effect<ReadonlyArray<GroupCounts>, SinkError | InvalidInput>)
    | undefined
}

/**
 * @since 0.1.0
 */
export class ExportReader extends Context.Tag("@taskhistory/export/ExportReader")<
  ExportReader,
  ExportReaderShape
>() {}

/**
 * Refuses the filters an export cannot apply (`integration`), naming the flag.
 *
 * @since 0.1.0
 */
export const checkQuery: (query: ExecutionQuery) => Effect.Effect<ExecutionQuery, InvalidInput> =
  internal.checkQuery

/**
 * The reader of a sink specification (`sqlite:PATH`, `postgres://...`, `ndjson:DIR`, `csv:DIR`,
 * `parquet:DIR`).
 *
 * @since 0.1.0
 */
export const layer = (spec: SinkSpec): Layer.Layer<ExportReader, SinkError | InvalidInput> => {
  switch (spec._tag) {
    case "Sqlite":
      return Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./internal/sqlReader.js")),
          (m) => Layer.scoped(ExportReader, m.makeSqlite(spec.path))
        )
      )
    case "Postgres":
      return Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./internal/pgReader.js")),
          (m) => Layer.scoped(ExportReader, m.makePostgres(spec.url, spec.schema))
        )
      )
    case "File":
      return Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./internal/fileReader.js")),
          (m) => Layer.effect(ExportReader, m.make(spec.format, spec.dir))
        )
      )
  }
}

/**
 * A reader of a SQLite export file, opened read-only (the file must exist).
 *
 * @since 0.1.0
 */
export const layerSqlite = (path: string): Layer.Layer<ExportReader, SinkError | InvalidInput> =>
  layer({ _tag: "Sqlite", path })

/**
 * A reader of a Postgres export (`schema`: where the exporter's tables are, default the
 * connection's search path).
 *
 * @since 0.1.0
 */
export const layerPostgres = (
  url: Redacted.Redacted<string> | string,
  schema?: string | undefined
): Layer.Layer<ExportReader, SinkError | InvalidInput> =>
  layer({ _tag: "Postgres", url: Redacted.isRedacted(url) ? url : Redacted.make(url), schema })
