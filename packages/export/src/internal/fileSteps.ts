/**
 * The step executions of a file sink (`--steps`): a partition set beside the executions,
 *
 * ```text
 * DIR/step_executions/date=YYYY-MM-DD/part.ndjson|part.csv|part.parquet
 * ```
 *
 * one file per UTC start day of the executions (the steps of an execution sit in its day), with
 * the columns of the SQL table `step_executions` (`stepRecords.stepColumns`), each step once
 * (upsert by id). The backlog and the days' versions are in `_state.json` (`fileManifest.ts`): a
 * day file is replaced whole and atomically before the manifest that names it, so a crash leaves
 * either version and the rows re-sent after it are the same rows.
 *
 * - NDJSON: one JSON object per line, the columns by name (`raw` and `output_raw` as JSON text);
 * - CSV: a header row, then one RFC 4180 row per step (instants normalised to UTC);
 * - Parquet: typed columns (`STRING`, instants as `TIMESTAMP(isAdjustedToUTC, MILLIS)`).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import * as Csv from "../Csv.js"
import type { StepRow } from "../Sink.js"
import {
  fsyncDir,
  orMissing,
  removeEmptyDir,
  removeTemps,
  sameStat,
  statOf,
  writeAtomic
} from "./atomicFile.js"
import { cachedOr } from "./fileDays.js"
import type { FileFormatName } from "./fileFormat.js"
import * as Manifest from "./fileManifest.js"
import { decodeTable, encodeTable } from "./fileParquet.js"
import * as SinkErrors from "./sinkErrors.js"
import {
  type ExportedStep,
  sameStep,
  stepColumnNames,
  stepColumns,
  stepOfValues,
  stepValues
} from "./stepRecords.js"

/** The directory of the step partitions, inside the sink's. */
export const STEPS_DIR = "step_executions"

const DAY_DIR = /^date=(\d{4}-\d{2}-\d{2})$/

/** How one format lays out a day of steps. */
export interface StepFormat {
  readonly file: string
  /** The whole file of a day. Throws on an encoder bug: wrap it. */
  readonly encode: (steps: ReadonlyArray<ExportedStep>) => string | Uint8Array
  /** Parses a whole day file; an error string when it is not valid. */
  readonly decode: (data: Uint8Array) => Promise<Array<ExportedStep> | string>
}

const utf8 = new TextDecoder("utf-8", { fatal: false })

const valuesOf = (step: ExportedStep) => stepValues(step.row, step.exportedAt)

const collect = (
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  where: (i: number) => string
): Array<ExportedStep> | string => {
  const out: Array<ExportedStep> = []
  for (let i = 0; i < rows.length; i++) {
    const step = stepOfValues(rows[i]!)
    if (typeof step === "string") return `${where(i)}: ${step}`
    out.push(step)
  }
  return out
}

const ndjsonLine = (step: ExportedStep): string => {
  const values = valuesOf(step)
  return JSON.stringify(Object.fromEntries(stepColumnNames.map((name, k) => [name, values[k]]))) + "\n"
}

const decodeNdjson = (text: string): Array<ExportedStep> | string => {
  const rows: Array<ReadonlyArray<unknown>> = []
  const lines = text.split("\n")
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    if (line.length === 0) continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return `line ${n + 1}: not JSON`
    }
    if (typeof value !== "object" || value === null) return `line ${n + 1}: not a JSON object`
    const record = value as Readonly<Record<string, unknown>>
    rows.push(stepColumnNames.map((name) => record[name]))
  }
  return collect(rows, (i) => `row ${i + 1}`)
}

const timestamps = stepColumns.map((c) => c.kind === "timestamp")

const utc = (value: string | null): string | null => {
  if (value === null) return null
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? null : new Date(ms).toISOString()
}

const csvHeader = Csv.formatLine(stepColumnNames)

const decodeCsv = (text: string): Array<ExportedStep> | string => {
  const table = Csv.parse(text)
  if (typeof table === "string") return table
  const [header, ...body] = table
  if (header === undefined) return []
  if (header.join(",") !== stepColumnNames.join(","))
    return `unexpected header ${JSON.stringify(header.join(","))}`
  const bad = body.findIndex((fields) => fields.length !== stepColumnNames.length)
  if (bad !== -1) return `row ${bad + 2}: expected ${stepColumnNames.length} fields`
  return collect(body, (i) => `row ${i + 2}`)
}

/** The step formats, by the sink's format. */
export const stepFormats: Record<FileFormatName, StepFormat> = {
  ndjson: {
    file: "part.ndjson",
    encode: (steps) => steps.map(ndjsonLine).join(""),
    decode: async (data) => decodeNdjson(utf8.decode(data))
  },
  csv: {
    file: "part.csv",
    encode: (steps) =>
      csvHeader +
      steps.map((s) => Csv.formatLine(valuesOf(s).map((v, k) => (timestamps[k] ? utc(v) : v)))).join(""),
    decode: async (data) => decodeCsv(utf8.decode(data))
  },
  parquet: {
    file: "part.parquet",
    encode: (steps) => encodeTable(stepColumns, steps.map(valuesOf)),
    decode: async (data) => {
      const rows = await decodeTable(stepColumns, data)
      return typeof rows === "string" ? rows : collect(rows, (i) => `row ${i + 1}`)
    }
  }
}

/** The step partitions of one open sink. */
export interface StepTable {
  /** `DIR/step_executions`, resolved. */
  readonly dir: string
  /** The sink's name, for errors. */
  readonly name: string
  readonly format: StepFormat
  /** Days in memory (by id), least recently used first. */
  readonly cache: Map<string, Map<string, ExportedStep>>
}

