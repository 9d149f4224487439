/**
 * One execution as the file sinks hold it in memory: the record as received (JSON text), its
 * start instant (for partitioning and order) and the values of `Columns.ts` that the CSV and
 * Parquet formats write.
 *
 * @internal
 */
import * as Columns from "../Columns.js"

/** One execution in a day. Mutable: an update replaces the fields in place. */
export interface FileRow {
  readonly id: string
  startedMs: number
  rawText: string
  exportedAt: string | undefined
  /** The values of `Columns.columns`, in order. */
  values: ReadonlyArray<Columns.Value>
}

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
  const id = typeof r.id === "string" ? r.id : ""
  if (id.length === 0) return "missing id"
  const startedMs = typeof r.dateStarted === "string" ? Date.parse(r.dateStarted) : Number.NaN
  if (Number.isNaN(startedMs)) return `execution ${id}: missing or invalid dateStarted`
  return { id, startedMs, rawText, exportedAt, values: Columns.values(r) }
}

/** Copies the content of `from` into `into` (same id). */
export const assignRow = (into: FileRow, from: FileRow): void => {
  into.startedMs = from.startedMs
  into.rawText = from.rawText
  into.exportedAt = from.exportedAt
  into.values = from.values
}

/** File order: by start instant, then id. */
export const compareRows = (a: FileRow, b: FileRow): number =>
  a.startedMs - b.startedMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** The UTC day (`YYYY-MM-DD`) an instant falls on. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** The columns of the CSV and Parquet files, in order. */
export const fileColumns: ReadonlyArray<string> = [...Columns.names, "exported_at", "raw"]
