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
 * - `fileFormat.ts` / `fileRow.ts`: how a day's rows are written (NDJSON, CSV, Parquet);
 * - `fileSteps.ts`: the step executions (`step_executions/date=YYYY-MM-DD/`), whose backlog is in
 *   the manifest, so steps, backlog and state move together.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { decodeExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Duration, Effect, Option, type Scope } from "effect"
import * as Columns from "../Columns.js"
import type {
  Batch,
  BatchResult,
  QueuedSteps,
  SinkShape,
  SinkStatus,
  StepBatch,
  StepRow,
  StepScope,
  StepStore
} from "../Sink.js"
import * as FileAlerts from "./fileAlerts.js"
import { type Counts, flushJournal, io, readDay, type Store, upsertDay } from "./fileDays.js"
import type { FileFormat } from "./fileFormat.js"
import * as Manifest from "./fileManifest.js"
import { recover } from "./fileRecovery.js"
import * as Rejects from "./fileRejects.js"
import { dayOf, type FileRow, makeRow } from "./fileRow.js"
import * as FileSteps from "./fileSteps.js"
import { statusOf } from "./finished.js"
import * as ProcessLock from "./processLock.js"
import * as SinkErrors from "./sinkErrors.js"
import { shouldQueue } from "./stepRecords.js"

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
    const sinkScope = yield* Effect.scope
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

    const stepTable: FileSteps.StepTable = {
      dir: path.join(dir, FileSteps.STEPS_DIR),
      name,
      format: FileSteps.stepFormats[format.name],
      cache: new Map()
    }
    /** When the manifest was last written, and whether memory has moved on since (step writes). */
    const manifestAge = { writtenAt: Number.NEGATIVE_INFINITY, behind: false, flushing: false }
    const writeManifest = Effect.zipRight(
      io(store, "write state", () => Manifest.write(dir, format.name, store.manifest)),
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          manifestAge.writtenAt = now
          manifestAge.behind = false
        })
      )
    )
    const recoverAll = Effect.gen(function* () {
      yield* recover(store)
      if (yield* FileSteps.recoverSteps(stepTable, store.manifest)) yield* writeManifest
    })

    yield* io(store, "open", () => fs.mkdir(dir, { recursive: true }))
    yield* ProcessLock.acquire(dir, name, { wait: options.waitForLock })
    yield* recoverAll

    let needsRecovery = false
    const semaphore = yield* Effect.makeSemaphore(1)
    /** After a failed batch, memory may be ahead of the disk: rebuild it from the files first. */
    const ensureRecovered = Effect.suspend(() =>
      needsRecovery
        ? Effect.tap(recoverAll, () => {
            needsRecovery = false
          })
        : Effect.void
    )
    /** A write of the sink: one at a time, never interrupted halfway; after a failure, memory is rebuilt. */
    const exclusive = <A>(effect: Effect.Effect<A, SinkErrors.SinkError>) =>
      semaphore.withPermits(1)(
        Effect.uninterruptible(
          Effect.zipRight(ensureRecovered, effect).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                if (exit._tag === "Failure") {
                  // Memory may be ahead of the disk: rebuild it from the files before the next write.
                  needsRecovery = true
                  store.cache.clear()
                  stepTable.cache.clear()
                }
              })
            )
          )
        )
      )

    /** The backlog sorted oldest first, kept between calls (entries that left it are skipped). */
    const order: { dirty: boolean; source: Map<string, QueuedSteps> | undefined; list: Array<QueuedSteps> } =
      {
        dirty: true,
        source: undefined,
        list: []
      }
    const oldestQueued = (limit: number): ReadonlyArray<QueuedSteps> => {
      const backlog = store.manifest.steps?.backlog
      if (backlog === undefined) return []
      if (order.dirty || order.source !== backlog) {
        order.list = Manifest.sortQueued(backlog.values())
        order.source = backlog
        order.dirty = false
      }
      const out: Array<QueuedSteps> = []
      let gone = 0
      for (const q of order.list) {
        if (out.length >= limit) break
        if (backlog.get(q.executionId) === q) out.push(q)
        else if (out.length === 0) gone++
      }
      if (gone > 0) order.list.splice(0, gone)
      return out
    }

    /** Queues executions (one that is queued already keeps its place and takes the new status). */
    const queue = (entries: ReadonlyArray<QueuedSteps>) => {
      const backlog = Manifest.stepsOf(store.manifest).backlog
      for (const q of entries) {
        const existing = backlog.get(q.executionId)
        backlog.set(q.executionId, existing === undefined ? q : { ...existing, status: q.status })
      }
      order.dirty = true
    }

    const write = (batch: Batch) =>
      Effect.gen(function* () {
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
        const queued: Array<QueuedSteps> = []
        const scope = batch.steps
        const changed =
          scope === undefined
            ? undefined
            : (row: FileRow, before: unknown) => {
                const status = statusOf(row.values)
                if (shouldQueue(scope, before, status)) {
                  const dateStarted = row.values[DATE_STARTED]
                  queued.push({
                    executionId: row.id,
                    status: String(status),
                    dateStarted:
                      typeof dateStarted === "string" ? dateStarted : new Date(row.startedMs).toISOString(),
                    queuedAt: exportedAt
                  })
                }
              }
        for (const day of [...byDay.keys()].sort())
          yield* upsertDay(store, day, byDay.get(day)!, counts, { ...settings, changed })
        if (queued.length > 0) queue(queued)
        yield* Rejects.append(store, batch.rejects, batch.state?.streamKey)
        if (batch.state !== undefined) store.manifest.states.set(batch.state.streamKey, batch.state)
        yield* writeManifest
        return counts
      })

    const writeBatch = (batch: Batch): Effect.Effect<BatchResult, SinkErrors.SinkError> =>
      exclusive(write(batch))

    const writeSteps = (batch: StepBatch) =>
      Effect.gen(function* () {
        const exportedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const steps = Manifest.stepsOf(store.manifest)
        const dayOfExecution = new Map(batch.done.map((d) => [d.executionId, d.dateStarted] as const))
        const byDay = new Map<string, Array<StepRow>>()
        for (const row of batch.rows) {
          const started = Date.parse(dayOfExecution.get(row.executionId) ?? row.dateStarted ?? "")
          if (Number.isNaN(started)) {
            const detail = `step ${row.id} of execution ${row.executionId}: no start date to partition it by`
            return yield* SinkErrors.make("InvalidRecord", name, "write steps", detail)
          }
          const day = dayOf(started)
          const rows = byDay.get(day)
          if (rows === undefined) byDay.set(day, [row])
          else rows.push(row)
        }
        yield* FileSteps.upsertSteps(stepTable, steps, byDay, exportedAt, settings.maxOpenDays)
        yield* Rejects.append(store, batch.rejects, batch.streamKey)
        // Unless its status changed since it was queued: then it is read again for the new one.
        for (const done of batch.done) {
          if (steps.backlog.get(done.executionId)?.status === done.status)
            steps.backlog.delete(done.executionId)
        }
        // The manifest holds the whole backlog (an entry per execution still to read), so writing
        // it after every group of steps made a large backfill quadratic. It is written at most
        // every STEPS_MANIFEST_EVERY_MS while steps are written (and when the backlog empties, at
        // the next list batch, and on close): a crash in between loses no row (the newer step
        // files are recounted on open) and costs only reading those executions' steps again.
        const now = yield* Clock.currentTimeMillis
        if (steps.backlog.size === 0 || now - manifestAge.writtenAt >= STEPS_MANIFEST_EVERY_MS) {
          yield* writeManifest
        } else {
          manifestAge.behind = true
          if (!manifestAge.flushing) {
            manifestAge.flushing = true
            yield* Effect.forkIn(flushLater, sinkScope)
          }
        }
      })

    const queueStored = (scope: StepScope) =>
      Effect.gen(function* () {
        const steps = Manifest.stepsOf(store.manifest)
        if (steps.scopes.has(scope) || steps.scopes.has("all")) return 0
        const queuedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const withSteps = yield* FileSteps.executionsWithSteps(stepTable, steps)
        const found: Array<QueuedSteps> = []
        for (const day of [...store.manifest.days.keys()].sort()) {
          for (const row of (yield* readDay(store, day)).rows.values()) {
            const status = statusOf(row.values)
            const dateStarted = row.values[DATE_STARTED]
            if (
              (scope === "all" || status === "FAILED") &&
              typeof dateStarted === "string" &&
              !withSteps.has(row.id) &&
              !steps.backlog.has(row.id)
            ) {
              found.push({ executionId: row.id, status: String(status), dateStarted, queuedAt })
            }
          }
        }
        queue(found)
        steps.scopes.add(scope)
        yield* writeManifest
        return found.length
      })

    /** Writes a manifest left behind by step writes, once they pause (or the sink closes). */
    const flushLater: Effect.Effect<void> = Effect.sleep(Duration.millis(STEPS_MANIFEST_EVERY_MS)).pipe(
      Effect.zipRight(
        exclusive(
          Effect.suspend(() => {
            // Cleared inside the write's turn: a step write right after it forks the next flush.
            manifestAge.flushing = false
            return manifestAge.behind && !needsRecovery ? writeManifest : Effect.void
          })
        )
      ),
      Effect.catchAll((error) => Effect.logWarning(`${name}: could not write the state of the steps`, error)),
      Effect.ensuring(
        Effect.sync(() => {
          manifestAge.flushing = false
        })
      )
    )

    const stepStore: StepStore = {
      backlog: (limit) => semaphore.withPermits(1)(Effect.map(ensureRecovered, () => oldestQueued(limit))),
      backlogSize: semaphore.withPermits(1)(
        Effect.map(ensureRecovered, () => store.manifest.steps?.backlog.size ?? 0)
      ),
      writeSteps: (batch) => exclusive(writeSteps(batch)),
      queueStored: (scope) => exclusive(queueStored(scope))
    }

    // On close, fold the journals of deferred Parquet days into their files (if this fails, the
    // next open does it).
    yield* Effect.addFinalizer(() =>
      semaphore
        .withPermits(1)(
          Effect.gen(function* () {
            const pending = [...store.cache.values()].filter((day) => day.journalBytes > 0)
            if ((pending.length === 0 && !manifestAge.behind) || needsRecovery) return
            for (const day of pending) yield* flushJournal(store, day)
            yield* writeManifest
          })
        )
        .pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(
              `${name}: could not write deferred Parquet files or the steps' state on close`,
              error
            )
          )
        )
    )

    const loadState = (streamKey: string) =>
      semaphore.withPermits(1)(
        Effect.map(ensureRecovered, () => Option.fromNullable(store.manifest.states.get(streamKey)))
      )

    const status: Effect.Effect<SinkStatus, SinkErrors.SinkError> = semaphore.withPermits(1)(
      Effect.map(ensureRecovered, () => sinkStatus(name, store.manifest))
    )

    const sink: SinkShape = {
      name,
      loadState,
      writeBatch,
      status,
      steps: stepStore,
      loadAlertState: (streamKey) => semaphore.withPermits(1)(FileAlerts.load(dir, name, streamKey)),
      saveAlertState: (streamKey, state) =>
        semaphore.withPermits(1)(Effect.uninterruptible(FileAlerts.save(dir, name, streamKey, state)))
    }
    return sink
  })

const DATE_STARTED = Columns.names.indexOf("date_started")

/** How often at most step writes rewrite the manifest (see `writeSteps`). */
const STEPS_MANIFEST_EVERY_MS = 1_000

const sinkStatus = (name: string, manifest: Manifest.Manifest | undefined): SinkStatus => ({
  sink: name,
  rows: manifest === undefined ? 0 : Manifest.rowCount(manifest),
  rejects: manifest?.rejects.count ?? 0,
  states: manifest === undefined ? [] : [...manifest.states.values()],
  ...(manifest?.steps === undefined
    ? {}
    : {
        steps: {
          rows: Manifest.rowCount(manifest, manifest.steps.days),
          backlog: manifest.steps.backlog.size
        }
      })
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
      status: Effect.map(read, (m) => sinkStatus(name, m)),
      loadAlertState: (streamKey) => FileAlerts.load(dir, name, streamKey),
      saveAlertState: () =>
        Effect.fail(SinkErrors.make("ReadOnly", name, "save alert state", "the sink was opened read-only"))
    }
    return sink
  })