const io = <A>(table: StepTable, operation: SinkErrors.Operation, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: SinkErrors.fromCause("Io", table.name, operation) })

const dayDir = (table: StepTable, day: string) => path.join(table.dir, `date=${day}`)

/** File order: by execution, then start, then id. */
const compareSteps = (a: ExportedStep, b: ExportedStep): number => {
  const x = a.row
  const y = b.row
  if (x.executionId !== y.executionId) return x.executionId < y.executionId ? -1 : 1
  const d = Date.parse(x.dateStarted ?? "") - Date.parse(y.dateStarted ?? "")
  if (d < 0 || d > 0) return d
  return x.id < y.id ? -1 : x.id > y.id ? 1 : 0
}

/** Reads one day file (`undefined` when there is none). */
export const readStepFile = async (
  file: string,
  format: StepFormat
): Promise<Array<ExportedStep> | undefined | string> => {
  const data = await orMissing(fs.readFile(file))
  if (data === undefined) return undefined
  const decoded = await format.decode(data)
  return typeof decoded === "string" ? `${file}: ${decoded}` : decoded
}

/** The steps of a day, by id (an empty day when it has no file). */
export const readStepDay = (table: StepTable, day: string) =>
  Effect.gen(function* () {
    const steps = yield* io(table, "read steps", () =>
      readStepFile(path.join(dayDir(table, day), table.format.file), table.format)
    )
    if (typeof steps === "string") return yield* SinkErrors.make("Corrupt", table.name, "read steps", steps)
    return new Map((steps ?? []).map((s) => [s.row.id, s] as const))
  })

const getDay = (table: StepTable, day: string) => cachedOr(table.cache, day, readStepDay(table, day))

const writeDay = (table: StepTable, day: string, steps: ReadonlyMap<string, ExportedStep>) =>
  io(table, "write steps", async (): Promise<Manifest.DayEntry> => {
    const ddir = dayDir(table, day)
    if ((await statOf(ddir)) === undefined) {
      await fs.mkdir(ddir, { recursive: true })
      await fsyncDir(table.dir)
      await fsyncDir(path.dirname(table.dir))
    }
    await writeAtomic(ddir, table.format.file, table.format.encode([...steps.values()].sort(compareSteps)))
    await fsyncDir(ddir)
    return { rows: steps.size, source: (await statOf(path.join(ddir, table.format.file)))! }
  })

/**
 * Upserts the rows of `byDay` (the steps of executions that started that day) into their day
 * files, each rewritten whole when it changed, and records the days' versions in `steps`.
 * Returns how many rows were new or changed.
 */
export const upsertSteps = (
  table: StepTable,
  steps: Manifest.Steps,
  byDay: ReadonlyMap<string, ReadonlyArray<StepRow>>,
  exportedAt: string,
  maxOpenDays: number
) =>
  Effect.gen(function* () {
    let written = 0
    for (const day of [...byDay.keys()].sort()) {
      const stored = yield* getDay(table, day)
      let changed = false
      for (const row of byDay.get(day)!) {
        const existing = stored.get(row.id)
        if (existing !== undefined && sameStep(existing.row, row)) continue
        stored.set(row.id, { row, exportedAt })
        changed = true
        written++
      }
      if (changed) steps.days.set(day, yield* writeDay(table, day, stored))
      while (table.cache.size > maxOpenDays) {
        const oldest = table.cache.keys().next().value
        if (oldest === undefined) break
        table.cache.delete(oldest)
      }
    }
    return written
  })

/**
 * After a crash (on open, or after a failed batch): removes temp files, recounts each day whose
 * file is not the version the manifest names (written by a batch whose manifest was lost: its
 * rows are kept, the backlog still holds their executions), forgets days that are gone. Returns
 * whether `manifest` changed.
 */
export const recoverSteps = (table: StepTable, manifest: Manifest.Manifest) =>
  Effect.gen(function* () {
    table.cache.clear()
    const entries = yield* io(table, "recover", async () => {
      await removeTemps(table.dir)
      return (await orMissing(fs.readdir(table.dir, { withFileTypes: true }))) ?? []
    })
    const known = manifest.steps?.days
    let changed = false
    const onDisk = new Set<string>()
    for (const dirent of entries) {
      const day = dirent.isDirectory() ? DAY_DIR.exec(dirent.name)?.[1] : undefined
      if (day === undefined) continue
      const ddir = dayDir(table, day)
      const source = yield* io(table, "recover", async () => {
        await removeTemps(ddir)
        return statOf(path.join(ddir, table.format.file))
      })
      if (source === undefined) {
        yield* io(table, "recover", () => removeEmptyDir(ddir))
        continue
      }
      onDisk.add(day)
      if (sameStat(known?.get(day)?.source, source)) continue
      const rows = (yield* readStepDay(table, day)).size
      Manifest.stepsOf(manifest).days.set(day, { rows, source })
      changed = true
    }
    for (const day of [...(manifest.steps?.days.keys() ?? [])]) {
      if (!onDisk.has(day)) {
        manifest.steps!.days.delete(day)
        changed = true
      }
    }
    return changed
  })

/** Every execution id that has step rows. */
export const executionsWithSteps = (table: StepTable, steps: Manifest.Steps) =>
  Effect.gen(function* () {
    const ids = new Set<string>()
    for (const day of steps.days.keys()) {
      for (const step of (yield* readStepDay(table, day)).values()) ids.add(step.row.executionId)
    }
    return ids
  })
