/**
 * Parquet encoding of a day's rows, through `hyparquet-writer`, and decoding through `hyparquet`:
 * one column per entry of `Columns.ts`, then `exported_at` and `raw`. The schema is written out
 * with logical types, so readers agree on what the values are:
 *
 * - text: `BYTE_ARRAY` with `STRING` (converted type `UTF8`);
 * - numbers: plain `INT64` (DuckDB `BIGINT`, pyarrow `int64`, BigQuery `INTEGER`);
 * - instants: `INT64` with `TIMESTAMP(isAdjustedToUTC = true, MILLIS)` (converted type
 *   `TIMESTAMP_MILLIS` for older readers): DuckDB reads `TIMESTAMP WITH TIME ZONE`, pyarrow
 *   `timestamp[ms, tz=UTC]`, BigQuery `TIMESTAMP`, the same instant in any session time zone.
 *
 * A value the record does not have is a Parquet null (definition level 0), never `0` or `""`
 * (the required text columns `id`, `status` and `raw` always have one).
 *
 * The file holds everything the sink needs to read a day back: `raw` (the record's JSON text as
 * received) and `exported_at`.
 *
 * @internal
 */
import { parquetReadObjects, type SchemaElement } from "hyparquet"
import { type ColumnSource, parquetWriteBuffer } from "hyparquet-writer"
import * as Columns from "../Columns.js"
import { type FileRow, makeRow } from "./fileRow.js"

const int64 = (n: Columns.Value | undefined): bigint | null =>
  typeof n !== "number" || !Number.isFinite(n) ? null : BigInt(Math.round(n))

const timestamp = (iso: Columns.Value | undefined): Date | null => {
  if (typeof iso !== "string") return null
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? null : new Date(ms)
}

const text = (value: Columns.Value | undefined): string | null => (typeof value === "string" ? value : null)

const encoders = { text, number: int64, timestamp } as const

/** The schema element of a column of `kind`. */
export const element = (name: string, kind: Columns.Kind, required: boolean): SchemaElement => {
  const repetition_type = required ? "REQUIRED" : "OPTIONAL"
  switch (kind) {
    case "text":
      return {
        name,
        type: "BYTE_ARRAY",
        converted_type: "UTF8",
        logical_type: { type: "STRING" },
        repetition_type
      }
    case "number":
      return { name, type: "INT64", repetition_type }
    case "timestamp":
      return {
        name,
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
        repetition_type
      }
  }
}

/** The file's schema: the root, the typed columns, `exported_at`, `raw`. */
export const schema: ReadonlyArray<SchemaElement> = [
  { name: "root", num_children: Columns.columns.length + 2 },
  ...Columns.columns.map((c) => element(c.name, c.kind, c.required)),
  element("exported_at", "timestamp", false),
  element("raw", "text", true)
]

/** Encodes rows (already in file order) as one Parquet file. Throws on a writer bug: wrap it. */
export const encodeParquet = (rows: ReadonlyArray<FileRow>): Uint8Array => {
  const n = rows.length
  const columnData: Array<ColumnSource> = Columns.columns.map((column, k) => {
    const encode = encoders[column.kind]
    // A required text column is never null in Parquet (a record without one is refused upstream).
    const missing = column.required && column.kind === "text" ? "" : null
    const data = new Array<string | bigint | Date | null>(n)
    for (let i = 0; i < n; i++) data[i] = encode(rows[i]!.values[k]) ?? missing
    return { name: column.name, data }
  })
  const exportedAt = new Array<Date | null>(n)
  const raw = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    exportedAt[i] = timestamp(rows[i]!.exportedAt)
    raw[i] = rows[i]!.rawText
  }
  columnData.push({ name: "exported_at", data: exportedAt }, { name: "raw", data: raw })
  const buffer = parquetWriteBuffer({
    columnData,
    schema: [...schema],
    rowGroupSize: 100_000,
    createdBy: "@taskhistory/export",
    kvMetadata: [{ key: "taskhistory.layout", value: "2" }]
  })
  return new Uint8Array(buffer)
}

/**
 * Reads the rows of a Parquet day file back (`raw` and `exported_at`, in file order). An error
 * string when it is not a Parquet file of this sink.
 */
export const decodeParquet = async (data: Uint8Array): Promise<Array<FileRow> | string> => {
  let objects: Array<Record<string, unknown>>
  try {
    const file = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer
    objects = await parquetReadObjects({ file, columns: ["raw", "exported_at"] })
  } catch (error) {
    return `not a readable Parquet file (${error instanceof Error ? error.message : String(error)})`
  }
  const rows = new Array<FileRow>(objects.length)
  for (let i = 0; i < objects.length; i++) {
    const { raw, exported_at } = objects[i]!
    if (typeof raw !== "string") return `row ${i + 1}: no raw record`
    let record: unknown
    try {
      record = JSON.parse(raw)
    } catch {
      return `row ${i + 1}: raw is not JSON`
    }
    const exportedAt = exported_at instanceof Date ? exported_at.toISOString() : undefined
    const row = makeRow(record, raw, exportedAt)
    if (typeof row === "string") return `row ${i + 1}: ${row}`
    rows[i] = row
  }
  return rows
}

/** A column of a table written by {@link encodeTable}. */
export interface TableColumn {
  readonly name: string
  readonly kind: Columns.Kind
  readonly required: boolean
}

/**
 * Encodes rows of values (in the order of `columns`) as one Parquet file with the same logical
 * types as the day files (used by the step partitions). Throws on a writer bug: wrap it.
 */
export const encodeTable = (
  columns: ReadonlyArray<TableColumn>,
  rows: ReadonlyArray<ReadonlyArray<Columns.Value>>
): Uint8Array => {
  const n = rows.length
  const columnData: Array<ColumnSource> = columns.map((column, k) => {
    const encode = encoders[column.kind]
    const missing = column.required && column.kind === "text" ? "" : null
    const data = new Array<string | bigint | Date | null>(n)
    for (let i = 0; i < n; i++) data[i] = encode(rows[i]![k]) ?? missing
    return { name: column.name, data }
  })
  const buffer = parquetWriteBuffer({
    columnData,
    schema: [
      { name: "root", num_children: columns.length },
      ...columns.map((c) => element(c.name, c.kind, c.required))
    ],
    rowGroupSize: 100_000,
    createdBy: "@taskhistory/export"
  })
  return new Uint8Array(buffer)
}

/**
 * Reads the rows of a file written by {@link encodeTable} as values in the order of `columns`
 * (instants as ISO text, absent values `null`). An error string when it is not such a file.
 */
export const decodeTable = async (
  columns: ReadonlyArray<TableColumn>,
  data: Uint8Array
): Promise<Array<Array<Columns.Value>> | string> => {
  let objects: Array<Record<string, unknown>>
  try {
    const file = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer
    objects = await parquetReadObjects({ file, columns: columns.map((c) => c.name) })
  } catch (error) {
    return `not a readable Parquet file (${error instanceof Error ? error.message : String(error)})`
  }
  return objects.map((o) =>
    columns.map((c) => {
      const value = o[c.name]
      if (value instanceof Date) return value.toISOString()
      if (typeof value === "bigint") return Number(value)
      return typeof value === "string" || typeof value === "number" ? value : null
    })
  )
}
