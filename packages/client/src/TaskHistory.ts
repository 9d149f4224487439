/**
 * `TaskHistory`: the Promise client. One instance holds one runtime of `@taskhistory/core` (its
 * HTTP connection pool and its rate limiter, shared by every call of the instance), so the
 * sliding-window budget, the retry schedule and the replay safety are the core's own.
 *
 * @since 0.1.0
 */
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import * as Usage from "@taskhistory/core/Usage"
import type {
  ExecutionPage,
  StepExecution,
  WorkflowExecution,
  WorkflowExecutionDetail
} from "@taskhistory/core/WorkflowExecution"
import { Duration, Effect, Either, ManagedRuntime, Stream } from "effect"
import * as internal from "./internal/runtime.js"
import { InvalidInputError } from "./TaskHistoryError.js"

export type { GroupBy, UsageReport, UsageRow } from "@taskhistory/core/Usage"
export type {
  ExecutionPage,
  InvalidRecord,
  StepExecution,
  WorkflowExecution,
  WorkflowExecutionDetail
} from "@taskhistory/core/WorkflowExecution"

/**
 * Settings of a client. Only `apiKey` and `projectId` are required.
 *
 * @since 0.1.0
 */
export interface TaskHistoryOptions {
  /** A project-level Paragon API key. Kept out of every error and log. */
  readonly apiKey: string
  /** The Paragon project id. */
  readonly projectId: string
  /** `https://api.useparagon.com` (the default) or an on-premise `https://zeus.<host>`. */
  readonly baseUrl?: string | undefined
  /**
   * The client-side budget: at most N requests in any window, as `"N/DURATION"` (`"1000/10m"`,
   * the API's own and the default; `"40/4s"`) or `{ limit, windowMs }`.
   */
  readonly rateLimit?: string | { readonly limit: number; readonly windowMs: number } | undefined
  /**
   * A Redis URL (`redis://[user:password@]host:port/db`): every process that uses it for the same
   * project shares one budget. Needs the optional peer `@taskhistory/redis`.
   */
  readonly redisUrl?: string | undefined
  /** Retries of a failed read (429, 5xx, network). Default 8. */
  readonly maxRetries?: number | undefined
  /**
   * The longest wait a 429's `Retry-After` may ask for, in ms (default 600,000: 10 minutes); a
   * longer one, or one that cannot be read, rejects with `RateLimitedError` at once.
   */
  readonly maxRetryAfterMs?: number | undefined
  /** Timeout of one request's whole answer (status, headers and body), in ms. Default 60,000. */
  readonly requestTimeoutMs?: number | undefined
  /** Timeout of the connection (TCP and TLS) of one request, in ms. Default 10,000. */
  readonly connectTimeoutMs?: number | undefined
  /** Timeout of the status and headers, from the moment the request is sent, in ms. Default 30,000. */
  readonly headersTimeoutMs?: number | undefined
  /** The largest answer read, in bytes (default 32 MiB); a larger one rejects with `InvalidResponseError`. */
  readonly maxResponseBytes?: number | undefined
  /** Pages fetched at once by `list` when the API sends `total`. Default 4. */
  readonly pageConcurrency?: number | undefined
}

/**
 * Which executions: every field optional, combined with AND.
 *
 * @since 0.1.0
 */
export interface ExecutionFilters {
  readonly integration?: string | undefined
  readonly workflowId?: string | undefined
  readonly userId?: string | undefined
  /** `succeeded`, `failed`, `executing` or `delayed`, in any case. */
  readonly status?: string | undefined
  /** Started at or after: an ISO 8601 date or date-time (`2026-11-01`), or a `Date`. */
  readonly after?: string | Date | undefined
  /** Started before: an ISO 8601 date or date-time, or a `Date`. */
  readonly before?: string | Date | undefined
  /** By start date: `desc` (the API's default) or `asc`. */
  readonly sort?: string | undefined
}

