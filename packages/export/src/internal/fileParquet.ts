/**
 * Parquet encoding of a day's rows, through `hyparquet-writer`: one column per entry of
 * `Columns.ts` (text as STRING, numbers as INT64, instants as TIMESTAMP(MILLIS)), then
 * `exported_at` and `raw`.
 *
 * @internal
 */
import { type ColumnSource, parquetWriteBuffer } from "hyparquet-writer"
import * as Columns from "../Columns.js"
import type { FileRow } from "./fileRow.js"

const int64 = (n: Columns.Value | undefined): bigint | null =>
  typeof n !== "number" || !Number.isFinite(n) ? null : BigInt(Math.round(n))

const timestamp = (iso: Columns.Value | undefined): Date | null => {
  if (typeof iso !== "string") return null
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? null : new Date(ms)
}

const text = (value: Columns.Value | undefined): string | null => (typeof value === "string" ? value : null)

const encoders = { text, number: int64, timestamp } as const

const types = { text: "STRING", number: "INT64", timestamp: "TIMESTAMP" } as const

/** Encodes rows (already in file order) as one Parquet file. Throws on a writer bug: wrap it. */
export const encodeParquet = (rows: ReadonlyArray<FileRow>): Uint8Array => {
  const n = rows.length
  const columnData: Array<ColumnSource> = Columns.columns.map((column, k) => {
    const encode = encoders[column.kind]
    // A required text column is never null in Parquet (a record without one is refused upstream).
    const missing = column.required && column.kind === "text" ? "" : null
    const data = new Array<string | bigint | Date | null>(n)
    for (let i = 0; i < n; i++) data[i] = encode(rows[i]!.values[k]) ?? missing
    return column.required
      ? { name: column.name, data, type: types[column.kind], nullable: false }
      : { name: column.name, data, type: types[column.kind] }
  })
  const exportedAt = new Array<Date | null>(n)
  const raw = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    exportedAt[i] = timestamp(rows[i]!.exportedAt)
    raw[i] = rows[i]!.rawText
  }
  columnData.push(
    { name: "exported_at", data: exportedAt, type: "TIMESTAMP" },
    { name: "raw", data: raw, type: "STRING", nullable: false }
  )
  const buffer = parquetWriteBuffer({
    columnData,
    rowGroupSize: 100_000,
    createdBy: "@taskhistory/export",
    kvMetadata: [{ key: "taskhistory.layout", value: "1" }]
  })
  return new Uint8Array(buffer)
}
