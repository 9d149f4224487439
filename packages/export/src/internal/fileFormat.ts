/**
 * The three file formats: how a day's rows become a text file (the source of truth, which can be
 * appended to) and, for Parquet, an extra derived file.
 *
 * @internal
 */
import * as Columns from "../Columns.js"
import * as Csv from "../Csv.js"
import { encodeParquet } from "./fileParquet.js"
import { type FileRow, fileColumns, makeRow } from "./fileRow.js"

/** A file format of the file sinks. */
export type FileFormatName = "ndjson" | "csv" | "parquet"

/** How one format lays out a day. */
export interface FileFormat {
  readonly name: FileFormatName
  /** The text file that holds the day's rows, one per line (after an optional header). */
  readonly sourceFile: string
  /** Written once at the top of the source file. */
  readonly header: string
  /** The line (terminator included) of one row in the source file. */
  readonly encode: (row: FileRow) => string
  /** Parses a whole source file; an error string when it is not valid. */
  readonly decode: (text: string) => Array<FileRow> | string
  /** A file rebuilt from all the rows of the day after each change (Parquet). */
  readonly derived:
    | { readonly file: string; readonly encode: (rows: ReadonlyArray<FileRow>) => Uint8Array }
    | undefined
}

const Invalid: unique symbol = Symbol("Invalid")

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return Invalid
  }
}

const decodeLines = (
  text: string,
  line: (text: string, n: number) => FileRow | string
): Array<FileRow> | string => {
  const rows: Array<FileRow> = []
  let start = 0
  let n = 0
  while (start < text.length) {
    let end = text.indexOf("\n", start)
    if (end === -1) end = text.length
    n++
    if (end > start) {
      const row = line(text.slice(start, end), n)
      if (typeof row === "string") return row
      rows.push(row)
    }
    start = end + 1
  }
  return rows
}

/** `part.ndjson`: one line per execution, the record exactly as received. */
export const ndjson: FileFormat = {
  name: "ndjson",
  sourceFile: "part.ndjson",
  header: "",
  encode: (row) => row.rawText + "\n",
  decode: (text) =>
    decodeLines(text, (line, n) => {
      const value = parseJson(line)
      if (value === Invalid) return `line ${n}: not JSON`
      const row = makeRow(value, line, undefined)
      return typeof row === "string" ? `line ${n}: ${row}` : row
    }),
  derived: undefined
}

/** An ISO instant normalised to UTC (`…Z`), or `""` when absent or unparsable. */
const isoOrEmpty = (iso: Columns.Value): string => {
  if (typeof iso !== "string") return ""
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString()
}

const timestampColumns = Columns.columns.map((c) => c.kind === "timestamp")

/** The CSV fields of a row: its columns (instants normalised to UTC), `exported_at`, `raw`. */
const csvFields = (row: FileRow): Array<Csv.Value> => {
  const fields: Array<Csv.Value> = row.values.map((v, k) => (timestampColumns[k] ? isoOrEmpty(v) : v))
  fields.push(row.exportedAt, row.rawText)
  return fields
}

const RAW = fileColumns.indexOf("raw")
const EXPORTED_AT = fileColumns.indexOf("exported_at")

/** `part.csv`: a header row, then one RFC 4180 row per execution with the raw record as JSON. */
export const csv: FileFormat = {
  name: "csv",
  sourceFile: "part.csv",
  header: Csv.formatLine(fileColumns),
  encode: (row) => Csv.formatLine(csvFields(row)),
  decode: (text) => {
    const table = Csv.parse(text)
    if (typeof table === "string") return table
    const [header, ...body] = table
    if (header === undefined) return []
    if (header.join(",") !== fileColumns.join(","))
      return `unexpected header ${JSON.stringify(header.join(","))}`
    const rows: Array<FileRow> = []
    for (let i = 0; i < body.length; i++) {
      const fields = body[i]!
      const raw = fields[RAW]
      if (fields.length !== fileColumns.length || raw === undefined)
        return `row ${i + 2}: expected ${fileColumns.length} fields`
      const value = parseJson(raw)
      if (value === Invalid) return `row ${i + 2}: raw is not JSON`
      const exportedAt = fields[EXPORTED_AT]
      const row = makeRow(value, raw, exportedAt === undefined || exportedAt === "" ? undefined : exportedAt)
      if (typeof row === "string") return `row ${i + 2}: ${row}`
      rows.push(row)
    }
    return rows
  },
  derived: undefined
}

/**
 * Parquet: `part.parquet` is rebuilt whole from `.part.ndjson` (hidden from readers), whose lines are
 * `{"exported_at": ISO, "raw": <record as received>}`.
 */
export const parquet: FileFormat = {
  name: "parquet",
  sourceFile: ".part.ndjson",
  header: "",
  encode: (row) => `{"exported_at":${JSON.stringify(row.exportedAt ?? null)},"raw":${row.rawText}}\n`,
  decode: (text) =>
    decodeLines(text, (line, n) => {
      const value = parseJson(line)
      if (typeof value !== "object" || value === null || !("raw" in value))
        return `line ${n}: not a sidecar line`
      const exportedAt =
        "exported_at" in value && typeof value.exported_at === "string" ? value.exported_at : undefined
      const row = makeRow(value.raw, JSON.stringify(value.raw), exportedAt)
      return typeof row === "string" ? `line ${n}: ${row}` : row
    }),
  derived: { file: "part.parquet", encode: encodeParquet }
}

/** The format of a name. */
export const formats: Record<FileFormatName, FileFormat> = { ndjson, csv, parquet }
