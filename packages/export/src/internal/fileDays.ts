/**
 * The days of a file sink: one directory `DIR/date=YYYY-MM-DD/` per UTC start day, holding the
 * format's source file (and for Parquet the file derived from it). A few days are kept in memory,
 * parsed and indexed by id, so a batch upserts into them without reading the disk; a changed day
 * is written back whole, or appended to when its new rows all sort after the old ones.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { BatchResult, Finished } from "../Sink.js"
import { appendAtomic, type FileStat, fsyncDir, orMissing, writeAtomic } from "./atomicFile.js"
import type { FileFormat } from "./fileFormat.js"
import type * as Manifest from "./fileManifest.js"
import { assignRow, compareRows, type FileRow } from "./fileRow.js"
import { statusOf, transition } from "./finished.js"
import * as SinkErrors from "./sinkErrors.js"

/** One day in memory. */
export interface Day {
  readonly day: string
  readonly rows: Map<string, FileRow>
  order: Array<FileRow>
  sorted: boolean
  /** Whether `date=DAY/<source>` exists on disk. */
  exists: boolean
  /** The derived file lags the source file (deferred rebuild). */
  derivedStale: boolean
}

/** What a file sink holds while it is open. */
export interface Store {
  /** The directory, resolved. */
  readonly dir: string
  /** The sink's name, for errors. */
  readonly name: string
  readonly format: FileFormat
  /** The manifest as it is (or will be, once the batch under way is durable) on disk. */
  manifest: Manifest.Manifest
  /** The days in memory, least recently used first. */
  readonly cache: Map<string, Day>
  /** The keys of the stored rejects (a reject is stored once). */
  readonly rejectKeys: Set<string>
}

export const DAY_DIR = /^date=(\d{4}-\d{2}-\d{2})$/

export const dayDir = (dir: string, day: string) => path.join(dir, `date=${day}`)

/** Runs a file operation of the sink; a failure is an `Io` error of `operation`. */
export const io = <A>(store: Store, operation: SinkErrors.Operation, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: SinkErrors.fromCause("Io", store.name, operation) })

const stat = (file: string): Promise<FileStat> =>
  fs.stat(file).then((s) => ({ ino: s.ino, size: s.size, mtimeMs: s.mtimeMs }))

const lastRow = (day: Day): FileRow | undefined => (day.sorted ? day.order[day.order.length - 1] : undefined)

const sortDay = (day: Day): ReadonlyArray<FileRow> => {
  if (!day.sorted) {
    day.order = Array.from(day.rows.values()).sort(compareRows)
    day.sorted = true
  }
  return day.order
}

/** Reads a day's source file (an empty day when there is none). */
export const readDay = (store: Store, day: string) =>
  Effect.gen(function* () {
    const file = path.join(dayDir(store.dir, day), store.format.sourceFile)
    const text = yield* io(store, "read day", () => orMissing(fs.readFile(file, "utf8")))
    const loaded: Day = {
      day,
      rows: new Map(),
      order: [],
      sorted: true,
      exists: text !== undefined,
      derivedStale: store.manifest.days.get(day)?.stale === true
    }
    if (text === undefined) return loaded
    const rows = store.format.decode(text)
    if (typeof rows === "string")
      return yield* SinkErrors.make("Corrupt", store.name, "read day", `${file}: ${rows}`)
    for (const row of rows) loaded.rows.set(row.id, row)
    loaded.sorted = false
    sortDay(loaded)
    return loaded
  })

/** A day from memory (now the most recently used) or from its file. */
const getDay = (store: Store, day: string) =>
  Effect.gen(function* () {
    const cached = store.cache.get(day)
    if (cached !== undefined) {
      store.cache.delete(day)
      store.cache.set(day, cached)
      return cached
    }
    const loaded = yield* readDay(store, day)
    store.cache.set(day, loaded)
    return loaded
  })

/** Makes the day's source file durable; `appended` (rows sorting after all others) allows a copy+append. */
const writeSource = (store: Store, day: Day, appended: ReadonlyArray<FileRow> | undefined) =>
  io(store, "write day", async () => {
    const { dir, format } = store
    const ddir = dayDir(dir, day.day)
    if (!day.exists) {
      await fs.mkdir(ddir, { recursive: true })
      await fsyncDir(dir)
    }
    if (appended !== undefined && day.exists) {
      await appendAtomic(ddir, format.sourceFile, appended.map(format.encode).join(""))
    } else {
      await writeAtomic(ddir, format.sourceFile, format.header + sortDay(day).map(format.encode).join(""))
    }
    await fsyncDir(ddir)
    day.exists = true
    return stat(path.join(ddir, format.sourceFile))
  })

