/**
 * The Task History client: list, page, count, get, step, replay, and the cost of a full read.
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { Context, type Duration, type Effect, Layer, type Stream } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { ExecutionQuery } from "./ExecutionQuery.js"
import * as internal from "./internal/client.js"
import * as RateLimiter from "./RateLimiter.js"
import * as TaskHistoryConfig from "./TaskHistoryConfig.js"
import type {
  InvalidInput,
  InvalidRecordError,
  ReplayOutcomeUnknown,
  RequestError
} from "./TaskHistoryError.js"
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
  /**
   * Drop records already yielded (by `id`). Default true. Memory does not grow with the read: the
   * pages come sorted by start date, so only the ids at the last start date yielded are held (a
   * server whose pages are not sorted makes it hold every id from then on).
   */
  readonly dedupe?: boolean | undefined
  /** Pages fetched at once when `total` is known (still yielded in order). Default from config. */
  readonly concurrency?: number | undefined
  /** What to do with a record that is not a valid execution. Default "fail". */
  readonly onInvalid?: "fail" | "skip" | undefined
  /** Stop after this many records. */
  readonly limit?: number | undefined
  /**
   * The page at offset 0 of this query, already read (`CostPlan.firstPage`): the read starts from
   * it instead of asking for it again.
   */
  readonly firstPage?: ExecutionPage | undefined
}

/**
 * Which executions' step executions a read also fetches (`failed`: those that failed; `all`:
 * every one), for {@link CostPlan}.
 *
 * @since 0.3.0
 */
export interface CostPlanOptions {
  readonly steps?: "failed" | "all" | undefined
}

/**
 * What reading the step executions adds to a plan: one request per execution in scope (its
 * `stepExecutions`), plus one per failed step (its output). How many steps failed in an execution
 * is only known once it is read: the plan counts one per failed execution, so `requests` is an
 * estimate (a lower bound when executions fail in several steps).
 *
 * @since 0.3.0
 */
export interface StepCost {
  readonly scope: "failed" | "all"
  /** Executions whose steps are read; `undefined` when the API sent no `total`. */
  readonly executions: number | undefined
  /** Failed executions among the matches; `undefined` when the API sent no `total`. */
  readonly failed: number | undefined
  /** `executions + failed` (0 for what is unknown): the estimated step requests. */
  readonly requests: number
  /** `true`: the failed steps per execution (and, without totals, the executions) are not known in advance. */
  readonly estimate: true
}

/**
 * How many requests a full read needs, and how long it takes at the configured budget.
 *
 * @since 0.1.0
 */
export interface CostPlan {
  /** `total` of the first page, when the API sent it. */
  readonly total: number | undefined
  /**
   * Requests a full read needs: `max(1, ceil(total / 100))` list pages, plus the step requests of
   * {@link CostPlan.steps} when they are asked for. Without `total`, a lower bound (1 when the first
   * page is the last, else 2).
   */
  readonly requests: number
  /**
   * The list pages among `requests`.
   *
   * @since 0.3.0
   */
  readonly listRequests?: number | undefined
  /**
   * The step requests among `requests`, with `costPlan(query, { steps })` (an estimate).
   *
   * @since 0.3.0
   */
  readonly steps?: StepCost | undefined
  /**
   * `floor((requests - 1) / N) * W + requests * 250ms / pageConcurrency` for a limit of N
   * requests per W: every N requests after the first batch wait for a window to pass, plus an
   * assumed 250 ms per request.
   */
  readonly estimatedDuration: Duration.Duration
  /** The page at offset 0 the plan was made from: pass it on (`StreamOptions.firstPage`) to save a request. */
  readonly firstPage: ExecutionPage
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
    options?: Pick<StreamOptions, "concurrency" | "firstPage">
  ) => Stream.Stream<ExecutionPage, RequestError>
  /** Every execution of a query, de-duplicated by id unless `dedupe: false`. */
  readonly executions: (
    query: ExecutionQuery,
    options?: StreamOptions
  ) => Stream.Stream<WorkflowExecution, RequestError | InvalidRecordError>
  /** The number of matching executions: `total` of the first page, or a full read without it. */
  readonly count: (query: ExecutionQuery) => Effect.Effect<number, RequestError>
  /**
   * One execution with its step executions. An id that cannot be one path segment (empty, `.`,
   * `..`) fails with `InvalidInput` before any request; any other is sent percent-encoded.
   */
  readonly get: (executionId: string) => Effect.Effect<WorkflowExecutionDetail, RequestError | InvalidInput>
  /** One step's input and output (ids checked as for `get`). */
  readonly step: (
    executionId: string,
    stepExecutionId: string
  ) => Effect.Effect<StepExecution, RequestError | InvalidInput>
  /** Replays an execution; never re-sent once it may have reached the server (id checked as for `get`). */
  readonly replay: (
    executionId: string
  ) => Effect.Effect<WorkflowExecution, RequestError | ReplayOutcomeUnknown | InvalidInput>
  /**
   * Requests and time a full read of `query` needs (one request). With `options.steps`, the read
   * also fetches step executions: their requests are estimated (one more request for the number
   * of failed executions, unless `query` already fixes the status).
   */
  readonly costPlan: (
    query: ExecutionQuery,
    options?: CostPlanOptions
  ) => Effect.Effect<CostPlan, RequestError>
}

/**
 * @since 0.1.0
 */
export class TaskHistoryClient extends Context.Tag("@taskhistory/core/TaskHistoryClient")<
  TaskHistoryClient,
  TaskHistoryClientShape
>() {}

/**
 * Builds the client. Every request goes through one pipeline: base URL and bearer auth, status
 * to typed error, retry (a `Schedule` from `config.retry`), then the `RateLimiter` (each attempt
 * takes a permit; a 429 pauses every caller).
 *
 * @example
 * const client = yield* TaskHistoryClient.make
 * const n = yield* client.count(query)
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<
  TaskHistoryClientShape,
  never,
  TaskHistoryConfig.TaskHistoryConfig | RateLimiter.RateLimiter | HttpClient.HttpClient
> = internal.make

/**
 * The client as a Layer. The limiter stays a separate requirement, so it can be the in-memory
 * one (`RateLimiter.layerFromConfig`) or one shared by processes (Redis).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  TaskHistoryClient,
  never,
  TaskHistoryConfig.TaskHistoryConfig | RateLimiter.RateLimiter | HttpClient.HttpClient
> = Layer.effect(TaskHistoryClient, make)

/**
 * The client configured from `Config` values, each setting defaulting to its environment
 * variable (`PARAGON_API_KEY`, `PARAGON_PROJECT_ID`, ...; see `TaskHistoryConfig.layerConfig`),
 * with the in-memory limiter at the configured rate. Also provides the config and the limiter.
 * Still needs an `HttpClient`, e.g. `UndiciHttpClient.layer` or `FetchHttpClient.layer`.
 *
 * @example
 * Effect.provide(program, TaskHistoryClient.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer)))
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: TaskHistoryConfig.ConfigOptions = {}
): Layer.Layer<
  TaskHistoryClient | TaskHistoryConfig.TaskHistoryConfig | RateLimiter.RateLimiter,
  InvalidInput | ConfigError,
  HttpClient.HttpClient
> =>
  layer.pipe(
    Layer.provideMerge(RateLimiter.layerFromConfig),
    Layer.provideMerge(TaskHistoryConfig.layerConfig(config))
  )