/**
 * Options every call takes.
 *
 * @since 0.1.0
 */
export interface CallOptions {
  /** Aborting rejects the call with `signal.reason` and stops its requests at once. */
  readonly signal?: AbortSignal | undefined
}

/**
 * Options of `executions.list`.
 *
 * @since 0.1.0
 */
export interface ListOptions extends CallOptions {
  /** Stop after this many records. */
  readonly limit?: number | undefined
  /** Drop records already yielded (by id). Default true. */
  readonly dedupe?: boolean | undefined
  /** A record that is not a valid execution: throw `InvalidRecordError` (`"fail"`, the default) or skip it. */
  readonly onInvalid?: "fail" | "skip" | undefined
  /** The first page, already read by `costPlan` (`plan.firstPage`): not asked for again. */
  readonly firstPage?: ExecutionPage | undefined
}

/**
 * Options of `executions.page`.
 *
 * @since 0.1.0
 */
export interface PageOptions extends CallOptions {
  /** The offset of the page (0, 100, 200, ...). Default 0. */
  readonly offset?: number | undefined
}

/**
 * What `usage` groups by, and (for integrations, which records do not name) which ones.
 *
 * @since 0.1.0
 */
export type UsageOptions = ExecutionFilters &
  (
    | { readonly by: "workflow" | "user" | "status" | "day" }
    | { readonly by: "integration"; readonly integrations: ReadonlyArray<string> }
  )

/**
 * How many requests a full read needs, and how long it takes at the configured budget.
 *
 * @since 0.1.0
 */
export interface CostPlan {
  /** `total` of the first page, when the API sent it. */
  readonly total: number | undefined
  /** Requests a full read needs (a lower bound without `total`). */
  readonly requests: number
  /** The time a full read takes at the configured rate limit, in ms (an estimate). */
  readonly estimatedDurationMs: number
  /** The page the plan was made from: pass it to `list` (`firstPage`) to save a request. */
  readonly firstPage: ExecutionPage
}

const clientField: Record<string, string> = {
  afterDate: "after",
  beforeDate: "before",
  sortBy: "sort",
  "rate limit": "rateLimit",
  "base URL": "baseUrl",
  "project id": "projectId",
  "page concurrency": "pageConcurrency",
  "Redis URL": "redisUrl",
  "max response bytes": "maxResponseBytes"
}

/** The core's InvalidInput as this package's class, naming the option as the caller wrote it. */
const invalidInput = (error: InvalidInput): InvalidInputError => {
  const field = clientField[error.field] ?? error.field
  const renamed = new InvalidInput({
    field,
    value: error.value,
    expected: error.expected,
    problem: error.problem
  })
  return new InvalidInputError(renamed.message, field, error.value)
}

const toQuery = (filters: ExecutionFilters = {}): ExecutionQuery.ExecutionQuery =>
  Either.getOrThrowWith(
    ExecutionQuery.make({
      integration: filters.integration,
      workflowId: filters.workflowId,
      userId: filters.userId,
      status: filters.status,
      afterDate: filters.after,
      beforeDate: filters.before,
      sortBy: filters.sort
    }),
    invalidInput
  )

const positiveInteger = (field: string, value: number | undefined, min = 1): void => {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) {
    throw invalidInput(
      new InvalidInput({
        field,
        value: String(value),
        expected:
          min === 0
            ? "a non-negative integer"
            : min === 1
              ? "a positive integer"
              : `an integer of at least ${min}`
      })
    )
  }
}

const millisOrUndefined = (ms: number | undefined) => (ms === undefined ? undefined : Duration.millis(ms))

