/**
 * The three file formats: how a day's rows become its file (`part.ndjson`, `part.csv`,
 * `part.parquet`) and are read back from it. The text formats can be appended to line by line;
 * Parquet is written whole, and with `deferParquet` the rows not yet in it wait in a journal
 * (`.part.ndjson`, see `fileDays.ts`) in the line format of {@link journal}.
 *
 * @internal
 */
import * as Columns from "../Columns.js"
import * as Csv from "../Csv.js"
import { decodeParquet, encodeParquet } from "./fileParquet.js"
import { type FileRow, fileColumns, makeRow } from "./fileRow.js"

/** A file format of the file sinks. */
export type FileFormatName = "ndjson" | "csv" | "parquet"

/** How one format lays out a day. */
export interface FileFormat {
  readonly name: FileFormatName
  /** The file that holds the day's rows: the only truth of the day (a journal aside). */
  readonly file: string
  /** The whole file of a day's rows (in file order). Throws on an encoder bug: wrap it. */
  readonly encode: (rows: ReadonlyArray<FileRow>) => string | Uint8Array
  /** Parses a whole day file; an error string when it is not valid. */
  readonly decode: (data: Uint8Array) => Promise<Array<FileRow> | string>
  /** Text formats: the line (terminator included) of one row, so new rows can be appended. */
  readonly line: ((row: FileRow) => string) | undefined
  /** Parquet: batches of a deferred sink wait in a journal beside the file. */
  readonly journaled: boolean
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

const utf8 = new TextDecoder("utf-8", { fatal: false })

const decodeNdjson = (text: string) =>
  decodeLines(text, (line, n) => {
    const value = parseJson(line)
    if (value === Invalid) return `line ${n}: not JSON`
    const row = makeRow(value, line, undefined)
    return typeof row === "string" ? `line ${n}: ${row}` : row
  })

const ndjsonLine = (row: FileRow) => row.rawText + "\n"

/** `part.ndjson`: one line per execution, the record exactly as received. */
export const ndjson: FileFormat = {
  name: "ndjson",
  file: "part.ndjson",
  encode: (rows) => rows.map(ndjsonLine).join(""),
  decode: async (data) => decodeNdjson(utf8.decode(data)),
  line: ndjsonLine,
  journaled: false
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

const csvHeader = Csv.formatLine(fileColumns)
const csvLine = (row: FileRow) => Csv.formatLine(csvFields(row))

const decodeCsv = (text: string): Array<FileRow> | string => {
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
}

/** `part.csv`: a header row, then one RFC 4180 row per execution with the raw record as JSON. */
export const csv: FileFormat = {
  name: "csv",
  file: "part.csv",
  encode: (rows) => csvHeader + rows.map(csvLine).join(""),
  decode: async (data) => decodeCsv(utf8.decode(data)),
  line: csvLine,
  journaled: false
}

/** `part.parquet`: typed columns, `exported_at` and `raw` (see `fileParquet.ts`). */
export const parquet: FileFormat = {
  name: "parquet",
  file: "part.parquet",
  encode: encodeParquet,
  decode: decodeParquet,
  line: undefined,
  journaled: true
}

/**
 * The journal of a deferred Parquet day, `.part.ndjson`: the rows written since `part.parquet`
 * was last rebuilt, one `{"exported_at": ISO, "raw": <record as received>}` per line (a later
 * line of an id wins). The same lines as the sidecar of earlier versions, which held every row
 * of the day: applied over `part.parquet` they give the same day, so an older export directory
 * opens as it is.
 */
export const journal = {
  file: ".part.ndjson",
  line: (row: FileRow): string =>
    `{"exported_at":${JSON.stringify(row.exportedAt ?? null)},"raw":${row.rawText}}\n`,
  decode: (text: string): Array<FileRow> | string =>
    decodeLines(text, (line, n) => {
      const value = parseJson(line)
      if (typeof value !== "object" || value === null || !("raw" in value))
        return `line ${n}: not a journal line`
      const exportedAt =
        "exported_at" in value && typeof value.exported_at === "string" ? value.exported_at : undefined
      const row = makeRow(value.raw, JSON.stringify(value.raw), exportedAt)
      return typeof row === "string" ? `line ${n}: ${row}` : row
    })
} as const

/** The format of a name. */
export const formats: Record<FileFormatName, FileFormat> = { ndjson, csv, parquet }
