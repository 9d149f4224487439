/**
 * The manifest of a file sink directory, `DIR/_state.json`: the export states of its streams,
 * the row count and file versions of every day, and the size of the rejects file. It moves
 * forward only after the data it describes is durable, so on open it tells which files a crashed
 * batch changed. Read by the writer and by the read-only view (`status` beside a running export).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Either, Schema } from "effect"
import type { ExportState, QueuedSteps, StepScope } from "../Sink.js"
import { fsyncDir, orMissing, writeAtomic } from "./atomicFile.js"
import type { FileFormatName } from "./fileFormat.js"
import * as SinkErrors from "./sinkErrors.js"

export const STATE_FILE = "_state.json"

const FileStat = Schema.Struct({ ino: Schema.Number, size: Schema.Number, mtimeMs: Schema.Number })

const StoredState = Schema.Struct({
  streamKey: Schema.String,
  highWaterMark: Schema.optional(Schema.String),
  longestRunMs: Schema.Number,
  lastRunAt: Schema.optional(Schema.String),
  cursor: Schema.optional(Schema.Unknown)
})

const DayEntry = Schema.Struct({
  rows: Schema.Number,
  /** The version of the day file (`part.ndjson`, `part.csv`, `part.parquet`). */
  source: FileStat,
  /**
   * Written by earlier versions of the Parquet sink, whose `source` was the sidecar
   * `.part.ndjson` and `derived` the Parquet file: such a day is read again and rewritten on open.
   */
  derived: Schema.optional(FileStat),
  stale: Schema.optional(Schema.Literal(true))
})

/** What the manifest says of one day. */
export type DayEntry = typeof DayEntry.Type

/**
 * The step executions of the export (`--steps`): the days of `step_executions/`, the backlog of
 * executions whose steps are still to be read (`[executionId, status, dateStarted, queuedAt]`,
 * oldest first) and the scopes whose stored executions were queued once.
 */
const StoredSteps = Schema.Struct({
  days: Schema.Record({ key: Schema.String, value: DayEntry }),
  backlog: Schema.Array(Schema.Tuple(Schema.String, Schema.String, Schema.String, Schema.String)),
  scopes: Schema.Array(Schema.Literal("failed", "all"))
})

const ManifestJson = Schema.parseJson(
  Schema.Struct({
    version: Schema.Literal(1),
    format: Schema.Literal("ndjson", "csv", "parquet"),
    states: Schema.Record({ key: Schema.String, value: StoredState }),
    days: Schema.Record({ key: Schema.String, value: DayEntry }),
    rejects: Schema.Struct({ count: Schema.Number, bytes: Schema.Number }),
    steps: Schema.optional(StoredSteps)
  })
)

const decode = Schema.decodeUnknownEither(ManifestJson)

/** What the manifest says of the step executions, in memory. */
export interface Steps {
  readonly days: Map<string, DayEntry>
  /** By execution id. */
  readonly backlog: Map<string, QueuedSteps>
  readonly scopes: Set<StepScope>
}

/** The manifest in memory. */
export interface Manifest {
  readonly states: Map<string, ExportState>
  readonly days: Map<string, DayEntry>
  rejects: { count: number; bytes: number }
  /** Present once steps were exported into the directory (or queued). */
  steps: Steps | undefined
}

export const empty = (): Manifest => ({
  states: new Map(),
  days: new Map(),
  rejects: { count: 0, bytes: 0 },
  steps: undefined
})

/** The steps section of `manifest`, created when missing. */
export const stepsOf = (manifest: Manifest): Steps => {
  if (manifest.steps === undefined)
    manifest.steps = { days: new Map(), backlog: new Map(), scopes: new Set() }
  return manifest.steps
}

/**
 * What sorting and writing a backlog entry needs, computed once per entry: its start in ms and its
 * line in `_state.json`. The backlog is sorted and written with every batch while it can hold an
 * entry per exported execution; parsing dates in the comparator and encoding every entry again
 * each time made that most of the CPU of a `--steps all` file export. Entries are immutable (a
 * new status is a new entry), so the memo is keyed by the entry itself.
 */
const memo = new WeakMap<QueuedSteps, { readonly at: number; readonly line: string }>()
const memoOf = (q: QueuedSteps) => {
  let m = memo.get(q)
  if (m === undefined) {
    m = {
      at: Date.parse(q.dateStarted),
      line: JSON.stringify([q.executionId, q.status, q.dateStarted, q.queuedAt])
    }
    memo.set(q, m)
  }
  return m
}