const toConfig = (options: TaskHistoryOptions): TaskHistoryConfig.TaskHistoryConfigShape => {
  positiveInteger("maxRetries", options.maxRetries, 0)
  positiveInteger("requestTimeoutMs", options.requestTimeoutMs)
  positiveInteger("connectTimeoutMs", options.connectTimeoutMs)
  positiveInteger("headersTimeoutMs", options.headersTimeoutMs)
  positiveInteger("maxRetryAfterMs", options.maxRetryAfterMs, 0)
  positiveInteger("maxResponseBytes", options.maxResponseBytes, 1024)
  const rate = options.rateLimit
  if (typeof rate === "object") {
    positiveInteger("rateLimit.limit", rate.limit)
    positiveInteger("rateLimit.windowMs", rate.windowMs)
  }
  return Either.getOrThrowWith(
    TaskHistoryConfig.make({
      apiKey: options.apiKey,
      projectId: options.projectId,
      baseUrl: options.baseUrl,
      rateLimit:
        typeof rate === "object" ? { limit: rate.limit, window: Duration.millis(rate.windowMs) } : rate,
      rateLimitRedis: options.redisUrl,
      retry: {
        ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
        ...(options.maxRetryAfterMs === undefined
          ? {}
          : { maxRetryAfter: Duration.millis(options.maxRetryAfterMs) })
      },
      requestTimeout: millisOrUndefined(options.requestTimeoutMs),
      connectTimeout: millisOrUndefined(options.connectTimeoutMs),
      headersTimeout: millisOrUndefined(options.headersTimeoutMs),
      maxResponseBytes: options.maxResponseBytes,
      pageConcurrency: options.pageConcurrency
    }),
    (error) =>
      error.field === "API key"
        ? new InvalidInputError(
            error.problem === undefined
              ? "invalid apiKey: expected a non-empty Paragon API key"
              : `apiKey ${error.problem}: expected ${error.expected}`,
            "apiKey",
            "" // never the key
          )
        : invalidInput(error)
  )
}

const client = TaskHistoryClient.TaskHistoryClient

/**
 * The executions of the project: list (an async iterable), one page, count, one execution, one
 * step, replay.
 *
 * @since 0.1.0
 */
export class Executions {
  readonly #runner: internal.Runner

  /** @internal */
  constructor(runner: internal.Runner) {
    this.#runner = runner
  }

  /**
   * Every matching execution, in order, each id once, fetched a page at a time (several pages at
   * once when the API sends `total`) within the rate limit. Breaking out of the loop or aborting
   * stops the requests.
   *
   * @example
   * for await (const execution of th.executions.list({ status: "failed", after: "2026-11-01" })) {
   *   console.log(execution.id, execution.workflowId)
   * }
   */
  list(
    filters: ExecutionFilters = {},
    options: ListOptions = {}
  ): AsyncGenerator<WorkflowExecution, void, undefined> {
    return this.#runner.iterate(() => {
      positiveInteger("limit", options.limit, 0)
      const query = toQuery(filters)
      return Stream.unwrap(
        Effect.map(client, (c) =>
          c.executions(query, {
            limit: options.limit,
            dedupe: options.dedupe,
            onInvalid: options.onInvalid,
            firstPage: options.firstPage
          })
        )
      )
    }, options.signal)
  }

  /**
   * One page of up to 100 executions at `offset`, with `total` and `nextLink` as the API sent them.
   */
  page(filters: ExecutionFilters = {}, options: PageOptions = {}): Promise<ExecutionPage> {
    return this.#call(options, () => {
      positiveInteger("offset", options.offset, 0)
      const query = toQuery(filters)
      return Effect.flatMap(client, (c) => c.listPage(query, options.offset ?? 0))
    })
  }

  /** The number of matching executions (one request when the API sends `total`). */
  count(filters: ExecutionFilters = {}, options: CallOptions = {}): Promise<number> {
    return this.#call(options, () => {
      const query = toQuery(filters)
      return Effect.flatMap(client, (c) => c.count(query))
    })
  }

  /** One execution with its step executions. Rejects with `NotFoundError` when there is none. */
  get(executionId: string, options: CallOptions = {}): Promise<WorkflowExecutionDetail> {
    return this.#call(options, () => Effect.flatMap(client, (c) => c.get(executionId)))
  }

  /** One step's input and output. */
  step(executionId: string, stepExecutionId: string, options: CallOptions = {}): Promise<StepExecution> {
    return this.#call(options, () => Effect.flatMap(client, (c) => c.step(executionId, stepExecutionId)))
  }

  /**
   * Replays an execution and resolves with the new execution. Sent again only when the request
   * provably never reached the server (connection refused, 429); when it may have been applied,
   * rejects with `ReplayOutcomeUnknownError` instead of sending it twice.
   */
  replay(executionId: string, options: CallOptions = {}): Promise<WorkflowExecution> {
    return this.#call(options, () => Effect.flatMap(client, (c) => c.replay(executionId)))
  }

  #call<A>(options: CallOptions, make: () => Effect.Effect<A, unknown, internal.Services>): Promise<A> {
    try {
      return this.#runner.run(make(), options.signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }
}

