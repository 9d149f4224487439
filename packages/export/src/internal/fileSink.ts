/**
 * The file sinks: one directory, one file per start day, atomic rewrites (temp file, fsync,
 * rename, fsync of the directory), a manifest (`_state.json`) that moves forward only after the
 * data it describes is durable, an append-only rejects file, and a single-writer lock.
 *
 * @internal
 */
import { createHash, randomUUID } from "node:crypto"
import { constants as fsConstants } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { decodeExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Effect, Option, Schema } from "effect"
import type { Batch, BatchResult, ExportState, Reject, SinkShape, SinkStatus } from "../Sink.js"
import { SinkError, type SinkErrorReason } from "../Sink.js"
import type { FileFormat, FileFormatName } from "./fileFormat.js"
import { assignRow, compareRows, dayOf, type FileRow, makeRow } from "./fileRow.js"

/** Options shared by the three file sinks. */
export interface FileSinkOptions {
  readonly dir: string
  readonly maxOpenDays?: number | undefined
  readonly deferDerived?: boolean | undefined
  readonly readOnly?: boolean | undefined
}

const STATE_FILE = "_state.json"
const REJECTS_FILE = "_rejects.ndjson"
const LOCK_FILE = "_lock"
const TMP_PREFIX = ".tmp-"
const DAY_DIR = /^date=(\d{4}-\d{2}-\d{2})$/

// ---------------------------------------------------------------------------------------------
// manifest

const FileStat = Schema.Struct({ ino: Schema.Number, size: Schema.Number, mtimeMs: Schema.Number })
type FileStat = typeof FileStat.Type

const StoredState = Schema.Struct({
  streamKey: Schema.String,
  highWaterMark: Schema.optional(Schema.String),
  longestRunMs: Schema.Number,
  lastRunAt: Schema.optional(Schema.String),
  cursor: Schema.optional(Schema.Unknown)
})

const DayEntry = Schema.Struct({
  rows: Schema.Number,
  source: FileStat,
  derived: Schema.optional(FileStat),
  /** The derived file (Parquet) is older than the source file: rebuild it. */
  stale: Schema.optional(Schema.Literal(true))
})
type DayEntry = typeof DayEntry.Type

const ManifestJson = Schema.parseJson(
  Schema.Struct({
    version: Schema.Literal(1),
    format: Schema.Literal("ndjson", "csv", "parquet"),
    states: Schema.Record({ key: Schema.String, value: StoredState }),
    days: Schema.Record({ key: Schema.String, value: DayEntry }),
    rejects: Schema.Struct({ count: Schema.Number, bytes: Schema.Number })
  })
)
const decodeManifest = Schema.decodeUnknownEither(ManifestJson)

interface Manifest {
  readonly states: Map<string, ExportState>
  readonly days: Map<string, DayEntry>
  rejects: { count: number; bytes: number }
}

const encodeManifest = (format: FileFormatName, manifest: Manifest): string =>
  JSON.stringify(
    {
      version: 1,
      format,
      states: Object.fromEntries(manifest.states),
      days: Object.fromEntries([...manifest.days].sort(([a], [b]) => (a < b ? -1 : 1))),
      rejects: manifest.rejects
    },
    null,
    1
  ) + "\n"

// ---------------------------------------------------------------------------------------------
// small fs helpers

const errorCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined

const describeError = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Resolves to `undefined` when the promise fails with ENOENT. */
const orMissing = <A>(promise: Promise<A>): Promise<A | undefined> =>
  promise.catch((e: unknown) => (errorCode(e) === "ENOENT" ? undefined : Promise.reject(e)))

const statOf = (s: { ino: number; size: number; mtimeMs: number }): FileStat => ({
  ino: s.ino,
  size: s.size,
  mtimeMs: s.mtimeMs
})

const sameStat = (a: FileStat | undefined, b: FileStat | undefined): boolean =>
  a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

/** Platforms that cannot open or fsync a directory (Windows) answer with one of these. */
const noDirSync = new Set(["EISDIR", "EPERM", "EINVAL", "ENOTSUP"])

