/**
 * The file sinks: one directory, one file per start day. The rooms:
 *
 * - `atomicFile.ts`: temp file, fsync, rename, fsync of the directory;
 * - `processLock.ts`: the single-writer lock (`_lock`), held for the sink's scope;
 * - `fileManifest.ts`: `_state.json`, which moves forward only after the data it describes is
 *   durable (shared with the read-only view below);
 * - `fileDays.ts`: the days in memory and on disk, and the upsert of a batch's rows into a day;
 * - `fileRejects.ts`: the append-only rejects file;
 * - `fileRecovery.ts`: what a crash left, put right on open and after a failed batch;
 * - `fileFormat.ts` / `fileRow.ts`: how a day's rows are written (NDJSON, CSV, Parquet).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { decodeExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Effect, Option, type Scope } from "effect"
import type { Batch, BatchResult, SinkShape, SinkStatus } from "../Sink.js"
import * as FileAlerts from "./fileAlerts.js"
import { type Counts, flushJournal, io, type Store, upsertDay } from "./fileDays.js"
import type { FileFormat } from "./fileFormat.js"
import * as Manifest from "./fileManifest.js"
import { recover } from "./fileRecovery.js"
import * as Rejects from "./fileRejects.js"
import { dayOf, type FileRow, makeRow } from "./fileRow.js"
import * as ProcessLock from "./processLock.js"
import * as SinkErrors from "./sinkErrors.js"

/** Options shared by the three file sinks. */
export interface FileSinkOptions {
  readonly dir: string
  readonly maxOpenDays?: number | undefined
  readonly deferDerived?: boolean | undefined
  readonly readOnly?: boolean | undefined
  readonly waitForLock?: boolean | undefined
}

/** The rows of a batch by day, then id (the last occurrence of an id wins; the others count as unchanged). */
const rowsByDay = (store: Store, records: Batch["records"], exportedAt: string, counts: Counts) =>
  Effect.gen(function* () {
    const byDay = new Map<string, Map<string, FileRow>>()
    for (const record of records) {
      const valid = decodeExecution(record)
      if (valid._tag === "Left") {
        const detail = `invalid execution ${JSON.stringify(record.id)}: ${valid.left}`
        return yield* SinkErrors.make("InvalidRecord", store.name, "write batch", detail)
      }
      const row = makeRow(record, JSON.stringify(record), exportedAt)
      if (typeof row === "string")
        return yield* SinkErrors.make("InvalidRecord", store.name, "write batch", row)
      const day = dayOf(row.startedMs)
      let rows = byDay.get(day)
      if (rows === undefined) {
        rows = new Map()
        byDay.set(day, rows)
      }
      if (rows.delete(row.id)) counts.unchanged++
      rows.set(row.id, row)
    }
    return byDay
  })

/**
 * Builds a file sink in `options.dir`: takes the lock (released when the scope closes), recovers
 * the directory, then serves the `Sink`. A batch is validated whole first, then writes its days,
 * its rejects and last the manifest.
 */
