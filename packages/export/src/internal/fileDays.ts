/**
 * The days of a file sink: one directory `DIR/date=YYYY-MM-DD/` per UTC start day, holding the
 * format's day file (and, for a Parquet sink with `deferParquet`, the journal of the rows not yet
 * in it). A few days are kept in memory, parsed and indexed by id, so a batch upserts into them
 * without reading the disk; a changed day is written back whole, or appended to when its new rows
 * all sort after the old ones (text formats), or journaled (deferred Parquet).
 *
 * The journal of a day is never larger than its Parquet file: a batch whose rows would make it so
 * rebuilds the Parquet file instead (and removes the journal), so a day is rebuilt O(log n) times
 * while it grows, and the sink's own files never outweigh the data.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { BatchResult, Finished } from "../Sink.js"
import { appendAtomic, type FileStat, fsyncDir, orMissing, writeAtomic } from "./atomicFile.js"
import { type FileFormat, journal } from "./fileFormat.js"
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
  /** Whether `date=DAY/<file>` exists on disk. */
  exists: boolean
  /** The size of the day file (the bound of the journal). */
  fileBytes: number
  /** The size of the journal on disk, 0 when there is none. */
  journalBytes: number
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

const sameVersion = (a: FileStat | undefined, b: FileStat | undefined) =>
  a === undefined
    ? b === undefined
    : b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

/** The files of one day as read at one moment: the day file's rows with the journal's applied. */
export interface DayFiles {
  /** By id, the journal's rows over the file's. */
  readonly rows: Map<string, FileRow>
  readonly fileBytes: number | undefined
  readonly journalBytes: number | undefined
}

/**
 * Reads the files of the day directory `ddir`. Safe beside a writer (a reader without the lock):
 * every file is replaced by a rename, and the journal is read before the day file and checked
 * unchanged after it, so a journal folded into the day file meanwhile is read again. Fails with
 * the file and what is wrong with it when a file is not valid.
 */
export const readDayFiles = async (ddir: string, format: FileFormat): Promise<DayFiles | string> => {
  const dataFile = path.join(ddir, format.file)
  const journalFile = path.join(ddir, journal.file)
  for (let attempt = 0; ; attempt++) {
    const before = format.journaled ? await orMissing(fs.stat(journalFile)) : undefined
    const journalText = before === undefined ? undefined : await orMissing(fs.readFile(journalFile, "utf8"))
    const data = await orMissing(fs.readFile(dataFile))
    const after = format.journaled ? await orMissing(fs.stat(journalFile)) : undefined
    if (!sameVersion(before, after) && attempt < 20) continue
    const rows = new Map<string, FileRow>()
    if (data !== undefined) {
      const decoded = await format.decode(data)
      if (typeof decoded === "string") return `${dataFile}: ${decoded}`
      for (const row of decoded) rows.set(row.id, row)
    }
    if (journalText !== undefined) {
      const decoded = journal.decode(journalText)
      if (typeof decoded === "string") return `${journalFile}: ${decoded}`
      for (const row of decoded) {
        const existing = rows.get(row.id)
        if (existing === undefined) rows.set(row.id, row)
        else assignRow(existing, row)
      }
    }
    return {
      rows,
      fileBytes: data?.length,
      journalBytes: journalText === undefined ? undefined : Buffer.byteLength(journalText)
    }
  }
}

/** Reads a day's files (an empty day when there are none). */
export const readDay = (store: Store, day: string) =>
  Effect.gen(function* () {
    const files = yield* io(store, "read day", () => readDayFiles(dayDir(store.dir, day), store.format))
    if (typeof files === "string") return yield* SinkErrors.make("Corrupt", store.name, "read day", files)
    const loaded: Day = {
      day,
      rows: files.rows,
      order: [],
      sorted: false,
      exists: files.fileBytes !== undefined,
      fileBytes: files.fileBytes ?? 0,
      journalBytes: files.journalBytes ?? 0
    }
    sortDay(loaded)
    return loaded
  })

/**
 * The entry `key` of an LRU `cache` (a `Map` in use order: it becomes the most recently used),
 * or `load`ed into it.
 */
export const cachedOr = <K, V, E>(cache: Map<K, V>, key: K, load: Effect.Effect<V, E>): Effect.Effect<V, E> =>
  Effect.suspend(() => {
    const cached = cache.get(key)
    if (cached !== undefined) {
      cache.delete(key)
      cache.set(key, cached)
      return Effect.succeed(cached)
    }
    return Effect.tap(load, (loaded) => {
      cache.set(key, loaded)
    })
  })

/** A day from memory (now the most recently used) or from its files. */
const getDay = (store: Store, day: string) => cachedOr(store.cache, day, readDay(store, day))

/** Creates the day's directory when the day is new. */
const ensureDir = async (store: Store, day: Day) => {
  if (day.exists) return
  await fs.mkdir(dayDir(store.dir, day.day), { recursive: true })
  await fsyncDir(store.dir)
}

/**
 * Writes the whole day file from memory and makes it durable; then removes the journal, whose
 * rows it now holds. Returns the entry of the day in the manifest.
 */