/** `entries` in backlog order: oldest start first, then by id. */
export const sortQueued = (entries: Iterable<QueuedSteps>): Array<QueuedSteps> =>
  Array.from(entries).sort(
    (a, b) =>
      memoOf(a).at - memoOf(b).at ||
      (a.executionId < b.executionId ? -1 : a.executionId > b.executionId ? 1 : 0)
  )

const byKey = <V>(entries: Iterable<readonly [string, V]>) =>
  Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : 1)))

/** Stands for the backlog in the indented text, replaced by its entries (see `encode`). */
const BACKLOG = "\u0000backlog"

const encodeSteps = (steps: Steps) => ({
  days: byKey(steps.days),
  backlog: BACKLOG,
  scopes: [...steps.scopes].sort()
})

const toState = (s: typeof StoredState.Type): ExportState => ({
  streamKey: s.streamKey,
  highWaterMark: s.highWaterMark,
  longestRunMs: s.longestRunMs,
  lastRunAt: s.lastRunAt,
  cursor: s.cursor
})

/**
 * The text of `_state.json` (days sorted, so the file is stable). The step backlog, which can
 * hold an entry per exported execution and is written with every batch, is one compact line per
 * entry, oldest first, rather than six indented lines each.
 */
export const encode = (format: FileFormatName, manifest: Manifest): string => {
  const text = JSON.stringify(
    {
      version: 1,
      format,
      states: Object.fromEntries(manifest.states),
      days: byKey(manifest.days),
      rejects: manifest.rejects,
      ...(manifest.steps === undefined ? {} : { steps: encodeSteps(manifest.steps) })
    },
    null,
    1
  )
  if (manifest.steps === undefined) return `${text}\n`
  const entries = sortQueued(manifest.steps.backlog.values()).map((q) => memoOf(q).line)
  const backlog = entries.length === 0 ? "[]" : `[\n${entries.join(",\n")}\n]`
  // The steps come last, and the backlog before the scopes (fixed words): the last occurrence of
  // the marker is it, whatever a stream's cursor holds.
  const marker = JSON.stringify(BACKLOG)
  const at = text.lastIndexOf(marker)
  return `${text.slice(0, at)}${backlog}${text.slice(at + marker.length)}\n`
}

/**
 * Reads `dir/_state.json`: `undefined` when there is none yet; a `Corrupt` error when it is not a
 * manifest, or one of another format's export.
 */
export const read = (
  dir: string,
  format: FileFormatName,
  sink: string,
  operation: SinkErrors.Operation
): Effect.Effect<Manifest | undefined, SinkErrors.SinkError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => orMissing(fs.readFile(path.join(dir, STATE_FILE), "utf8")),
      catch: SinkErrors.fromCause("Io", sink, operation)
    })
    if (text === undefined) return undefined
    const decoded = decode(text)
    if (Either.isLeft(decoded)) {
      return yield* SinkErrors.make(
        "Corrupt",
        sink,
        operation,
        `${STATE_FILE} is not a valid state file`,
        decoded.left
      )
    }
    const m = decoded.right
    if (m.format !== format) {
      return yield* SinkErrors.make(
        "Corrupt",
        sink,
        operation,
        `${dir} holds a ${m.format} export, not ${format}`
      )
    }
    const manifest = empty()
    for (const [key, s] of Object.entries(m.states)) manifest.states.set(key, toState(s))
    for (const [day, entry] of Object.entries(m.days)) manifest.days.set(day, entry)
    manifest.rejects = { ...m.rejects }
    if (m.steps !== undefined) {
      manifest.steps = {
        days: new Map(Object.entries(m.steps.days)),
        backlog: new Map(
          m.steps.backlog.map(([executionId, status, dateStarted, queuedAt]) => [
            executionId,
            { executionId, status, dateStarted, queuedAt }
          ])
        ),
        scopes: new Set(m.steps.scopes)
      }
    }
    return manifest
  })

/** Replaces `dir/_state.json` atomically. */
export const write = (dir: string, format: FileFormatName, manifest: Manifest): Promise<void> =>
  writeAtomic(dir, STATE_FILE, encode(format, manifest)).then(() => fsyncDir(dir))

/** The rows of every day of `days` (the executions' by default). */
export const rowCount = (manifest: Manifest, days: ReadonlyMap<string, DayEntry> = manifest.days): number => {
  let rows = 0
  for (const entry of days.values()) rows += entry.rows
  return rows
}