/**
 * A Task History client for code that does not use Effect.
 *
 * @example
 * import { TaskHistory } from "@taskhistory/client"
 *
 * const th = new TaskHistory({ apiKey: process.env.PARAGON_API_KEY!, projectId: process.env.PARAGON_PROJECT_ID! })
 * for await (const e of th.executions.list({ status: "failed", after: "2026-11-01" })) console.log(e.id)
 * await th.close()
 *
 * @since 0.1.0
 */
export class TaskHistory implements AsyncDisposable {
  /** The executions of the project. */
  readonly executions: Executions
  readonly #runner: internal.Runner
  readonly #config: TaskHistoryConfig.TaskHistoryConfigShape

  /** Validates the options (throws `InvalidInputError` naming the bad one); connects on first use. */
  constructor(options: TaskHistoryOptions) {
    this.#config = toConfig(options)
    this.#runner = internal.makeRunner(ManagedRuntime.make(internal.layer(this.#config)))
    this.executions = new Executions(this.#runner)
  }

  /**
   * Executions, tasks, failures, failure rate and run-duration percentiles per group (one full read
   * of the matching executions; for `integration`, one read per integration named).
   *
   * @example
   * const report = await th.usage({ by: "workflow", after: "2026-11-01" })
   * for (const row of report.groups) console.log(row.group, row.executions, row.failureRate)
   */
  usage(options: UsageOptions, call: CallOptions = {}): Promise<Usage.UsageReport> {
    try {
      const query = toQuery(options)
      if (options.by === "integration") {
        if (options.integrations.length === 0) {
          throw invalidInput(
            new InvalidInput({ field: "integrations", value: "", expected: "at least one integration name" })
          )
        }
        return this.#runner.run(Usage.byIntegration(options.integrations, query), call.signal)
      }
      if (!(Usage.groupings as ReadonlyArray<string>).includes(options.by)) {
        throw invalidInput(
          new InvalidInput({ field: "by", value: String(options.by), expected: Usage.groupings.join(", ") })
        )
      }
      return this.#runner.run(Usage.report(query, options.by), call.signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** How many requests and how much time a full read of the matching executions takes (one request). */
  costPlan(filters: ExecutionFilters = {}, call: CallOptions = {}): Promise<CostPlan> {
    try {
      const query = toQuery(filters)
      return this.#runner.run(
        Effect.map(
          Effect.flatMap(client, (c) => c.costPlan(query)),
          (plan): CostPlan => ({
            total: plan.total,
            requests: plan.requests,
            estimatedDurationMs: Duration.toMillis(plan.estimatedDuration),
            firstPage: plan.firstPage
          })
        ),
        call.signal
      )
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Closes the connections (and the Redis connection). Calls after it reject with `ClosedError`. */
  close(): Promise<void> {
    return this.#runner.close()
  }

  /** `await using th = new TaskHistory(...)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
