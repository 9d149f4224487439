/**
 * Output formats of executions: `ndjson` (one record per line, as the API sent it), `json` (one
 * array), `csv` (header row, the contract's fields) and `table` (for people). Each is a small
 * state machine fed chunk by chunk, so output starts before the last page arrives.
 *
 * @internal
 */
import * as OutputFormat from "@taskhistory/app-kit/OutputFormat"
import { escapeControls } from "@taskhistory/core/TaskHistoryError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import * as Columns from "@taskhistory/export/Columns"
import * as Csv from "@taskhistory/export/Csv"

/** @internal */
export type Format = OutputFormat.Format

/** @internal */
export const formats: ReadonlyArray<Format> = OutputFormat.formats

/** @internal */
export interface Printer {
  /** Text for the next records (may be empty). */
  readonly chunk: (records: ReadonlyArray<WorkflowExecution>) => string
  /** Text after the last record. */
  readonly end: () => string
}

/** The CSV columns: the fields the contract names, under the API's names. @internal */
export const csvColumns = [
  "id",
  "status",
  "workflowId",
  "userId",
  "taskCount",
  "runDuration",
  "dateStarted",
  "dateEnded"
] as const satisfies ReadonlyArray<Columns.Field>

const csvValues = Columns.projection(csvColumns)

/**
 * One CSV line (RFC 4180 quoting, LF line end: the output goes to pipes); text cells that a
 * spreadsheet would run as a formula neutralised unless `raw`. @internal
 */
export const csvRow = (cells: ReadonlyArray<Csv.Value>, raw = false): string =>
  Csv.formatRow(cells, { formulas: raw ? "keep" : "escape" })

/**
 * A table cell: what a server sent, control characters written as visible escapes (`\x1b`),
 * always (a table piped to a file is read on a terminal later). @internal
 */
export const cell = (text: string): string => escapeControls(text)

const ndjson = (): Printer => ({
  chunk: (records) => {
    let out = ""
    for (const r of records) out += `${JSON.stringify(r)}\n`
    return out
  },
  end: () => ""
})

const json = (): Printer => {
  let first = true
  return {
    chunk: (records) => {
      let out = ""
      for (const r of records) {
        out += `${first ? "[\n" : ",\n"}${JSON.stringify(r)}`
        first = false
      }
      return out
    },
    end: () => (first ? "[]\n" : "\n]\n")
  }
}

const csv = (raw: boolean): Printer => {
  let header = true
  const options: Csv.FormatOptions = { formulas: raw ? "keep" : "escape" }
  const start = () => {
    if (!header) return ""
    header = false
    return Csv.formatLine(csvColumns, "\n")
  }
  return {
    chunk: (records) => {
      let out = start()
      for (const r of records) out += Csv.formatLine(csvValues(r), "\n", options)
      return out
    },
    end: () => start()
  }
}

/** A duration in ms as people read it: 850ms, 12.3s, 4m05s, 2h10m. @internal */
export const humanMs = (ms: number | null | undefined): string => {
  if (ms === null || ms === undefined) return "-"
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000)
    return `${m}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`
  }
  const h = Math.floor(ms / 3_600_000)
  return `${h}h${String(Math.floor((ms % 3_600_000) / 60_000)).padStart(2, "0")}m`
}

/** Aligns rows of cells into columns (numbers right-aligned when `right[i]`). @internal */
export const align = (
  rows: ReadonlyArray<ReadonlyArray<string>>,
  widths: ReadonlyArray<number>,
  right: ReadonlyArray<boolean> = []
): string =>
  rows
    .map((row) =>
      row
        .map((text, i) => {
          // escaped again here too (idempotent): no cell reaches the terminal raw
          const c = cell(text)
          const w = widths[i] ?? 0
          if (i === row.length - 1 && !right[i]) return c
          return right[i] ? c.padStart(w) : c.padEnd(w)
        })
        .join("  ")
        .trimEnd()
    )
    .map((l) => `${l}\n`)
    .join("")

const tableHeader = ["ID", "STATUS", "WORKFLOW", "USER", "TASKS", "DURATION", "STARTED"]
const tableRight = [false, false, false, false, true, true, false]

const tableCells = (r: WorkflowExecution): ReadonlyArray<string> => [
  cell(r.id),
  cell(r.status),
  cell(r.workflowId ?? "-"),
  cell(r.userId ?? "-"),
  r.taskCount === undefined ? "-" : String(r.taskCount),
  humanMs(r.runDuration),
  cell(r.dateStarted)
]

const table = (): Printer => {
  // Column widths come from the header and the first chunk; later rows that are wider simply
  // push their line out instead of holding the whole result in memory.
  let widths: Array<number> | undefined
  return {
    chunk: (records) => {
      const rows = records.map(tableCells)
      let out = ""
      if (widths === undefined) {
        if (rows.length === 0) return ""
        widths = tableHeader.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
        out += align([tableHeader], widths, tableRight)
      }
      return out + align(rows, widths, tableRight)
    },
    end: () => (widths === undefined ? "no executions match\n" : "")
  }
}

/** @internal */
export const printer = (format: Format, options: { readonly rawCsv?: boolean } = {}): Printer => {
  switch (format) {
    case "ndjson":
      return ndjson()
    case "json":
      return json()
    case "csv":
      return csv(options.rawCsv === true)
    case "table":
      return table()
  }
}
