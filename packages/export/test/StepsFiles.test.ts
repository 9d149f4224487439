/**
 * Step executions in the file sinks (NDJSON, CSV, Parquet): the scenarios every sink meets, with
 * the rows read back from the `step_executions/date=DAY/part.FORMAT` files by a parser of the format (JSON.parse,
 * d3-dsv, hyparquet) rather than by the sink.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, it } from "@effect/vitest"
import { csvParse } from "d3-dsv"
import { Effect } from "effect"
import { parquetReadObjects } from "hyparquet"
import * as FileSink from "../src/FileSink.js"
import { tempDir } from "./helpers.js"
import * as Steps from "./stepScenarios.js"

const tmp = tempDir("taskhistory-file-steps-")
afterAll(tmp.cleanup)
let n = 0

type Format = FileSink.FileSinkFormat

const dayFiles = (dir: string, file: string): Array<string> => {
  const root = join(dir, "step_executions")
  let days: Array<string>
  try {
    days = readdirSync(root).filter((d) => d.startsWith("date="))
  } catch {
    return []
  }
  return days.map((d) => join(root, d, file))
}

const text = (value: unknown): string | null =>
  value === undefined || value === null || value === ""
    ? null
    : value instanceof Date
      ? value.toISOString()
      : String(value)

const stored = (record: Readonly<Record<string, unknown>>): Steps.StoredStep => ({
  id: String(record.id),
  execution_id: String(record.execution_id),
  step_id: text(record.step_id),
  type: text(record.type),
  status: text(record.status),
  date_started: text(record.date_started),
  date_ended: text(record.date_ended),
  error_message: text(record.error_message),
  output_raw: text(record.output_raw),
  raw: String(record.raw)
})

const readers: Record<Format, (file: string) => Promise<Array<Record<string, unknown>>>> = {
  ndjson: async (file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>),
  csv: async (file) => csvParse(readFileSync(file, "utf8")),
  parquet: async (file) => {
    const data = readFileSync(file)
    return parquetReadObjects({
      file: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer
    })
  }
}

const fixture = (format: Format): Steps.StepFixture => ({
  fresh: () => {
    const dir = join(tmp.dir, `${format}-${++n}`)
    return {
      layer: () => FileSink.layer(format, { dir }),
      steps: Effect.promise(async () => {
        const rows: Array<Steps.StoredStep> = []
        for (const file of dayFiles(dir, `part.${format}`)) {
          for (const record of await readers[format](file)) rows.push(stored(record))
        }
        return rows
      })
    }
  }
})

for (const format of ["ndjson", "csv", "parquet"] as const) {
  const sink = fixture(format)
  describe(`step executions (${format}:DIR, simulator)`, () => {
    it.live(
      "--steps failed: exactly the served steps and errors, never read again",
      () => Steps.exactFailed(sink),
      60_000
    )
    it.live("--steps all: a status change is read once", () => Steps.statusChange(sink), 60_000)
    it.live("a backlog carried across runs, oldest first", () => Steps.backlogAcrossRuns(sink), 60_000)
    it.live("an interrupted run resumes to the same rows", () => Steps.interruptAndResume(sink), 60_000)
    it.live("executions exported before --steps are queued once", () => Steps.turnedOnLater(sink), 60_000)
    it.live("a malformed step record is quarantined alone", () => Steps.malformedSteps(sink), 60_000)
    it.live("past the steps deadline the backlog waits for the next runs", () => Steps.deadline(sink), 60_000)
  })
}