export const make = (
  format: FileFormat,
  options: FileSinkOptions
): Effect.Effect<SinkShape, SinkErrors.SinkError, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = path.resolve(options.dir)
    const name = `${format.name}:${options.dir}`
    if (options.readOnly === true) return yield* makeReadOnly(format, dir, name)
    const settings = {
      maxOpenDays: Math.max(1, options.maxOpenDays ?? 4),
      deferDerived: options.deferDerived === true
    }
    const store: Store = {
      dir,
      name,
      format,
      manifest: Manifest.empty(),
      cache: new Map(),
      rejectKeys: new Set()
    }

    yield* io(store, "open", () => fs.mkdir(dir, { recursive: true }))
    yield* ProcessLock.acquire(dir, name, { wait: options.waitForLock })
    yield* recover(store)

    let needsRecovery = false
    const semaphore = yield* Effect.makeSemaphore(1)
    /** After a failed batch, memory may be ahead of the disk: rebuild it from the files first. */
    const ensureRecovered = Effect.suspend(() =>
      needsRecovery
        ? Effect.tap(recover(store), () => {
            needsRecovery = false
          })
        : Effect.void
    )
    const writeManifest = io(store, "write state", () => Manifest.write(dir, format.name, store.manifest))

    const write = (batch: Batch) =>
      Effect.gen(function* () {
        yield* ensureRecovered
        const counts: Counts = {
          inserted: 0,
          updated: 0,
          unchanged: 0,
          rejected: batch.rejects.length,
          finished: []
        }
        if (batch.records.length === 0 && batch.rejects.length === 0 && batch.state === undefined)
          return counts
        const exportedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const byDay = yield* rowsByDay(store, batch.records, exportedAt, counts)
        for (const day of [...byDay.keys()].sort())
          yield* upsertDay(store, day, byDay.get(day)!, counts, settings)
        yield* Rejects.append(store, batch.rejects, batch.state?.streamKey)
        if (batch.state !== undefined) store.manifest.states.set(batch.state.streamKey, batch.state)
        yield* writeManifest
        return counts
      })

    const writeBatch = (batch: Batch): Effect.Effect<BatchResult, SinkErrors.SinkError> =>
      semaphore.withPermits(1)(
        Effect.uninterruptible(
          write(batch).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                if (exit._tag === "Failure") {
                  // Memory may be ahead of the disk: rebuild it from the files before the next batch.
                  needsRecovery = true
                  store.cache.clear()
                }
              })
            )
          )
        )
      )

    // On close, fold the journals of deferred Parquet days into their files (if this fails, the
    // next open does it).
    yield* Effect.addFinalizer(() =>
      semaphore
        .withPermits(1)(
          Effect.gen(function* () {
            const pending = [...store.cache.values()].filter((day) => day.journalBytes > 0)
            if (pending.length === 0 || needsRecovery) return
            for (const day of pending) yield* flushJournal(store, day)
            yield* writeManifest
          })
        )
        .pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`${name}: could not rebuild deferred Parquet files on close`, error)
          )
        )
    )

    const loadState = (streamKey: string) =>
      semaphore.withPermits(1)(
        Effect.map(ensureRecovered, () => Option.fromNullable(store.manifest.states.get(streamKey)))
      )

    const status: Effect.Effect<SinkStatus, SinkErrors.SinkError> = semaphore.withPermits(1)(
      Effect.map(ensureRecovered, () => statusOf(name, store.manifest))
    )

    const sink: SinkShape = {
      name,
      loadState,
      writeBatch,
      status,
      loadAlertState: (streamKey) => semaphore.withPermits(1)(FileAlerts.load(dir, name, streamKey)),
      saveAlertState: (streamKey, state) =>
        semaphore.withPermits(1)(Effect.uninterruptible(FileAlerts.save(dir, name, streamKey, state)))
    }
    return sink
  })

const statusOf = (name: string, manifest: Manifest.Manifest | undefined): SinkStatus => ({
  sink: name,
  rows: manifest === undefined ? 0 : Manifest.rowCount(manifest),
  rejects: manifest?.rejects.count ?? 0,
  states: manifest === undefined ? [] : [...manifest.states.values()]
})

/** Reads the manifest of a sink directory on each call, without its lock (`status` while a run goes on). */
const makeReadOnly = (format: FileFormat, dir: string, name: string) =>
  Effect.gen(function* () {
    const read = Manifest.read(dir, format.name, name, "read state")
    yield* read
    const sink: SinkShape = {
      name,
      loadState: (streamKey) => Effect.map(read, (m) => Option.fromNullable(m?.states.get(streamKey))),
      writeBatch: () =>
        Effect.fail(SinkErrors.make("ReadOnly", name, "write batch", "the sink was opened read-only")),
      status: Effect.map(read, (m) => statusOf(name, m)),
      loadAlertState: (streamKey) => FileAlerts.load(dir, name, streamKey),
      saveAlertState: () =>
        Effect.fail(SinkErrors.make("ReadOnly", name, "save alert state", "the sink was opened read-only"))
    }
    return sink
  })