export const writeWhole = (store: Store, day: Day) =>
  io(store, "write day", async (): Promise<Manifest.DayEntry> => {
    const ddir = dayDir(store.dir, day.day)
    await ensureDir(store, day)
    const data = store.format.encode(sortDay(day))
    await writeAtomic(ddir, store.format.file, data)
    await fsyncDir(ddir)
    day.exists = true
    day.fileBytes = typeof data === "string" ? Buffer.byteLength(data) : data.length
    if (day.journalBytes > 0) {
      await orMissing(fs.unlink(path.join(ddir, journal.file)))
      await fsyncDir(ddir)
      day.journalBytes = 0
    }
    return { rows: day.rows.size, source: await stat(path.join(ddir, store.format.file)) }
  })

/** Appends lines to the file `name` of the day (created when missing), durably and atomically. */
const appendLines = (store: Store, day: Day, name: string, exists: boolean, text: string) =>
  io(store, "write day", async () => {
    const ddir = dayDir(store.dir, day.day)
    if (exists) await appendAtomic(ddir, name, text)
    else await writeAtomic(ddir, name, text)
    await fsyncDir(ddir)
  })

/**
 * Writes a changed day. `appended`: the new rows when they all sort after the old ones (a text
 * file is then appended to); `changed`: every row the batch inserted or updated (a deferred
 * Parquet day journals them while the journal stays within the Parquet file's size).
 */
const writeDay = (
  store: Store,
  day: Day,
  appended: ReadonlyArray<FileRow> | undefined,
  changed: ReadonlyArray<FileRow>,
  defer: boolean
) =>
  Effect.gen(function* () {
    const { format } = store
    const entry = (): Effect.Effect<Manifest.DayEntry, SinkErrors.SinkError> =>
      io(store, "write day", async () => ({
        rows: day.rows.size,
        source: await stat(path.join(dayDir(store.dir, day.day), format.file))
      }))
    if (format.line !== undefined && appended !== undefined && day.exists) {
      yield* appendLines(store, day, format.file, true, appended.map(format.line).join(""))
      return yield* entry()
    }
    if (format.journaled && defer && day.exists) {
      const text = changed.map(journal.line).join("")
      const bytes = Buffer.byteLength(text)
      if (day.journalBytes + bytes <= day.fileBytes) {
        yield* appendLines(store, day, journal.file, day.journalBytes > 0, text)
        day.journalBytes += bytes
        return yield* entry()
      }
    }
    return yield* writeWhole(store, day)
  })

/** Folds the journal of a day still in memory into its Parquet file (deferred rebuild). */
export const flushJournal = (store: Store, day: Day) =>
  Effect.gen(function* () {
    if (day.journalBytes === 0) return
    store.manifest.days.set(day.day, yield* writeWhole(store, day))
  })

/**
 * Drops the least recently used days beyond `maxOpenDays` (a journal is folded into its Parquet
 * file first). Called after each day of a batch, so a batch over many days keeps memory bounded
 * too: every day but the one being written is already durable.
 */
const trimCache = (store: Store, maxOpenDays: number) =>
  Effect.gen(function* () {
    while (store.cache.size > maxOpenDays) {
      const oldest = store.cache.values().next().value
      if (oldest === undefined) return
      yield* flushJournal(store, oldest)
      store.cache.delete(oldest.day)
    }
  })

/** Counts of a batch, updated in place by {@link upsertDay}. */
export type Counts = { -readonly [K in Exclude<keyof BatchResult, "finished">]: BatchResult[K] } & {
  readonly finished: Array<Finished>
}

/**
 * Upserts `incoming` (rows of one day, by id) into that day, writes the day when it changed and
 * records its entry in the manifest. `options.changed` is told of each inserted or updated row,
 * with the status stored before (`undefined` for a new row).
 */
export const upsertDay = (
  store: Store,
  dayName: string,
  incoming: ReadonlyMap<string, FileRow>,
  counts: Counts,
  options: {
    readonly maxOpenDays: number
    readonly deferDerived: boolean
    readonly changed?: ((row: FileRow, before: unknown) => void) | undefined
  }
) =>
  Effect.gen(function* () {
    const day = yield* getDay(store, dayName)
    const before = lastRow(day)
    let changed = false
    let appendOnly = day.exists
    const inserted: Array<FileRow> = []
    const changedRows: Array<FileRow> = []
    for (const row of incoming.values()) {
      const existing = day.rows.get(row.id)
      if (existing === undefined) {
        inserted.push(row)
        changedRows.push(row)
        day.rows.set(row.id, row)
        counts.inserted++
        const reached = transition(undefined, row.values)
        if (reached !== undefined) counts.finished.push(reached)
        options.changed?.(row, undefined)
        changed = true
      } else if (existing.rawText === row.rawText) {
        counts.unchanged++
      } else {
        const storedStatus = statusOf(existing.values)
        const reached = transition(storedStatus, row.values)
        if (reached !== undefined) counts.finished.push(reached)
        options.changed?.(row, storedStatus)
        if (existing.startedMs !== row.startedMs) day.sorted = false
        assignRow(existing, row)
        changedRows.push(existing)
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
      const entry = yield* writeDay(
        store,
        day,
        appendOnly ? inserted : undefined,
        changedRows,
        options.deferDerived
      )
      store.manifest.days.set(dayName, entry)
    }
    yield* trimCache(store, options.maxOpenDays)
  })
