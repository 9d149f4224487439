// The export engine's scenarios (simulator, churn, late arrivals, faults, 429s, malformed records,
// interrupted runs) with the file sinks as the destination.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { parquetReadObjects } from "hyparquet"
import * as Csv from "../src/Csv.js"
import * as FileSink from "../src/FileSink.js"
import * as Scenario from "./scenarios.js"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "taskhistory-filesink-exporter-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

/** The records of a sink directory by id, read from the files a user would read. */
const rowsOf = (format: FileSink.FileSinkFormat, dir: string) =>
  Effect.promise(async () => {
    const rows = new Map<string, Record<string, unknown>>()
    const add = (raw: Record<string, unknown>) => {
      const id = String(raw.id)
      if (rows.has(id)) throw new Error(`${id} is in two files`)
      rows.set(id, raw)
    }
    if (!fs.existsSync(dir)) return rows
    for (const day of fs.readdirSync(dir).filter((name) => name.startsWith("date="))) {
      const base = path.join(dir, day)
      if (format === "csv") {
        const table = Csv.parse(fs.readFileSync(path.join(base, "part.csv"), "utf8"))
        if (typeof table === "string") throw new Error(table)
        for (const row of table.slice(1)) add(JSON.parse(row[9] ?? "null"))
      } else if (format === "parquet") {
        const bytes = fs.readFileSync(path.join(base, "part.parquet"))
        const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
        for (const row of await parquetReadObjects({ file, columns: ["raw"] }))
          add(JSON.parse(String(row.raw)))
      } else {
        for (const line of fs.readFileSync(path.join(base, "part.ndjson"), "utf8").split("\n")) {
          if (line.length > 0) add(JSON.parse(line))
        }
      }
    }
    return rows
  })

let n = 0
const fixture = (format: FileSink.FileSinkFormat): Scenario.SinkFixture => ({
  fresh: () => {
    const dir = path.join(root, `${format}-${++n}`)
    return { layer: () => FileSink.layer(format, { dir }), rows: rowsOf(format, dir) }
  }
})

// The scenarios that stress the sink the most (day rewrites, upserts, resume), with NDJSON; churn
// with CSV and Parquet too (the engine's side is the same for all three formats, the formats differ
// in how days are read and rewritten, which the unit tests of FileSink cover one by one).
describe("Exporter into FileSink (simulator)", () => {
  const ndjson = fixture("ndjson")
  it.live("ndjson: backfills, then reads only the look-back range", () =>
    Scenario.backfillThenIncremental(ndjson)
  )
  it.live("ndjson: catches late arrivals within the look-back", () => Scenario.lateArrivals(ndjson))
  it.live("ndjson: quarantines or fails on malformed records", () => Scenario.malformed(ndjson))
  it.live("ndjson: resumes an interrupted run with the same rows", () => Scenario.interruptAndResume(ndjson))
  for (const format of ["ndjson", "csv", "parquet"] as const) {
    const sink = fixture(format)
    it.live(`${format}: is exact under inserts and expiry on every request`, () => Scenario.churn(sink))
  }
})
