/**
 * Final-status transitions of a write: which executions a sink brought to `SUCCEEDED` or
 * `FAILED`, read from the values of `Columns.ts` (the SQL rows' parameters start with them, the
 * file sinks keep them per row).
 *
 * @internal
 */
import * as Columns from "../Columns.js"
import { type Finished, isFinalStatus } from "../Sink.js"

const at = (name: Columns.Name) => Columns.names.indexOf(name)
const STATUS = at("status")
const WORKFLOW = at("workflow_id")
const TASKS = at("task_count")
const DURATION = at("run_duration_ms")

const text = (value: Columns.Value | undefined) => (typeof value === "string" ? value : undefined)
const number = (value: Columns.Value | undefined) => (typeof value === "number" ? value : undefined)

/**
 * The transition of a row written with `values` over a stored row whose status was `before`
 * (`undefined`: no stored row): a {@link Finished} when the new status is final and the old one
 * was not.
 */
export const transition = (before: unknown, values: ReadonlyArray<unknown>): Finished | undefined => {
  const status = values[STATUS]
  if (!isFinalStatus(status) || isFinalStatus(before)) return undefined
  const v = values as ReadonlyArray<Columns.Value>
  return {
    workflowId: text(v[WORKFLOW]),
    status,
    taskCount: number(v[TASKS]),
    runDurationMs: number(v[DURATION])
  }
}

/** The status among `values` (a row's parameters or a file row's values). */
export const statusOf = (values: ReadonlyArray<unknown>): unknown => values[STATUS]
