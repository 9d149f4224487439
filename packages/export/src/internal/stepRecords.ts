/**
 * Step executions as rows: what a step record (an element of an execution's `stepExecutions`)
 * and, for a failed step, its output become in `step_executions`. Pure: the requests are in
 * `stepFetch.ts`.
 *
 * @internal
 */
import type { StepRow } from "../Sink.js"

/** The longest error message kept (the output itself is kept whole in `output_raw`). */
export const MAX_MESSAGE = 2_000

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : undefined

const instant = (value: unknown): string | undefined =>
  typeof value === "string" && !Number.isNaN(Date.parse(value)) ? value : undefined

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const clip = (message: string): string | undefined => {
  const trimmed = message.trim()
  if (trimmed === "") return undefined
  return trimmed.length > MAX_MESSAGE ? `${trimmed.slice(0, MAX_MESSAGE - 1)}…` : trimmed
}

/**
 * The error text of a failed step's output, where its shape is one we know: a string starting
 * `Error:` (the text after it), `{ error: { message } }`, `{ error: "..." }`, `{ errorMessage }`,
 * or `{ message }` beside an `error` or `status` field. Anything else (and a large output, which
 * is a reference to where it is stored) gives `undefined`.
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

/** Why a step record cannot be a row (`undefined`: it can). */
export const problemOf = (record: unknown): string | undefined => {
  if (!isObject(record)) return "a step execution is not an object"
  if (typeof record.id !== "string" || record.id.length === 0) return "a step execution without a string id"
  return undefined
}

/** The output of a failed step, as received from its detail. */
export interface FailedOutput {
  readonly output: unknown
  readonly isLargeOutput: boolean
}

/**
 * The row of a step record (checked by {@link problemOf}) of execution `executionId`; `failed`:
 * the step's detail when the step failed and it was read.
 */
export const rowOf = (
  executionId: string,
  record: Readonly<Record<string, unknown>>,
  failed: FailedOutput | undefined
): StepRow => ({
  id: record.id as string,
  executionId,
  stepId: text(record.stepId),
  type: text(record.type),
  status: text(record.status),
  dateStarted: instant(record.dateStarted),
  dateEnded: instant(record.dateEnded),
  errorMessage: failed === undefined ? undefined : errorMessageOf(failed.output, failed.isLargeOutput),
  outputRaw: failed === undefined || failed.output === undefined ? undefined : JSON.stringify(failed.output),
  raw: JSON.stringify(record)
})

/** Whether a step record says the step failed. */
export const isFailed = (record: Readonly<Record<string, unknown>>): boolean => record.status === "FAILED"