const fsyncDir = async (dir: string): Promise<void> => {
  const handle = await fs
    .open(dir, "r")
    .catch((e: unknown) => (noDirSync.has(errorCode(e) ?? "") ? undefined : Promise.reject(e)))
  if (handle === undefined) return
  try {
    await handle
      .sync()
      .catch((e: unknown) => (noDirSync.has(errorCode(e) ?? "") ? undefined : Promise.reject(e)))
  } finally {
    await handle.close()
  }
}

/** Writes `data` to a fresh temp file in `dir`, fsyncs it and renames it over `dir/name`. */
const writeAtomic = async (dir: string, name: string, data: string | Uint8Array): Promise<void> => {
  const tmp = path.join(dir, `${TMP_PREFIX}${randomUUID()}-${name}`)
  const handle = await fs.open(tmp, "wx")
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(tmp, path.join(dir, name))
}

/** Copies `dir/name` to a temp file, appends `data`, fsyncs, renames over `dir/name`. */
const appendAtomic = async (dir: string, name: string, data: string): Promise<void> => {
  const tmp = path.join(dir, `${TMP_PREFIX}${randomUUID()}-${name}`)
  await fs.copyFile(path.join(dir, name), tmp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE)
  const handle = await fs.open(tmp, "a")
  try {
    await handle.appendFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(tmp, path.join(dir, name))
}

/** Removes the `.tmp-*` files left in `dir` by a crash. */
const removeTemps = async (dir: string): Promise<void> => {
  const names = (await orMissing(fs.readdir(dir))) ?? []
  for (const name of names) {
    if (name.startsWith(TMP_PREFIX)) await orMissing(fs.unlink(path.join(dir, name)))
  }
}

// ---------------------------------------------------------------------------------------------
// lock

const heldLocks = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errorCode(e) === "EPERM"
  }
}

/** A process's start time (Linux `/proc/PID/stat`, field 22), to tell a reused pid apart. */
const processStart = (pid: number): Promise<string | undefined> =>
  fs.readFile(`/proc/${pid}/stat`, "utf8").then(
    (text) => text.slice(text.lastIndexOf(")") + 2).split(" ")[19],
    () => undefined
  )

type LockResult =
  | { readonly _tag: "Acquired"; readonly token: string }
  | { readonly _tag: "Held"; readonly by: string }

const acquireLock = async (dir: string): Promise<LockResult> => {
  const file = path.join(dir, LOCK_FILE)
  const key = path.resolve(file)
  if (heldLocks.has(key)) return { _tag: "Held", by: "this process" }
  const token = randomUUID()
  const start = await processStart(process.pid)
  const content =
    JSON.stringify({ pid: process.pid, start: start ?? null, token, since: new Date().toISOString() }) + "\n"
  for (let attempt = 0; attempt < 5; attempt++) {
    const created = await fs.writeFile(file, content, { flag: "wx" }).then(
      () => true,
      (e: unknown) => (errorCode(e) === "EEXIST" ? false : Promise.reject(e))
    )
    if (created) {
      await fsyncDir(dir)
      heldLocks.add(key)
      return { _tag: "Acquired", token }
    }
    const existing = await orMissing(fs.readFile(file, "utf8"))
    if (existing === undefined) continue
    const pid = Number(/"pid":(\d+)/.exec(existing)?.[1] ?? Number.NaN)
    const lockStart = /"start":"(\d+)"/.exec(existing)?.[1]
    // Our own pid in a lock we do not hold: a previous process that had the same pid. A live pid
    // whose start time differs from the one in the lock: the pid was reused by another process.
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
      const liveStart = lockStart === undefined ? undefined : await processStart(pid)
      if (lockStart === undefined || liveStart === undefined || liveStart === lockStart) {
        return { _tag: "Held", by: `pid ${pid}` }
      }
    }
    // Stale: move it aside (only if it is still the same file) and try again.
    const aside = path.join(dir, `${TMP_PREFIX}${randomUUID()}-stale-lock`)
    const moved = await orMissing(fs.rename(file, aside).then(() => true))
    if (moved === true) {
      const movedContent = await orMissing(fs.readFile(aside, "utf8"))
      if (movedContent !== existing) {
        // Someone replaced the stale lock between our read and our rename: put theirs back.
        await fs.link(aside, file).catch(() => undefined)
        await orMissing(fs.unlink(aside))
        return { _tag: "Held", by: "another process (taking over a stale lock)" }
      }
      await orMissing(fs.unlink(aside))
    }
  }
  return { _tag: "Held", by: "another process (lock keeps changing)" }
}

