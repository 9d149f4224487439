/**
 * Why executions failed: the error messages of failed steps, ranked by how often they occur,
 * with the workflows they hit. The messages come from the failed steps' outputs
 * ({@link errorMessageOf}), read from the API ({@link fromApi}: two requests per failed
 * execution, for a small range) or from an export that kept them (`step_executions`).
 *
 * @since 0.3.0
 */
import { Effect, Option, Stream } from "effect"
import type { ExecutionQuery } from "./ExecutionQuery.js"
import { TaskHistoryClient } from "./TaskHistoryClient.js"
import type { InvalidInput, InvalidRecordError, RequestError } from "./TaskHistoryError.js"
import type { WorkflowExecutionDetail } from "./WorkflowExecution.js"

/** The longest error message kept. */
const MAX_MESSAGE = 2_000

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const clip = (message: string): string | undefined => {
  const trimmed = message.trim()
  if (trimmed === "") return undefined
  return trimmed.length > MAX_MESSAGE ? `${trimmed.slice(0, MAX_MESSAGE - 1)}…` : trimmed
}

/**
 * The error text of a failed step's output, where its shape is one we know: a string starting
 * `Error:` (the text after it), `{ error: { message } }`, `{ error: "..." }` or
 * `{ errorMessage }`. Anything else, and a large output (a reference to where it is stored),
 * gives `undefined`. Messages are trimmed and cut at 2,000 characters.
 *
 * @example
 * errorMessageOf({ error: { message: "token expired" } }) // "token expired"
 * errorMessageOf("Error: token expired") // "token expired"
 *
 * @since 0.3.0
 */
export const errorMessageOf = (output: unknown, isLargeOutput = false): string | undefined => {
  if (isLargeOutput) return undefined
  if (typeof output === "string") {
    const m = /^\s*Error:\s*([\s\S]*)$/.exec(output)
    return m === null ? undefined : clip(m[1]!)
  }
  if (!isObject(output)) return undefined
  const error = output.error
  if (isObject(error) && typeof error.message === "string") return clip(error.message)
  if (typeof error === "string") return clip(error.replace(/^\s*Error:\s*/, ""))
  if (typeof output.errorMessage === "string") return clip(output.errorMessage)
  return undefined
}

/**
 * One failed step: its execution, the execution's workflow, and its error message when one was
 * found.
 *
 * @since 0.3.0
 */
export interface StepFailure {
  readonly executionId: string
  readonly workflowId: string | undefined
  readonly message: string | undefined
}

/**
 * The failures of one error message.
 *
 * @since 0.3.0
 */
export interface ErrorGroup {
  /** The message; `null` for failed steps whose output has no message we can find. */
  readonly message: string | null
  /** Failed steps with this message. */
  readonly failures: number
  /** Distinct executions among them. */
  readonly executions: number
  /** The workflows hit, most failures first (`none` for executions without a workflow id). */
  readonly workflows: ReadonlyArray<{ readonly workflowId: string; readonly failures: number }>
}

/**
 * Error messages ranked by failures (then by message).
 *
 * @since 0.3.0
 */
export interface ErrorReport {
  readonly groups: ReadonlyArray<ErrorGroup>
  /** Failed steps counted. */
  readonly failures: number
  /** Distinct executions with a failed step. */
  readonly executions: number
}

interface Acc {
  failures: number
  readonly executions: Set<string>
  readonly workflows: Map<string, number>
}

/**
 * The report of a stream of failed steps (one pass; memory: the distinct execution ids).
 *
 * @since 0.3.0
 */
export const fromFailures = <E, R>(
  stream: Stream.Stream<StepFailure, E, R>
): Effect.Effect<ErrorReport, E, R> =>
  Effect.map(
    Stream.runFold(stream, new Map<string | null, Acc>(), (groups, f) => {
      const key = f.message ?? null
      let acc = groups.get(key)
      if (acc === undefined) {
        acc = { failures: 0, executions: new Set(), workflows: new Map() }
        groups.set(key, acc)
      }
      acc.failures++
      acc.executions.add(f.executionId)
      const wf = f.workflowId ?? "none"
      acc.workflows.set(wf, (acc.workflows.get(wf) ?? 0) + 1)
      return groups
    }),
    (groups) => {
      const all = new Set<string>()
      let failures = 0
      const rows: Array<ErrorGroup> = []
      for (const [message, acc] of groups) {
        failures += acc.failures
        for (const id of acc.executions) all.add(id)
        rows.push({
          message,
          failures: acc.failures,
          executions: acc.executions.size,
          workflows: [...acc.workflows]
            .map(([workflowId, n]) => ({ workflowId, failures: n }))
            .sort((a, b) => b.failures - a.failures || a.workflowId.localeCompare(b.workflowId))
        })
      }
      rows.sort(
        (a, b) =>
          b.failures - a.failures ||
          (a.message === null ? 1 : 0) - (b.message === null ? 1 : 0) ||
          (a.message ?? "").localeCompare(b.message ?? "")
      )
      return { groups: rows, failures, executions: all.size }
    }
  )

/**
 * The failed steps of the failed executions matching `query`, read from the API: the list (with
 * `status: FAILED`), then per failed execution its steps and each failed step's output (2
 * requests for the usual one failed step). An execution or step gone meanwhile (404) is skipped.
 *
 * @since 0.3.0
 */
export const failuresFromApi = (
  query: ExecutionQuery,
  options: { readonly concurrency?: number | undefined } = {}
): Stream.Stream<StepFailure, RequestError | InvalidRecordError | InvalidInput, TaskHistoryClient> =>
  Stream.unwrap(
    Effect.map(TaskHistoryClient, (client) =>
      client.executions({ ...query, status: "FAILED" }).pipe(
        Stream.mapEffect(
          (execution) =>
            Effect.gen(function* () {
              const detail = yield* client.get(execution.id).pipe(
                Effect.map((d) => Option.some(d)),
                Effect.catchTag("NotFound", () => Effect.succeed(Option.none<WorkflowExecutionDetail>()))
              )
              if (Option.isNone(detail)) return [] as ReadonlyArray<StepFailure>
              return yield* Effect.forEach(
                detail.value.stepExecutions.filter((s) => s.status === "FAILED"),
                (step) =>
                  client.step(execution.id, step.id).pipe(
                    Effect.map((d) => errorMessageOf(d.output, d.isLargeOutput === true)),
                    Effect.catchTag("NotFound", () => Effect.succeed(undefined)),
                    Effect.map(
                      (message): StepFailure => ({
                        executionId: execution.id,
                        workflowId: execution.workflowId,
                        message
                      })
                    )
                  )
              )
            }),
          { concurrency: options.concurrency ?? 4 }
        ),
        Stream.flattenIterables
      )
    )
  )

/**
 * The error report of the failed executions matching `query`, from the API.
 *
 * @since 0.3.0
 */
export const fromApi = (
  query: ExecutionQuery,
  options: { readonly concurrency?: number | undefined } = {}
): Effect.Effect<ErrorReport, RequestError | InvalidRecordError | InvalidInput, TaskHistoryClient> =>
  fromFailures(failuresFromApi(query, options))