/** Rebuilds the day's derived file (Parquet) from its rows and makes it durable. */
export const writeDerived = (store: Store, day: Day) =>
  io(store, "write day", async () => {
    const derived = store.format.derived
    if (derived === undefined) return undefined
    const ddir = dayDir(store.dir, day.day)
    await writeAtomic(ddir, derived.file, derived.encode(sortDay(day)))
    await fsyncDir(ddir)
    day.derivedStale = false
    return stat(path.join(ddir, derived.file))
  })

/** Writes a changed day: its source file, then its derived file unless that is deferred. */
const writeDay = (store: Store, day: Day, appended: ReadonlyArray<FileRow> | undefined, defer: boolean) =>
  Effect.gen(function* () {
    const source = yield* writeSource(store, day, appended)
    const entry: Manifest.DayEntry = { rows: day.rows.size, source }
    if (store.format.derived === undefined) return entry
    if (defer) {
      day.derivedStale = true
      const previous = store.manifest.days.get(day.day)?.derived
      return previous === undefined
        ? { ...entry, stale: true as const }
        : { ...entry, derived: previous, stale: true as const }
    }
    const derived = yield* writeDerived(store, day)
    return derived === undefined ? entry : { ...entry, derived }
  })

/** Rebuilds the deferred derived file of a day still in memory. */
export const flushDerived = (store: Store, day: Day) =>
  Effect.gen(function* () {
    const entry = store.manifest.days.get(day.day)
    if (!day.derivedStale || entry === undefined) return
    const derived = yield* writeDerived(store, day)
    if (derived !== undefined)
      store.manifest.days.set(day.day, { rows: entry.rows, source: entry.source, derived })
  })

/**
 * Drops the least recently used days beyond `maxOpenDays` (a deferred Parquet file is rebuilt
 * first). Called after each day of a batch, so a batch over many days keeps memory bounded too:
 * every day but the one being written is already durable.
 */
const trimCache = (store: Store, maxOpenDays: number) =>
  Effect.gen(function* () {
    while (store.cache.size > maxOpenDays) {
      const oldest = store.cache.values().next().value
      if (oldest === undefined) return
      yield* flushDerived(store, oldest)
      store.cache.delete(oldest.day)
    }
  })

/** Counts of a batch, updated in place by {@link upsertDay}. */
export type Counts = { -readonly [K in Exclude<keyof BatchResult, "finished">]: BatchResult[K] } & {
  readonly finished: Array<Finished>
}

/**
 * Upserts `incoming` (rows of one day, by id) into that day, writes the day when it changed and
 * records its entry in the manifest.
 */
export const upsertDay = (
  store: Store,
  dayName: string,
  incoming: ReadonlyMap<string, FileRow>,
  counts: Counts,
  options: { readonly maxOpenDays: number; readonly deferDerived: boolean }
) =>
  Effect.gen(function* () {
    const day = yield* getDay(store, dayName)
    const before = lastRow(day)
    let changed = false
    let appendOnly = day.exists
    const inserted: Array<FileRow> = []
    for (const row of incoming.values()) {
      const existing = day.rows.get(row.id)
      if (existing === undefined) {
        inserted.push(row)
        day.rows.set(row.id, row)
        counts.inserted++
        const reached = transition(undefined, row.values)
        if (reached !== undefined) counts.finished.push(reached)
        changed = true
      } else if (existing.rawText === row.rawText) {
        counts.unchanged++
      } else {
        const reached = transition(statusOf(existing.values), row.values)
        if (reached !== undefined) counts.finished.push(reached)
        if (existing.startedMs !== row.startedMs) day.sorted = false
        assignRow(existing, row)
        counts.updated++
        changed = true
        appendOnly = false
      }
    }
    if (changed) {
      inserted.sort(compareRows)
      const first = inserted[0]
      if (first !== undefined) {
        if (before === undefined ? day.order.length > 0 : compareRows(before, first) > 0) {
          day.sorted = false
          appendOnly = false
        }
        if (day.sorted) for (const row of inserted) day.order.push(row)
      }
      const entry = yield* writeDay(store, day, appendOnly ? inserted : undefined, options.deferDerived)
      store.manifest.days.set(dayName, entry)
    }
    yield* trimCache(store, options.maxOpenDays)
  })