const releaseLock = async (dir: string, token: string): Promise<void> => {
  const file = path.join(dir, LOCK_FILE)
  heldLocks.delete(path.resolve(file))
  const content = await orMissing(fs.readFile(file, "utf8"))
  if (content?.includes(token)) await orMissing(fs.unlink(file))
}

// ---------------------------------------------------------------------------------------------
// days

interface Day {
  readonly day: string
  readonly rows: Map<string, FileRow>
  order: Array<FileRow>
  sorted: boolean
  /** Whether `date=DAY/<source>` exists on disk. */
  exists: boolean
  /** The derived file lags the source file (deferred rebuild). */
  derivedStale: boolean
}

const dayDir = (dir: string, day: string) => path.join(dir, `date=${day}`)

const lastRow = (day: Day): FileRow | undefined => (day.sorted ? day.order[day.order.length - 1] : undefined)

const sortDay = (day: Day): ReadonlyArray<FileRow> => {
  if (!day.sorted) {
    day.order = Array.from(day.rows.values()).sort(compareRows)
    day.sorted = true
  }
  return day.order
}

// ---------------------------------------------------------------------------------------------
// the sink

/** Builds a file sink in `options.dir`; the lock is released when the scope closes. */
export const make = (format: FileFormat, options: FileSinkOptions) =>
  Effect.gen(function* () {
    const dir = path.resolve(options.dir)
    const name = `${format.name}:${options.dir}`
    const maxOpenDays = Math.max(1, options.maxOpenDays ?? 4)
    const deferDerived = options.deferDerived === true

    const io = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, SinkError> =>
      Effect.tryPromise({
        try: f,
        catch: (e) =>
          new SinkError({ reason: "Io", sink: name, operation, detail: describeError(e), cause: e })
      })
    const fail = (operation: string, detail: string, reason: SinkErrorReason = "Corrupt") =>
      Effect.fail(new SinkError({ reason, sink: name, operation, detail }))

    if (options.readOnly === true) return yield* makeReadOnly(format, dir, name)

    yield* io("open", () => fs.mkdir(dir, { recursive: true }))
    const lock = yield* Effect.acquireRelease(
      io("lock", () => acquireLock(dir)),
      (result) =>
        result._tag === "Acquired"
          ? Effect.promise(() => releaseLock(dir, result.token).catch(() => undefined))
          : Effect.void
    )
    if (lock._tag === "Held") {
      return yield* fail("lock", `${dir} is locked by ${lock.by} (${path.join(dir, LOCK_FILE)})`, "Locked")
    }

    // -- manifest ------------------------------------------------------------------------------
    const manifest: Manifest = { states: new Map(), days: new Map(), rejects: { count: 0, bytes: 0 } }

    /** (Re)reads `_state.json` into `manifest`; `false` when there is none yet. */
    const loadManifest = Effect.gen(function* () {
      manifest.states.clear()
      manifest.days.clear()
      manifest.rejects = { count: 0, bytes: 0 }
      const text = yield* io("open", () => orMissing(fs.readFile(path.join(dir, STATE_FILE), "utf8")))
      if (text === undefined) return false
      const decoded = decodeManifest(text)
      if (decoded._tag === "Left") return yield* fail("open", `${STATE_FILE} is not a valid state file`)
      const m = decoded.right
      if (m.format !== format.name) {
        return yield* fail("open", `${dir} holds a ${m.format} export, not ${format.name}`)
      }
      for (const [key, s] of Object.entries(m.states)) {
        manifest.states.set(key, {
          streamKey: s.streamKey,
          highWaterMark: s.highWaterMark,
          longestRunMs: s.longestRunMs,
          lastRunAt: s.lastRunAt,
          cursor: s.cursor
        })
      }
      for (const [day, entry] of Object.entries(m.days)) manifest.days.set(day, entry)
      manifest.rejects = { ...m.rejects }
      return true
    })

    const writeManifest = io("write state", async () => {
      await writeAtomic(dir, STATE_FILE, encodeManifest(format.name, manifest))
      await fsyncDir(dir)
    })

    /** The keys (stream, id or hash of the raw text) of the stored rejects: a reject is stored once. */
    const rejectKeys = new Set<string>()

    // -- days ----------------------------------------------------------------------------------
    const cache = new Map<string, Day>()

    const readDay = (day: string) =>
      Effect.gen(function* () {
        const file = path.join(dayDir(dir, day), format.sourceFile)
        const text = yield* io("read day", () => orMissing(fs.readFile(file, "utf8")))
        const loaded: Day = {
          day,
          rows: new Map(),
          order: [],
          sorted: true,
          exists: text !== undefined,
          derivedStale: manifest.days.get(day)?.stale === true
        }
        if (text === undefined) return loaded
        const rows = format.decode(text)
        if (typeof rows === "string") return yield* fail("read day", `${file}: ${rows}`)
        for (const row of rows) loaded.rows.set(row.id, row)
        loaded.sorted = false
        sortDay(loaded)
        return loaded
      })

    const getDay = (day: string) =>
      Effect.gen(function* () {
        const cached = cache.get(day)
        if (cached !== undefined) {
          cache.delete(day)
          cache.set(day, cached)
          return cached
        }
        const loaded = yield* readDay(day)
        cache.set(day, loaded)
        return loaded
      })

    /** Makes the day's source file durable; `appended` (rows sorting after all others) allows a copy+append. */
    const writeSource = (day: Day, appended: ReadonlyArray<FileRow> | undefined) =>
      io("write day", async () => {
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
        return statOf(await fs.stat(path.join(ddir, format.sourceFile)))
      })

    /** Rebuilds the day's derived file (Parquet) from its rows and makes it durable. */
    const writeDerived = (day: Day) =>
      io("write day", async () => {
        if (format.derived === undefined) return undefined
        const ddir = dayDir(dir, day.day)
        await writeAtomic(ddir, format.derived.file, format.derived.encode(sortDay(day)))
        await fsyncDir(ddir)
        day.derivedStale = false
        return statOf(await fs.stat(path.join(ddir, format.derived.file)))
      })

    /** Writes a changed day: its source file, then its derived file unless that is deferred. */
    const writeDay = (day: Day, appended: ReadonlyArray<FileRow> | undefined, defer: boolean) =>
      Effect.gen(function* () {
        const source = yield* writeSource(day, appended)
        const entry: DayEntry = { rows: day.rows.size, source }
        if (format.derived === undefined) return entry
        if (defer) {
          day.derivedStale = true
          const previous = manifest.days.get(day.day)?.derived
          return previous === undefined
            ? { ...entry, stale: true as const }
            : { ...entry, derived: previous, stale: true as const }
        }
        const derived = yield* writeDerived(day)
        return derived === undefined ? entry : { ...entry, derived }
      })

    /** Rebuilds the deferred derived file of a day still in memory. */
    const flushDerived = (day: Day) =>
      Effect.gen(function* () {
        const entry = manifest.days.get(day.day)
        if (!day.derivedStale || entry === undefined) return
        const derived = yield* writeDerived(day)
        if (derived !== undefined)
          manifest.days.set(day.day, { rows: entry.rows, source: entry.source, derived })
      })

    // -- recovery: temp files, days and rejects changed by a crash ------------------------------
    const recover = Effect.gen(function* () {
      cache.clear()
      // Memory may be ahead of the disk after a failed batch: start again from the durable state.
      const manifestExisted = yield* loadManifest
      let changed = false
      const entries = yield* io("recover", async () => {
        await removeTemps(dir)
        return fs.readdir(dir, { withFileTypes: true })
      })
      const onDisk = new Set<string>()
      for (const dirent of entries) {
        const day = dirent.isDirectory() ? DAY_DIR.exec(dirent.name)?.[1] : undefined
        if (day === undefined) continue
        const ddir = dayDir(dir, day)
        const stats = yield* io("recover", async () => {
          await removeTemps(ddir)
          const source = await orMissing(fs.stat(path.join(ddir, format.sourceFile)))
          const derived =
            format.derived === undefined
              ? undefined
              : await orMissing(fs.stat(path.join(ddir, format.derived.file)))
          return { source: source && statOf(source), derived: derived && statOf(derived) }
        })
        if (stats.source === undefined) {
          // A day directory created by a batch that crashed before its first file was renamed.
          yield* io("recover", () =>
            fs
              .rmdir(ddir)
              .catch((e: unknown) => (errorCode(e) === "ENOTEMPTY" ? undefined : Promise.reject(e)))
          )
          continue
        }
        onDisk.add(day)
        const known = manifest.days.get(day)
        const sourceOk = sameStat(known?.source, stats.source)
        const derivedOk =
          format.derived === undefined || (sameStat(known?.derived, stats.derived) && known?.stale !== true)
        if (sourceOk && derivedOk) continue
        const loaded = yield* readDay(day)
        const entry: DayEntry = { rows: loaded.rows.size, source: stats.source }
        // A changed source may have been renamed before its derived file: rebuild that too.
        const derived = sourceOk && derivedOk ? known?.derived : yield* writeDerived(loaded)
        manifest.days.set(day, derived === undefined ? entry : { ...entry, derived })
        changed = true
      }
      for (const day of [...manifest.days.keys()]) {
        if (!onDisk.has(day)) {
          manifest.days.delete(day)
          changed = true
        }
      }
      const rejectsFile = path.join(dir, REJECTS_FILE)
      const rejectsSize = (yield* io("recover", () => orMissing(fs.stat(rejectsFile))))?.size ?? 0
      if (rejectsSize > manifest.rejects.bytes) {
        // Rejects appended by a batch whose state was never written: that batch will be re-sent.
        yield* io("recover", async () => {
          const handle = await fs.open(rejectsFile, "r+")
          try {
            await handle.truncate(manifest.rejects.bytes)
            await handle.sync()
          } finally {
            await handle.close()
          }
        })
      }
      const rejectsText = (yield* io("recover", () => orMissing(fs.readFile(rejectsFile, "utf8")))) ?? ""
      rejectKeys.clear()
      let count = 0
      for (const line of rejectsText.split("\n")) {
        if (line.length === 0) continue
        const key = /^\{"key":("(?:[^"\\]|\\.)*")/.exec(line)?.[1]
        rejectKeys.add(key === undefined ? `line:${count}` : key)
        count++
      }
      const bytes = Buffer.byteLength(rejectsText)
      if (count !== manifest.rejects.count || bytes !== manifest.rejects.bytes) {
        manifest.rejects = { count, bytes }
        changed = true
      }
      if (changed || !manifestExisted) yield* writeManifest
    })

    yield* recover

    // -- writeBatch ----------------------------------------------------------------------------
    let needsRecovery = false
    const semaphore = yield* Effect.makeSemaphore(1)

    /**
     * Drops the least recently used days beyond `maxOpenDays` (a deferred Parquet file is rebuilt
     * first). Called after each day of a batch, so a batch over many days keeps memory bounded too:
     * every day but the one being written is already durable.
     */
    const trimCache = Effect.gen(function* () {
      while (cache.size > maxOpenDays) {
        const oldest = cache.values().next().value
        if (oldest === undefined) return
        yield* flushDerived(oldest)
        cache.delete(oldest.day)
      }
    })

    /** After a failed batch, memory may be ahead of the disk: rebuild it from the files first. */
    const ensureRecovered = Effect.suspend(() =>
      needsRecovery
        ? Effect.tap(recover, () => {
            needsRecovery = false
          })
        : Effect.void
    )

    const writeBatchUnsafe = (batch: Batch) =>
      Effect.gen(function* () {
        yield* ensureRecovered
        const result = { inserted: 0, updated: 0, unchanged: 0, rejected: batch.rejects.length }
        if (batch.records.length === 0 && batch.rejects.length === 0 && batch.state === undefined)
          return result
        const exportedAt = new Date(yield* Clock.currentTimeMillis).toISOString()

        const byDay = new Map<string, Map<string, FileRow>>()
        for (const record of batch.records) {
          const valid = decodeExecution(record)
          if (valid._tag === "Left") {
            return yield* fail(
              "write batch",
              `invalid execution ${JSON.stringify(record.id)}: ${valid.left}`,
              "InvalidRecord"
            )
          }
          const row = makeRecordRow(record, exportedAt)
          if (typeof row === "string") return yield* fail("write batch", row, "InvalidRecord")
          const day = dayOf(row.startedMs)
          let rows = byDay.get(day)
          if (rows === undefined) {
            rows = new Map()
            byDay.set(day, rows)
          }
          // The last occurrence of an id in a batch wins; the earlier ones count as unchanged.
          if (rows.delete(row.id)) result.unchanged++
          rows.set(row.id, row)
        }

        for (const dayName of [...byDay.keys()].sort()) {
          const incoming = byDay.get(dayName)!
          const day = yield* getDay(dayName)
          const before = lastRow(day)
          let changed = false
          let appendOnly = day.exists
          const inserted: Array<FileRow> = []
          for (const row of incoming.values()) {
            const existing = day.rows.get(row.id)
            if (existing === undefined) {
              inserted.push(row)
              day.rows.set(row.id, row)
              result.inserted++
              changed = true
            } else if (existing.rawText === row.rawText) {
              result.unchanged++
            } else {
              if (existing.startedMs !== row.startedMs) day.sorted = false
              assignRow(existing, row)
              result.updated++
              changed = true
              appendOnly = false
            }
          }
          if (!changed) {
            yield* trimCache
            continue
          }
          inserted.sort(compareRows)
          const first = inserted[0]
          if (first !== undefined) {
            if (before === undefined ? day.order.length > 0 : compareRows(before, first) > 0) {
              day.sorted = false
              appendOnly = false
            }
            if (day.sorted) for (const row of inserted) day.order.push(row)
          }
          const entry = yield* writeDay(day, appendOnly ? inserted : undefined, deferDerived)
          manifest.days.set(dayName, entry)
          yield* trimCache
        }

        const newRejects: Array<string> = []
        const newKeys: Array<string> = []
        for (const r of batch.rejects) {
          const key = JSON.stringify(rejectKey(batch.state?.streamKey ?? "", r))
          if (rejectKeys.has(key) || newKeys.includes(key)) continue
          newKeys.push(key)
          newRejects.push(
            `{"key":${key},"streamKey":${JSON.stringify(batch.state?.streamKey ?? null)},"id":${JSON.stringify(r.id ?? null)},"reason":${JSON.stringify(r.reason)},"seenAt":${JSON.stringify(r.seenAt)},"raw":${JSON.stringify(r.raw)}}\n`
          )
        }
        if (newRejects.length > 0) {
          const text = newRejects.join("")
          yield* io("write rejects", async () => {
            const file = path.join(dir, REJECTS_FILE)
            const handle = await fs.open(file, "a")
            try {
              await handle.appendFile(text)
              await handle.sync()
            } finally {
              await handle.close()
            }
            if (manifest.rejects.bytes === 0) await fsyncDir(dir)
          })
          manifest.rejects = {
            count: manifest.rejects.count + newRejects.length,
            bytes: manifest.rejects.bytes + Buffer.byteLength(text)
          }
          for (const key of newKeys) rejectKeys.add(key)
        }
        if (batch.state !== undefined) manifest.states.set(batch.state.streamKey, batch.state)

        yield* writeManifest
        return result
      })

    const writeBatch = (batch: Batch): Effect.Effect<BatchResult, SinkError> =>
      semaphore.withPermits(1)(
        Effect.uninterruptible(
          writeBatchUnsafe(batch).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                if (exit._tag === "Failure") {
                  // Memory may be ahead of the disk: rebuild it from the files before the next batch.
                  needsRecovery = true
                  cache.clear()
                }
              })
            )
          )
        )
      )

    // On close, rebuild the derived files still deferred (if this fails, the next open does it).
    yield* Effect.addFinalizer(() =>
      semaphore
        .withPermits(1)(
          Effect.gen(function* () {
            const stale = [...cache.values()].filter((day) => day.derivedStale)
            if (stale.length === 0 || needsRecovery) return
            for (const day of stale) yield* flushDerived(day)
            yield* writeManifest
          })
        )
        .pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`${name}: could not rebuild deferred files on close`, error)
          )
        )
    )

    const loadState = (streamKey: string) =>
      semaphore.withPermits(1)(
        Effect.map(ensureRecovered, () => Option.fromNullable(manifest.states.get(streamKey)))
      )

    const status: Effect.Effect<SinkStatus, SinkError> = semaphore.withPermits(1)(
      Effect.map(ensureRecovered, () => {
        let rows = 0
        for (const entry of manifest.days.values()) rows += entry.rows
        return { sink: name, rows, rejects: manifest.rejects.count, states: [...manifest.states.values()] }
      })
    )

    const sink: SinkShape = { name, loadState, writeBatch, status }
    return sink
  })

