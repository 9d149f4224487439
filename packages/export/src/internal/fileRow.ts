/**
 * One execution as the file sinks hold it in memory: the record as received (JSON text) plus the
 * typed columns the CSV and Parquet formats need.
 *
 * @internal
 */

/** One execution in a day. Mutable: an update replaces the fields in place. */
export interface FileRow {
  readonly id: string
  startedMs: number
  rawText: string
  exportedAt: string | undefined
  userId: string | undefined
  workflowId: string | undefined
  status: string
  taskCount: number | undefined
  runDuration: number | undefined
  dateEnded: string | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const numOrUndefined = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined

/**
 * Builds a row from a parsed record and its JSON text. Returns an error string when the record has
 * no usable `id` or `dateStarted` (a file sink can neither key nor partition it).
 */
export const makeRow = (
  record: unknown,
  rawText: string,
  exportedAt: string | undefined
): FileRow | string => {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return "not a JSON object"
  const r = record as Record<string, unknown>
  const id = str(r.id)
  if (id === undefined || id.length === 0) return "missing id"
  const dateStarted = str(r.dateStarted)
  const startedMs = dateStarted === undefined ? Number.NaN : Date.parse(dateStarted)
  if (Number.isNaN(startedMs)) return `execution ${id}: missing or invalid dateStarted`
  return {
    id,
    startedMs,
    rawText,
    exportedAt,
    userId: str(r.userId),
    workflowId: str(r.workflowId),
    status: str(r.status) ?? "",
    taskCount: numOrUndefined(r.taskCount),
    runDuration: numOrUndefined(r.runDuration),
    dateEnded: str(r.dateEnded)
  }
}

/** Copies the content of `from` into `into` (same id). */
export const assignRow = (into: FileRow, from: FileRow): void => {
  into.startedMs = from.startedMs
  into.rawText = from.rawText
  into.exportedAt = from.exportedAt
  into.userId = from.userId
  into.workflowId = from.workflowId
  into.status = from.status
  into.taskCount = from.taskCount
  into.runDuration = from.runDuration
  into.dateEnded = from.dateEnded
}

/** File order: by start instant, then id. */
export const compareRows = (a: FileRow, b: FileRow): number =>
  a.startedMs - b.startedMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** The UTC day (`YYYY-MM-DD`) an instant falls on. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** An ISO instant, or `""` when absent or unparsable. */
export const isoOrEmpty = (iso: string | undefined): string => {
  if (iso === undefined) return ""
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString()
}
