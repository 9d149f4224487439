/**
 * The fold behind `ExportReader.countBy`: executions (or counts a database made) added one at a
 * time into counts per group, holding one entry per group and nothing of the executions.
 *
 * @internal
 */
import type { CountBy, GroupCounts } from "../ExportReader.js"

type Entry = { -readonly [K in keyof GroupCounts]: GroupCounts[K] }

/** What an execution contributes to its group's counts. */
export interface Counted {
  readonly executions: number
  readonly finished: number
  readonly failures: number
  readonly lastStartedMs: number
}

/** The counts of one execution of `status` that started at `startedMs`. */
export const one = (status: string, startedMs: number): Counted => ({
  executions: 1,
  finished: status === "SUCCEEDED" || status === "FAILED" ? 1 : 0,
  failures: status === "FAILED" ? 1 : 0,
  lastStartedMs: startedMs
})

/** Counts per group of `by`. */
export interface Counter {
  /**
   * Adds counts to the group of `value` (the execution's workflow or user id; ignored for
   * `all`). A missing `value` (the execution has no such field) is not counted.
   */
  readonly add: (value: string | undefined, counted: Counted) => void
  readonly result: () => ReadonlyArray<GroupCounts>
}

/** An empty counter of groups of `by`. */
export const make = (by: CountBy): Counter => {
  const groups = new Map<string, Entry>()
  return {
    add: (value, counted) => {
      if (counted.executions === 0) return
      if (by !== "all" && value === undefined) return
      const key = by === "all" ? "" : (value as string)
      const entry = groups.get(key)
      if (entry === undefined) {
        const fresh: Entry = { ...counted }
        if (by === "workflow") fresh.workflowId = key
        if (by === "user") fresh.userId = key
        groups.set(key, fresh)
        return
      }
      entry.executions += counted.executions
      entry.finished += counted.finished
      entry.failures += counted.failures
      if (counted.lastStartedMs > entry.lastStartedMs) entry.lastStartedMs = counted.lastStartedMs
    },
    result: () => [...groups.values()]
  }
}

/** The field of an execution that `by` groups on. */
export const groupValue = (
  by: CountBy,
  e: { readonly workflowId?: string | undefined; readonly userId?: string | undefined }
): string | undefined => (by === "workflow" ? e.workflowId : by === "user" ? e.userId : "")
