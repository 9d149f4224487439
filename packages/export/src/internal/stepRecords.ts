/**
 * Step executions as rows: what a step record (an element of an execution's `stepExecutions`)
 * and, for a failed step, its output become in `step_executions`. Pure: the requests are in
 * `stepFetch.ts`.
 *
 * @internal
 */
import { errorMessageOf } from "@taskhistory/core/StepErrors"
import type { StepRow } from "../Sink.js"

export { errorMessageOf }

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : undefined

const instant = (value: unknown): string | undefined =>
  typeof value === "string" && !Number.isNaN(Date.parse(value)) ? value : undefined

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

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