/** Reads the state of a sink directory without taking its lock (for `status` while a run goes on). */
const makeReadOnly = (format: FileFormat, dir: string, name: string) =>
  Effect.gen(function* () {
    const read = Effect.tryPromise({
      try: () => orMissing(fs.readFile(path.join(dir, STATE_FILE), "utf8")),
      catch: (e) =>
        new SinkError({
          reason: "Io",
          sink: name,
          operation: "read state",
          detail: describeError(e),
          cause: e
        })
    }).pipe(
      Effect.flatMap((text) => {
        if (text === undefined) return Effect.succeed(undefined)
        const decoded = decodeManifest(text)
        if (decoded._tag === "Left") {
          return Effect.fail(
            new SinkError({
              reason: "Corrupt",
              sink: name,
              operation: "read state",
              detail: `${STATE_FILE} is not a valid state file`
            })
          )
        }
        if (decoded.right.format !== format.name) {
          return Effect.fail(
            new SinkError({
              reason: "Corrupt",
              sink: name,
              operation: "read state",
              detail: `${dir} holds a ${decoded.right.format} export, not ${format.name}`
            })
          )
        }
        return Effect.succeed(decoded.right)
      })
    )
    const toState = (s: typeof StoredState.Type): ExportState => ({
      streamKey: s.streamKey,
      highWaterMark: s.highWaterMark,
      longestRunMs: s.longestRunMs,
      lastRunAt: s.lastRunAt,
      cursor: s.cursor
    })
    yield* read
    const sink: SinkShape = {
      name,
      loadState: (streamKey) =>
        Effect.map(read, (m) => Option.map(Option.fromNullable(m?.states[streamKey]), toState)),
      writeBatch: () =>
        Effect.fail(
          new SinkError({
            reason: "ReadOnly",
            sink: name,
            operation: "write batch",
            detail: "the sink was opened read-only"
          })
        ),
      status: Effect.map(read, (m) => ({
        sink: name,
        rows: m === undefined ? 0 : Object.values(m.days).reduce((n, d) => n + d.rows, 0),
        rejects: m?.rejects.count ?? 0,
        states: m === undefined ? [] : Object.values(m.states).map(toState)
      }))
    }
    return sink
  })

const rejectKey = (streamKey: string, reject: Reject): string =>
  `${streamKey}\u0000${reject.id !== undefined ? `id:${reject.id}` : `sha1:${createHash("sha1").update(reject.raw).digest("hex")}`}`

const makeRecordRow = (record: Batch["records"][number], exportedAt: string): FileRow | string =>
  makeRow(record, JSON.stringify(record), exportedAt)
