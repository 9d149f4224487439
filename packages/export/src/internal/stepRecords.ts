/**
 * Step executions as rows: what a step record (an element of an execution's `stepExecutions`)
 * and, for a failed step, its output become in `step_executions`. Pure: the requests are in
 * `stepFetch.ts`.
 *
 * @internal
 */
import { errorMessageOf } from "@taskhistory/core/StepErrors"
import type { Kind } from "../Columns.js"
import type { StepRow, StepScope } from "../Sink.js"

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

/**
 * The columns of `step_executions`, in table order: the one list the SQL tables and the file
 * sinks' step partitions share.
 */
export const stepColumns: ReadonlyArray<{
  readonly name: string
  readonly kind: Kind
  readonly required: boolean
}> = [
  { name: "id", kind: "text", required: true },
  { name: "execution_id", kind: "text", required: true },
  { name: "step_id", kind: "text", required: false },
  { name: "type", kind: "text", required: false },
  { name: "status", kind: "text", required: false },
  { name: "date_started", kind: "timestamp", required: false },
  { name: "date_ended", kind: "timestamp", required: false },
  { name: "error_message", kind: "text", required: false },
  { name: "output_raw", kind: "text", required: false },
  { name: "raw", kind: "text", required: true },
  { name: "exported_at", kind: "timestamp", required: true }
]

/** The names of {@link stepColumns}. */
export const stepColumnNames: ReadonlyArray<string> = stepColumns.map((c) => c.name)

/** The values of a step row in the order of {@link stepColumns} (`null` where it has none). */
export const stepValues = (row: StepRow, exportedAt: string | undefined): Array<string | null> => [
  row.id,
  row.executionId,
  row.stepId ?? null,
  row.type ?? null,
  row.status ?? null,
  row.dateStarted ?? null,
  row.dateEnded ?? null,
  row.errorMessage ?? null,
  row.outputRaw ?? null,
  row.raw,
  exportedAt ?? null
]

/** A step row with the instant it was exported, as a file sink holds it. */
export interface ExportedStep {
  readonly row: StepRow
  readonly exportedAt: string | undefined
}

const optional = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : undefined

/**
 * The inverse of {@link stepValues}: the row of values read back in column order (`""`, `null`
 * and `undefined` are absent). An error string when `id`, `execution_id` or `raw` is missing.
 */
export const stepOfValues = (values: ReadonlyArray<unknown>): ExportedStep | string => {
  const [
    id,
    executionId,
    stepId,
    type,
    status,
    dateStarted,
    dateEnded,
    errorMessage,
    outputRaw,
    raw,
    exportedAt
  ] = values.map(optional)
  if (id === undefined) return "a step row without an id"
  if (executionId === undefined) return `step ${id}: no execution_id`
  if (raw === undefined) return `step ${id}: no raw record`
  return {
    row: { id, executionId, stepId, type, status, dateStarted, dateEnded, errorMessage, outputRaw, raw },
    exportedAt
  }
}

/** Whether two step rows hold the same data (what was received; `exported_at` aside). */
export const sameStep = (a: StepRow, b: StepRow): boolean =>
  a.raw === b.raw &&
  a.outputRaw === b.outputRaw &&
  a.executionId === b.executionId &&
  a.errorMessage === b.errorMessage

/**
 * The executions of a write whose steps are to be queued: in `scope` (`failed`: now `FAILED`;
 * `all`: any status) and new or with a status other than the stored one (`before`: the stored
 * status, `undefined` for a new row). An execution whose status did not change is never queued
 * again.
 */
export const shouldQueue = (scope: StepScope | undefined, before: unknown, status: unknown): boolean =>
  scope !== undefined && before !== status && (scope === "all" || status === "FAILED")
