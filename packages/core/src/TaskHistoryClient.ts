/**
 * The Task History client: list, page, count, get, step, replay, and the cost of a full read.
 *
 * @since 0.1.0
 */
import { Context, type Duration, type Effect, type Stream } from "effect"
import type { ExecutionQuery } from "./ExecutionQuery.js"
import type { InvalidRecordError, ReplayOutcomeUnknown, RequestError } from "./TaskHistoryError.js"
import type {
  ExecutionPage,
  StepExecution,
  WorkflowExecution,
  WorkflowExecutionDetail
} from "./WorkflowExecution.js"

/**
 * Options of `executions`.
 *
 * @since 0.1.0
 */
export interface StreamOptions {
  /** Drop records already yielded (by `id`). Costs one string per distinct id in memory. Default true. */
  readonly dedupe?: boolean | undefined
  /** Pages fetched at once when `total` is known (still yielded in order). Default from config. */
  readonly concurrency?: number | undefined
  /** What to do with a record that is not a valid execution. Default "fail". */
  readonly onInvalid?: "fail" | "skip" | undefined
  /** Stop after this many records. */
  readonly limit?: number | undefined
}

/**
 * How many requests a full read needs, and how long it takes at the configured budget.
 *
 * @since 0.1.0
 */
export interface CostPlan {
  readonly total: number | undefined
  readonly requests: number
  readonly estimatedDuration: Duration.Duration
}

/**
 * @since 0.1.0
 */
export interface TaskHistoryClientShape {
  /** One page at `offset` (0 for the first). */
  readonly listPage: (query: ExecutionQuery, offset?: number) => Effect.Effect<ExecutionPage, RequestError>
  /**
   * Every page of a query, in order, following `nextLink` by its offset only (host, path and
   * other parameters come from the config and our own query). Stops on a null or absent
   * `nextLink`, an empty page, or an offset already seen.
   */
  readonly pages: (
    query: ExecutionQuery,
    options?: Pick<StreamOptions, "concurrency">
  ) => Stream.Stream<ExecutionPage, RequestError>
  /** Every execution of a query, de-duplicated by id unless `dedupe: false`. */
  readonly executions: (
    query: ExecutionQuery,
    options?: StreamOptions
  ) => Stream.Stream<WorkflowExecution, RequestError | InvalidRecordError>
  /** The number of matching executions: `total` of the first page, or a full read without it. */
  readonly count: (query: ExecutionQuery) => Effect.Effect<number, RequestError>
  /** One execution with its step executions. */
  readonly get: (executionId: string) => Effect.Effect<WorkflowExecutionDetail, RequestError>
  /** One step's input and output. */
  readonly step: (executionId: string, stepExecutionId: string) => Effect.Effect<StepExecution, RequestError>
  /** Replays an execution; never re-sent once it may have reached the server. */
  readonly replay: (
    executionId: string
  ) => Effect.Effect<WorkflowExecution, RequestError | ReplayOutcomeUnknown>
  /** Requests and time a full read of `query` needs (one request). */
  readonly costPlan: (query: ExecutionQuery) => Effect.Effect<CostPlan, RequestError>
}

/**
 * @since 0.1.0
 */
export class TaskHistoryClient extends Context.Tag("@taskhistory/core/TaskHistoryClient")<
  TaskHistoryClient,
  TaskHistoryClientShape
>() {}
