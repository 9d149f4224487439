/**
 * Parquet encoding of a day's rows, through `hyparquet-writer`.
 *
 * @internal
 */
import { parquetWriteBuffer } from "hyparquet-writer"
import type { FileRow } from "./fileRow.js"

const int64 = (n: number | undefined): bigint | null =>
  n === undefined || !Number.isFinite(n) ? null : BigInt(Math.round(n))

const timestamp = (iso: string | undefined): Date | null => {
  if (iso === undefined) return null
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? null : new Date(ms)
}

/** Encodes rows (already in file order) as one Parquet file. Throws on a writer bug: wrap it. */
export const encodeParquet = (rows: ReadonlyArray<FileRow>): Uint8Array => {
  const n = rows.length
  const id = new Array<string>(n)
  const userId = new Array<string | null>(n)
  const workflowId = new Array<string | null>(n)
  const status = new Array<string>(n)
  const taskCount = new Array<bigint | null>(n)
  const runDuration = new Array<bigint | null>(n)
  const dateStarted = new Array<Date>(n)
  const dateEnded = new Array<Date | null>(n)
  const exportedAt = new Array<Date | null>(n)
  const raw = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    const row = rows[i]!
    id[i] = row.id
    userId[i] = row.userId ?? null
    workflowId[i] = row.workflowId ?? null
    status[i] = row.status
    taskCount[i] = int64(row.taskCount)
    runDuration[i] = int64(row.runDuration)
    dateStarted[i] = new Date(row.startedMs)
    dateEnded[i] = timestamp(row.dateEnded)
    exportedAt[i] = timestamp(row.exportedAt)
    raw[i] = row.rawText
  }
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "id", data: id, type: "STRING", nullable: false },
      { name: "user_id", data: userId, type: "STRING" },
      { name: "workflow_id", data: workflowId, type: "STRING" },
      { name: "status", data: status, type: "STRING", nullable: false },
      { name: "task_count", data: taskCount, type: "INT64" },
      { name: "run_duration_ms", data: runDuration, type: "INT64" },
      { name: "date_started", data: dateStarted, type: "TIMESTAMP", nullable: false },
      { name: "date_ended", data: dateEnded, type: "TIMESTAMP" },
      { name: "exported_at", data: exportedAt, type: "TIMESTAMP" },
      { name: "raw", data: raw, type: "STRING", nullable: false }
    ],
    rowGroupSize: 100_000,
    createdBy: "@taskhistory/export",
    kvMetadata: [{ key: "taskhistory.layout", value: "1" }]
  })
  return new Uint8Array(buffer)
}
