/**
 * The export engine: reads a range of start dates with keyset paging (never deep offsets),
 * handles many executions at one instant, looks back for late arrivals, and writes each batch
 * with the state that covers it.
 *
 * @internal
 */
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import * as TaskHistoryMetrics from "@taskhistory/core/TaskHistoryMetrics"
import type { ExecutionPage, WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Data, Duration, Effect, Exit, Metric, Option, Predicate, Queue, type Scope } from "effect"
import type { Filters, RunOptions, RunReport } from "../Exporter.js"
import { type ExportState, type Reject, Sink, type SinkError } from "../Sink.js"
import * as L from "./ledger.js"

/** Records per page: the API has no parameter to change it. */
const PAGE_SIZE = 100
const HOUR = L.HOUR
const DAY = L.DAY
/** Paragon keeps executions 90 days by default. */
export const retentionMs = 90 * DAY
/** How many times one instant is read again when its ids and `total` disagree. */
const INSTANT_ATTEMPTS = 5
/** Upper bound on pages of one instant, so a server that never ends a result cannot loop us. */
const INSTANT_MAX_PAGES = 10_000

/** @internal */
export class ExportError extends Data.TaggedError("ExportError")<{
  readonly reason: "InvalidOptions" | "InvalidRecords" | "Inconsistent"
  readonly detail: string
}> {
  override get message() {
    const what = {
      InvalidOptions: "invalid export options",
      InvalidRecords: "invalid execution record (--on-invalid fail)",
      Inconsistent: "the API gave inconsistent answers"
    }[this.reason]
    const after =
      this.reason === "InvalidRecords"
        ? "; nothing of this batch was written and the high-water mark did not move"
        : ""
    return `${what}: ${this.detail}${after}`
  }
}

/** The engine data kept in `ExportState.cursor` while a run is under way. */
interface RunCursor {
  readonly v: 1
  /** The fixed end of the run's range (exclusive), ISO. */
  readonly end: string
  /** Every execution that started before this instant (ms) has been read in this run. */
  readonly lower: number
  /** Earliest start (ms) of an execution seen still running in this run. */
  readonly minOpen: number | undefined
  /** Whether `afterDate` turned out to be inclusive. */
  readonly afterInclusive: boolean
  readonly longestRunMs: number
}

const decodeCursor = (u: unknown): RunCursor | undefined => {
  if (!Predicate.isRecord(u) || u.v !== 1) return undefined
  if (typeof u.end !== "string" || typeof u.lower !== "number" || Number.isNaN(Date.parse(u.end)))
    return undefined
  return {
    v: 1,
    end: u.end,
    lower: u.lower,
    minOpen: typeof u.minOpen === "number" ? u.minOpen : undefined,
    afterInclusive: u.afterInclusive === true,
    longestRunMs: typeof u.longestRunMs === "number" ? u.longestRunMs : 0
  }
}

/** @internal */
export const streamKey = (filters: Filters = {}): string => {
  const parts: Array<string> = []
  for (const key of ["integration", "workflowId", "userId", "status"] as const) {
    const value = filters[key]
    if (value !== undefined) {
      parts.push(`${key}=${encodeURIComponent(key === "status" ? value.toUpperCase() : value)}`)
    }
  }
  return parts.length === 0 ? "all" : parts.join("&")
}

/** @internal */
export const defaultLookback = (longestRunMs: number): Duration.Duration =>
  Duration.millis(Math.min(retentionMs, Math.max(HOUR, 2 * longestRunMs)))

const iso = (ms: number) => new Date(ms).toISOString()

const isTerminal = (status: string) => status === "SUCCEEDED" || status === "FAILED"

const runLength = (record: WorkflowExecution): number => {
  if (typeof record.runDuration === "number") return record.runDuration
  if (typeof record.dateEnded === "string") {
    const d = Date.parse(record.dateEnded) - Date.parse(record.dateStarted)
    if (Number.isFinite(d) && d > 0) return d
  }
  return 0
}

/** One page (or the end of the range) as the reader hands it to the writer. */
interface Step {
  readonly records: ReadonlyArray<WorkflowExecution>
  /** `Date.parse` of each record's `dateStarted` (same order as `records`), parsed once. */
  readonly starts: ReadonlyArray<number>
  readonly invalid: ExecutionPage["invalid"]
  /** The cursor after this step. */
  readonly cursor: RunCursor
  /** The last step of the range. */
  readonly done: boolean
}

type ScanMode =
  | { readonly _tag: "Keyset" }
  | {
      readonly _tag: "Instant"
      /** The instant (ms) read alone with offsets. */
      readonly at: number
      readonly offset: number
      readonly attempt: number
      readonly firstTotal: number | undefined
      readonly passIds: Set<string>
    }
  | { readonly _tag: "Done" }

interface ScanState {
  readonly cursor: RunCursor
  readonly mode: ScanMode
  /** Ids already handed over whose start is at the edge of the next request (de-duplication). */
  readonly recent: Set<string>
}

const dateOf = (raw: unknown): number | undefined => {
  if (!Predicate.hasProperty(raw, "dateStarted") || typeof raw.dateStarted !== "string") return undefined
  const ms = Date.parse(raw.dateStarted)
  return Number.isNaN(ms) ? undefined : ms
}

const idOf = (raw: unknown): string | undefined =>
  Predicate.hasProperty(raw, "id") && typeof raw.id === "string" && raw.id !== "" ? raw.id : undefined

/**
 * The reader: a stream of steps over [cursor.lower, cursor.end). Each request asks for the
 * next page after the cursor (ASC, offset 0); a full page whose records all share the cursor's
 * instant switches to reading that instant alone with offsets.
 */
const scan = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.ExecutionQuery,
  start: RunCursor,
  /** End of this window (exclusive, ms); the run's end for the last window. */
  endMs: number
): Pull => {
  const endIso = iso(endMs)
  const observe = (cursor: RunCursor, records: ReadonlyArray<WorkflowExecution>): RunCursor => {
    let minOpen = cursor.minOpen
    let longest = cursor.longestRunMs
    for (const r of records) {
      if (!isTerminal(r.status)) {
        const ms = Date.parse(r.dateStarted)
        if (minOpen === undefined || ms < minOpen) minOpen = ms
      }
      const len = runLength(r)
      if (len > longest) longest = len
    }
    return { ...cursor, minOpen, longestRunMs: longest }
  }
  /** The records not handed over yet, with their start dates (`dates`: those of all `records`). */
  const fresh = (
    records: ReadonlyArray<WorkflowExecution>,
    dates: ReadonlyArray<number> | undefined,
    seen: ReadonlySet<string>
  ): { readonly records: ReadonlyArray<WorkflowExecution>; readonly starts: ReadonlyArray<number> } => {
    if (seen.size === 0) return { records, starts: dates ?? records.map((r) => Date.parse(r.dateStarted)) }
    const kept: Array<WorkflowExecution> = []
    const starts: Array<number> = []
    records.forEach((r, k) => {
      if (seen.has(r.id)) return
      kept.push(r)
      starts.push(dates === undefined ? Date.parse(r.dateStarted) : dates[k]!)
    })
    return { records: kept, starts }
  }
  const freshInvalid = (invalid: ExecutionPage["invalid"], seen: ReadonlySet<string>) =>
    seen.size === 0
      ? invalid
      : invalid.filter((i) => {
          const id = idOf(i.raw)
          return id === undefined || !seen.has(id)
        })

  const step = (
    state: ScanState
  ): Effect.Effect<Option.Option<readonly [Step, ScanState]>, RequestError | ExportError> =>
    Effect.gen(function* () {
      const { cursor, mode } = state
      if (mode._tag === "Done") return Option.none()
      if (mode._tag === "Keyset") {
        if (cursor.lower >= endMs) {
          return Option.some([
            { records: [], starts: [], invalid: [], cursor, done: true },
            { ...state, mode: { _tag: "Done" } }
          ] as const)
        }
        const after = cursor.afterInclusive ? cursor.lower : cursor.lower - 1
        const page = yield* client.listPage(
          { ...query, afterDate: iso(after), beforeDate: endIso, sortBy: "ASC" },
          0
        )
        const dates = page.records.map((r) => Date.parse(r.dateStarted))
        // A record exactly at `afterDate`: the bound is inclusive; ask again from `lower`.
        if (!cursor.afterInclusive && dates.some((d) => d === after)) {
          yield* Effect.logDebug("afterDate is inclusive: reading from the cursor itself")
          return Option.some([
            {
              ...fresh(page.records, dates, state.recent),
              invalid: freshInvalid(page.invalid, state.recent),
              cursor: observe(cursor, page.records),
              done: false
            },
            {
              ...state,
              cursor: { ...observe(cursor, page.records), afterInclusive: true },
              recent: new Set([...state.recent, ...page.records.map((r) => r.id)])
            }
          ] as const)
        }
        const count = page.records.length + page.invalid.length
        const full = count >= PAGE_SIZE && page.nextLink !== undefined
        let max = Number.NEGATIVE_INFINITY
        for (const d of dates) if (d > max) max = d
        for (const i of page.invalid) {
          const d = dateOf(i.raw)
          if (d !== undefined && d > max && d < endMs) max = d
        }
        const records = fresh(page.records, dates, state.recent)
        const invalid = freshInvalid(page.invalid, state.recent)
        const observed = observe(cursor, page.records)
        if (!full) {
          const last = { ...observed, lower: endMs }
          return Option.some([
            { ...records, invalid, cursor: last, done: true },
            { cursor: last, mode: { _tag: "Done" }, recent: new Set() }
          ] as const)
        }
        if (max > cursor.lower) {
          // Everything before `max` is read; records at `max` itself may continue on the next page.
          const next = { ...observed, lower: max }
          const recent = new Set<string>()
          page.records.forEach((r, k) => {
            if (dates[k]! >= max - 1) recent.add(r.id)
          })
          return Option.some([
            { ...records, invalid, cursor: next, done: false },
            { cursor: next, mode: { _tag: "Keyset" }, recent }
          ] as const)
        }
        // A full page and no progress: the instant `lower` holds a page or more on its own.
        yield* Effect.logInfo(
          `more than one page of executions started at ${iso(cursor.lower)}: reading that instant alone`
        )
        const recent = new Set([...state.recent, ...page.records.map((r) => r.id)])
        return Option.some([
          { ...records, invalid, cursor: observed, done: false },
          {
            cursor: observed,
            mode: {
              _tag: "Instant",
              at: cursor.lower,
              offset: 0,
              attempt: 1,
              firstTotal: undefined,
              passIds: new Set()
            },
            recent
          }
        ] as const)
      }
      // Instant mode: the window around one instant, ASC, with offsets.
      const lowBound = cursor.afterInclusive ? mode.at : mode.at - 1
      const page = yield* client.listPage(
        { ...query, afterDate: iso(lowBound), beforeDate: iso(Math.min(mode.at + 1, endMs)), sortBy: "ASC" },
        mode.offset
      )
      const firstTotal = mode.offset === 0 ? page.total : mode.firstTotal
      for (const r of page.records) mode.passIds.add(r.id)
      for (const i of page.invalid) {
        const id = idOf(i.raw)
        if (id !== undefined) mode.passIds.add(id)
      }
      const records = fresh(page.records, undefined, state.recent)
      const invalid = freshInvalid(page.invalid, state.recent)
      const recent = new Set([...state.recent, ...page.records.map((r) => r.id)])
      const observed = observe(cursor, page.records)
      const count = page.records.length + page.invalid.length
      const pages = mode.offset / PAGE_SIZE + 1
      if (count >= PAGE_SIZE && page.nextLink !== undefined && pages < INSTANT_MAX_PAGES) {
        return Option.some([
          { ...records, invalid, cursor: observed, done: false },
          { cursor: observed, mode: { ...mode, offset: mode.offset + PAGE_SIZE, firstTotal }, recent }
        ] as const)
      }
      // The pass is over: it is complete when `total` did not move and every id was seen.
      const total = page.total
      const consistent = total === undefined || (firstTotal === total && mode.passIds.size >= total)
      if (!consistent) {
        if (mode.attempt >= INSTANT_ATTEMPTS) {
          return yield* new ExportError({
            reason: "Inconsistent",
            detail: `the ${total} executions started at ${iso(mode.at)} could not be read in one consistent pass after ${INSTANT_ATTEMPTS} attempts (ids seen: ${mode.passIds.size})`
          })
        }
        yield* Effect.logWarning(
          `executions started at ${iso(mode.at)}: ${mode.passIds.size} ids for a total of ${total}; reading the instant again`
        )
        return Option.some([
          { ...records, invalid, cursor: observed, done: false },
          {
            cursor: observed,
            mode: {
              _tag: "Instant",
              at: mode.at,
              offset: 0,
              attempt: mode.attempt + 1,
              firstTotal: undefined,
              passIds: new Set()
            },
            recent
          }
        ] as const)
      }
      const next = { ...observed, lower: Math.min(mode.at + 1, endMs) }
      return Option.some([
        { ...records, invalid, cursor: next, done: false },
        { cursor: next, mode: { _tag: "Keyset" }, recent }
      ] as const)
    })

  let current: ScanState = { cursor: start, mode: { _tag: "Keyset" }, recent: new Set() }
  return Effect.suspend(() =>
    Effect.map(step(current), (next) => {
      if (Option.isNone(next)) return undefined
      current = next.value[1]
      return next.value[0]
    })
  )
}

/** Windows read at once on a long range, and the shortest range worth splitting per window. */
const MAX_WINDOWS = 4
const MIN_WINDOW_MS = 6 * HOUR

/**
 * A reader of steps: each pull hands over the next step, `undefined` once the range is read (and
 * is not pulled again after that).
 */
type Pull = Effect.Effect<Step | undefined, RequestError | ExportError>

/**
 * Runs `pull` in a fiber of its own, up to `capacity` steps ahead of the reader of the returned
 * pull (plain fiber and queue: no stream stages per page). The fiber ends with the scope.
 */
const readAhead = (pull: Pull, capacity: number): Effect.Effect<Pull, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.bounded<Exit.Exit<Step | undefined, RequestError | ExportError>>(capacity)
    const produce = Effect.gen(function* () {
      for (;;) {
        const exit = yield* Effect.exit(pull)
        yield* Queue.offer(queue, exit)
        if (Exit.isFailure(exit) || exit.value === undefined) return
      }
    })
    yield* Effect.forkScoped(produce)
    let ended = false
    return Effect.suspend(() =>
      ended
        ? Effect.succeed(undefined)
        : Effect.flatMap(Queue.take(queue), (exit) => {
            if (Exit.isFailure(exit) || exit.value === undefined) ended = true
            return exit
          })
    )
  })

/**
 * Reads [start.lower, end) as up to {@link MAX_WINDOWS} consecutive windows of start dates, each
 * with its own keyset reader, fetched at the same time but handed over in order (each window
 * reads `prefetch` pages ahead). So the cursor still means "everything before it is read": a
 * window's steps come only after every earlier window is complete. The cursors of the steps carry
 * what the earlier windows observed (running executions, longest run, inclusive bounds).
 */
const scanWindows = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.ExecutionQuery,
  start: RunCursor,
  prefetch: number
): Effect.Effect<Pull, never, Scope.Scope> =>
  Effect.gen(function* () {
    const endMs = Date.parse(start.end)
    const range = Math.max(0, endMs - start.lower)
    const count = Math.max(1, Math.min(MAX_WINDOWS, Math.floor(range / MIN_WINDOW_MS)))
    if (count === 1) return yield* readAhead(scan(client, query, start, endMs), prefetch)
    const bounds = Array.from({ length: count + 1 }, (_, i) =>
      i === count ? endMs : start.lower + Math.floor((range * i) / count)
    )
    const windows: Array<Pull> = []
    for (let i = 0; i < count; i++) {
      const window = scan(client, query, { ...start, lower: bounds[i]!, minOpen: undefined }, bounds[i + 1]!)
      windows.push(yield* readAhead(window, prefetch))
    }
    let index = 0
    let acc = { minOpen: start.minOpen, longest: start.longestRunMs, inclusive: start.afterInclusive }
    const next: Pull = Effect.suspend(() =>
      index >= count
        ? Effect.succeed(undefined)
        : Effect.flatMap(windows[index]!, (step) => {
            if (step === undefined) {
              index++
              return next
            }
            const c = step.cursor
            const minOpen =
              acc.minOpen === undefined
                ? c.minOpen
                : c.minOpen === undefined
                  ? acc.minOpen
                  : Math.min(acc.minOpen, c.minOpen)
            const longest = Math.max(acc.longest, c.longestRunMs)
            const inclusive = acc.inclusive || c.afterInclusive
            const cursor: RunCursor = {
              ...c,
              end: start.end,
              minOpen,
              longestRunMs: longest,
              afterInclusive: inclusive
            }
            // A window's end is the next one's start; only the last window ends the run.
            if (step.done) acc = { minOpen, longest, inclusive }
            return Effect.succeed<Step>({ ...step, cursor, done: step.done && index === count - 1 })
          })
    )
    return next
  })

/**
 * Pulls every step of `pull` and hands them to `write` in groups of `pagesPerBatch` (the last
 * group may be smaller). The readers keep fetching while a group is written.
 */
const drain = <E, R>(
  pull: Pull,
  pagesPerBatch: number,
  write: (steps: ReadonlyArray<Step>) => Effect.Effect<void, E, R>
): Effect.Effect<void, E | RequestError | ExportError, R> =>
  Effect.gen(function* () {
    let group: Array<Step> = []
    for (;;) {
      const step = yield* pull
      if (step === undefined) break
      group.push(step)
      if (group.length >= pagesPerBatch) {
        const full = group
        group = []
        yield* write(full)
      }
    }
    if (group.length > 0) yield* write(group)
  })

const toReject = (invalid: ExecutionPage["invalid"][number], seenAt: string): Reject => ({
  id: idOf(invalid.raw),
  raw: JSON.stringify(invalid.raw) ?? String(invalid.raw),
  reason: invalid.reason,
  seenAt
})

const counterValue = (counter: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(counter), (state) => state.count)

/** Days read again after a mismatch: which, and the progress in the first one. */
interface Plan {
  /** Start (ms) of each UTC day to read again, ascending. */
  readonly days: ReadonlyArray<number>
  /** Every execution of the first day that started before this instant has been read again. */
  readonly at: number | undefined
  /** What was read of the first day so far. */
  readonly acc: L.Count | undefined
}

/** Everything the engine keeps in `ExportState.cursor` (version 2; version 1 was a bare RunCursor). */
interface Stored {
  /** A keyset read under way. */
  readonly run: RunCursor | undefined
  /** Hourly counts of that read for start dates at or after `base`. */
  readonly tally: Map<number, L.Count>
  readonly base: number | undefined
  readonly ledger: L.Ledger | undefined
  readonly plan: Plan | undefined
  /** Ids already counted that started exactly at the stored position (read again on resume). */
  readonly edge: ReadonlyArray<string>
}

const decodePlan = (u: unknown): Plan | undefined => {
  if (!Predicate.isRecord(u) || !Array.isArray(u.days)) return undefined
  const days = u.days.filter((d): d is number => typeof d === "number")
  if (days.length === 0) return undefined
  return {
    days,
    at: typeof u.at === "number" ? u.at : undefined,
    acc: u.acc === undefined ? undefined : L.decodeCountValue(u.acc)
  }
}

const decodeStored = (u: unknown): Stored => {
  const empty: Stored = {
    run: undefined,
    tally: new Map(),
    base: undefined,
    ledger: undefined,
    plan: undefined,
    edge: []
  }
  if (!Predicate.isRecord(u)) return empty
  if (u.v === 1) return { ...empty, run: decodeCursor(u) }
  if (u.v !== 2) return empty
  return {
    run: u.run === undefined ? undefined : decodeCursor(u.run),
    tally: L.decodeTally(u.tally),
    base: typeof u.base === "number" ? u.base : undefined,
    ledger: L.decodeLedger(u.ledger),
    plan: decodePlan(u.plan),
    edge: Array.isArray(u.edge) ? u.edge.filter((id): id is string => typeof id === "string") : []
  }
}

const encodeStored = (s: Omit<Stored, "edge"> & { readonly edge?: ReadonlyArray<string> }): unknown => ({
  v: 2,
  ...(s.edge === undefined || s.edge.length === 0 ? {} : { edge: s.edge }),
  ...(s.run === undefined ? {} : { run: s.run, tally: L.encodeTally(s.tally), base: s.base }),
  ...(s.ledger === undefined ? {} : { ledger: L.encodeLedger(s.ledger) }),
  ...(s.plan === undefined
    ? {}
    : {
        plan: {
          days: s.plan.days,
          ...(s.plan.at === undefined ? {} : { at: s.plan.at }),
          ...(s.plan.acc === undefined ? {} : { acc: L.encodeCountValue(s.plan.acc) })
        }
      })
})

/** Adds the records of a step to hourly counts (start dates at or after `base` only). */
const tallyStep = (
  tally: Map<number, L.Count>,
  base: number,
  step: Step,
  skip: ReadonlySet<string>
): void => {
  let fallback = step.cursor.lower
  for (const at of step.starts) if (at < fallback) fallback = at
  const count = (at: number, id: string | undefined) => {
    if (at < base || (id !== undefined && skip.has(id))) return
    const hour = L.floorHour(at)
    let c = tally.get(hour)
    if (c === undefined) {
      c = L.emptyCount()
      tally.set(hour, c)
    }
    L.add(c, at, id, hour + HOUR)
  }
  for (let k = 0; k < step.records.length; k++) count(step.starts[k]!, step.records[k]!.id)
  for (const i of step.invalid) {
    const p = L.placeOf(i.raw)
    // A record without a readable start date is counted near its page (its day is re-read on a mismatch).
    if (p.at === undefined) count(fallback, undefined)
    else count(p.at, p.id)
  }
}

/** Adds the records of a step of a re-read of one day (every record belongs to that day). */
const countStep = (
  acc: L.Count,
  day: readonly [number, number],
  step: Step,
  skip: ReadonlySet<string>
): L.Count => {
  const next = { ...acc }
  // Inclusive date bounds hand over records of the neighbouring days' edges too: not this day's.
  const inDay = (at: number) => at >= day[0] && at < day[1]
  step.records.forEach((r, k) => {
    const at = step.starts[k]!
    if (!skip.has(r.id) && inDay(at)) L.add(next, at, r.id, day[1])
  })
  for (const i of step.invalid) {
    const p = L.placeOf(i.raw)
    if ((p.id !== undefined && skip.has(p.id)) || (p.at !== undefined && !inDay(p.at))) continue
    L.add(next, p.at ?? day[0], p.at === undefined ? undefined : p.id, day[1])
  }
  return next
}

/** Ids of the steps' records that started exactly at `lower` (with the previous ones when `lower` did not move). */
const edgeIds = (
  all: ReadonlyArray<Step>,
  lower: number,
  previous: { readonly lower: number | undefined; readonly ids: ReadonlyArray<string> }
): ReadonlyArray<string> => {
  const out = new Set(previous.lower === lower ? previous.ids : [])
  for (const s of all) {
    s.records.forEach((r, k) => {
      if (s.starts[k] === lower) out.add(r.id)
    })
    for (const i of s.invalid) {
      const p = L.placeOf(i.raw)
      if (p.at === lower && p.id !== undefined) out.add(p.id)
    }
  }
  // Bounded: a longer list only costs a false alarm (a day read again) after a resume.
  return [...out].slice(0, 1_000)
}

/** @internal */
export const run = (
  options: RunOptions = {}
): Effect.Effect<RunReport, ExportError | RequestError | SinkError, TaskHistoryClient | Sink> =>
  Effect.gen(function* () {
    const client = yield* TaskHistoryClient
    const sink = yield* Sink
    const startedAt = yield* Clock.currentTimeMillis
    const filters = options.filters ?? {}
    const query = yield* Effect.mapError(
      ExecutionQuery.makeEffect({
        integration: filters.integration,
        workflowId: filters.workflowId,
        userId: filters.userId,
        status: filters.status
      }),
      (e) => new ExportError({ reason: "InvalidOptions", detail: e.message })
    )
    const batchSize = options.batchSize ?? 500
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      return yield* new ExportError({
        reason: "InvalidOptions",
        detail: `batchSize ${batchSize}: expected a positive integer`
      })
    }
    const verify = options.verify ?? "auto"
    if (verify !== "auto" && verify !== "off") {
      return yield* new ExportError({
        reason: "InvalidOptions",
        detail: `verify ${JSON.stringify(verify)}: expected "auto" or "off"`
      })
    }
    let since: number | undefined
    if (options.since !== undefined) {
      const normalized = ExecutionQuery.normalizeDate(options.since)
      if (normalized === undefined) {
        return yield* new ExportError({
          reason: "InvalidOptions",
          detail: `since ${JSON.stringify(options.since)}: expected an ISO 8601 date`
        })
      }
      since = Date.parse(normalized)
    }
    const key = streamKey(query)
    const onInvalid = options.onInvalid ?? "quarantine"
    const stored = yield* sink.loadState(key)
    const previous = Option.getOrUndefined(stored)
    const saved = decodeStored(previous?.cursor)
    const longestBefore = previous?.longestRunMs ?? 0
    const requestsBefore = yield* counterValue(TaskHistoryMetrics.requests)
    const limitedBefore = yield* counterValue(TaskHistoryMetrics.rateLimited)

    // The ledger (verification of closed ranges) is kept only while verification is on.
    let ledger = verify === "auto" ? saved.ledger : undefined
    let plan = verify === "auto" ? saved.plan : undefined
    let tally = saved.tally
    let base = saved.base
    let checked = 0
    // Records counted before an interruption that the resumed read hands over again.
    let resumeSkip: ReadonlySet<string> = new Set(saved.edge)

    /** `total` and first id of [a, b) (`afterDate = a - 1 ms`, `beforeDate = b - 1 ms`, ASC). */
    const probe = (a: number, b: number) =>
      Effect.map(
        client.listPage({ ...query, afterDate: iso(a - 1), beforeDate: iso(b - 1), sortBy: "ASC" }, 0),
        (page) => {
          checked++
          return { a, b, total: page.total, head: L.headOf(page.records, page.invalid, a) }
        }
      )
    const agrees = (
      l: L.Ledger,
      r: {
        readonly a: number
        readonly b: number
        readonly total: number | undefined
        readonly head: string | null
      }
    ) => r.total !== undefined && L.agrees(l, r.a, r.b, r.total, r.head, false)

    /** Compares the ledger with the API: one request, then weeks and days only where they differ. */
    /** The days of [a, b) that differ from the ledger: weeks first, then their days. */
    const drill = (l: L.Ledger, a: number, b: number) =>
      Effect.gen(function* () {
        const single = L.segments(a, b, "day")
        if (single.length === 1) return [L.dayStart(a)]
        const weeks = yield* Effect.forEach(L.segments(a, b, "week"), ([wa, wb]) => probe(wa, wb), {
          concurrency: 4
        })
        const suspects = weeks.filter((w) => !agrees(l, w)).flatMap((w) => L.segments(w.a, w.b, "day"))
        const days = yield* Effect.forEach(suspects, ([da, db]) => probe(da, db), { concurrency: 4 })
        return days.filter((d) => !agrees(l, d)).map((d) => L.dayStart(d.a))
      })

    /** Compares the ledger with the API: one request (three once retention is at work), then drills down. */
    const check = (l: L.Ledger) =>
      Effect.gen(function* () {
        const roots = yield* Effect.forEach(L.checkRanges(l), ([a, b]) => probe(a, b), { concurrency: 3 })
        if (roots.some((r) => r.total === undefined)) {
          yield* Effect.logWarning(
            "the API sent no total: late arrivals older than the look-back cannot be verified"
          )
          return { changed: [], ledger: l }
        }
        const changed: Array<number> = []
        for (const root of roots) if (!agrees(l, root)) changed.push(...(yield* drill(l, root.a, root.b)))
        if (changed.length > 0) {
          yield* Effect.logDebug(`the ledger differs from the API: ${changed.length} day(s) to read again`)
        }
        const oldest = L.oldestDay(l)
        const expiring = l.expiring === true || (oldest !== undefined && changed.includes(oldest))
        return { changed, ledger: expiring ? { ...l, expiring: true } : l }
      })

    let start: RunCursor | undefined
    if (saved.run !== undefined) {
      start = saved.run
      yield* Effect.logInfo(`resuming an interrupted run at ${iso(start.lower)} (range ends ${start.end})`)
    } else if (plan !== undefined) {
      yield* Effect.logInfo(`resuming the re-read of ${plan.days.length} day(s) whose totals changed`)
    } else {
      const lookback =
        options.lookback === undefined ? defaultLookback(longestBefore) : Duration.decode(options.lookback)
      const hwm = previous?.highWaterMark === undefined ? undefined : Date.parse(previous.highWaterMark)
      const from =
        hwm !== undefined && !Number.isNaN(hwm)
          ? hwm - Duration.toMillis(lookback)
          : (since ?? startedAt - retentionMs)
      let lower = Math.min(from, startedAt)
      if (verify === "auto") {
        if (ledger !== undefined) {
          ledger = L.prune(ledger, startedAt - retentionMs)
          const result = yield* check(ledger)
          ledger = result.ledger
          const changed = result.changed
          if (changed.length > 0) plan = { days: changed, at: undefined, acc: undefined }
          // The keyset read covers what the ledger does not yet (its counts grow from `ledger.to`).
          lower = Math.min(lower, ledger.to)
        } else {
          ledger = { from: lower, to: lower, days: new Map() }
        }
        base = ledger.to
        tally = new Map()
      }
      start = {
        v: 1,
        end: iso(startedAt),
        lower,
        minOpen: undefined,
        afterInclusive: false,
        longestRunMs: longestBefore
      }
      yield* Effect.logDebug(`reading executions started from ${iso(start.lower)} to ${start.end}`)
    }

    const totals = { seen: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0 }
    let highWaterMark = previous?.highWaterMark ?? start?.end ?? iso(startedAt)
    let longestRunMs = longestBefore
    let lastRunAt = previous?.lastRunAt
    let afterInclusive = start?.afterInclusive ?? false
    const pagesPerBatch = Math.max(1, Math.ceil(batchSize / PAGE_SIZE))
    let reread = 0

    const writeSteps = (all: ReadonlyArray<Step>, state: ExportState) =>
      Effect.gen(function* () {
        const records = all.flatMap((s) => s.records)
        const invalid = all.flatMap((s) => s.invalid)
        const now = iso(yield* Clock.currentTimeMillis)
        if (invalid.length > 0 && onInvalid === "fail") {
          const first = invalid[0]!
          const id = idOf(first.raw)
          return yield* new ExportError({
            reason: "InvalidRecords",
            detail: `${id === undefined ? "a record without an id" : `record ${id}`}: ${first.reason}`
          })
        }
        const rejects = invalid.map((i) => toReject(i, now))
        const result = yield* sink.writeBatch({ records, rejects, state })
        totals.seen += records.length + invalid.length
        totals.inserted += result.inserted
        totals.updated += result.updated
        totals.unchanged += result.unchanged
        totals.rejected += result.rejected
        if (rejects.length > 0) {
          yield* Effect.logWarning(
            `quarantined ${rejects.length} invalid record(s) in the rejects of ${sink.name}; first: ${rejects[0]!.id ?? "(no id)"}: ${rejects[0]!.reason}`
          )
        }
      })

    let storedHwm = previous?.highWaterMark
    const state = (cursor: unknown): ExportState => ({
      streamKey: key,
      highWaterMark: storedHwm,
      longestRunMs,
      lastRunAt,
      cursor
    })

    if (start !== undefined) {
      const keysetStart = start
      const keysetBase = base ?? keysetStart.lower
      let hwmSet = false
      const skip = resumeSkip
      resumeSkip = new Set()
      let edge: { readonly lower: number | undefined; readonly ids: ReadonlyArray<string> } = {
        lower: saved.run?.lower,
        ids: saved.run === undefined ? [] : saved.edge
      }
      const write = (all: ReadonlyArray<Step>) =>
        Effect.gen(function* () {
          const last = all[all.length - 1]!
          const cursor = last.cursor
          // Counted in place: a batch that fails to write ends the run, so the counts are not used again.
          const nextTally = tally
          if (ledger !== undefined) for (const s of all) tallyStep(nextTally, keysetBase, s, skip)
          const nextEdge = { lower: cursor.lower, ids: edgeIds(all, cursor.lower, edge) }
          const now = yield* Clock.currentTimeMillis
          let stateToWrite: ExportState
          if (last.done) {
            const endMs = Date.parse(cursor.end)
            const hold = cursor.minOpen === undefined ? endMs : Math.min(endMs, cursor.minOpen)
            const nextLookback =
              options.lookback === undefined
                ? defaultLookback(cursor.longestRunMs)
                : Duration.decode(options.lookback)
            const grown =
              ledger === undefined
                ? undefined
                : L.grow(
                    ledger,
                    nextTally,
                    L.floorHour(Math.min(hold - Duration.toMillis(nextLookback), endMs))
                  )
            stateToWrite = {
              streamKey: key,
              highWaterMark: iso(hold),
              longestRunMs: cursor.longestRunMs,
              lastRunAt: iso(now),
              cursor:
                grown === undefined && plan === undefined
                  ? null
                  : encodeStored({ run: undefined, tally: new Map(), base: undefined, ledger: grown, plan })
            }
            yield* writeSteps(all, stateToWrite)
            highWaterMark = iso(hold)
            storedHwm = highWaterMark
            hwmSet = true
            longestRunMs = cursor.longestRunMs
            lastRunAt = iso(now)
            afterInclusive = cursor.afterInclusive
            ledger = grown
          } else {
            stateToWrite = {
              streamKey: key,
              highWaterMark: previous?.highWaterMark,
              longestRunMs: longestBefore,
              lastRunAt: previous?.lastRunAt,
              cursor: encodeStored({
                run: cursor,
                tally: nextTally,
                base: keysetBase,
                ledger,
                plan,
                edge: ledger === undefined ? [] : nextEdge.ids
              })
            }
            yield* writeSteps(all, stateToWrite)
          }
          tally = nextTally
          edge = nextEdge
        })

      // The next pages are fetched while the current batch is written.
      yield* Effect.scoped(
        Effect.flatMap(scanWindows(client, query, keysetStart, pagesPerBatch + 1), (pull) =>
          drain(pull, pagesPerBatch, write)
        )
      )
      if (!hwmSet) highWaterMark = previous?.highWaterMark ?? keysetStart.end
    }

    // Read again the days whose totals changed (late arrivals older than the look-back, expiry).
    for (let guard = 0; plan !== undefined && ledger !== undefined && guard < 1_000; guard++) {
      const l: L.Ledger = ledger
      const p: Plan = plan
      const dayKey = p.days[0]!
      const day = [Math.max(dayKey, l.from), Math.min(dayKey + L.DAY, l.to)] as const
      const rest = p.days.slice(1)
      if (day[0] >= day[1]) {
        plan = rest.length === 0 ? undefined : { days: rest, at: undefined, acc: undefined }
        continue
      }
      reread++
      yield* Effect.logDebug(`reading again executions started on ${iso(dayKey).slice(0, 10)}`)
      let acc = p.acc ?? L.emptyCount()
      const skip = p.at === undefined ? new Set<string>() : resumeSkip
      resumeSkip = new Set()
      let edge: { readonly lower: number | undefined; readonly ids: ReadonlyArray<string> } = {
        lower: p.at,
        ids: [...skip]
      }
      const from: RunCursor = {
        v: 1,
        end: iso(day[1]),
        lower: p.at ?? day[0],
        minOpen: undefined,
        afterInclusive,
        longestRunMs
      }
      const write = (all: ReadonlyArray<Step>) =>
        Effect.gen(function* () {
          const last = all[all.length - 1]!
          let next = acc
          for (const s of all) next = countStep(next, day, s, skip)
          const nextEdge = { lower: last.cursor.lower, ids: edgeIds(all, last.cursor.lower, edge) }
          const now = iso(yield* Clock.currentTimeMillis)
          if (last.done) {
            const days = new Map(l.days)
            if (next.c === 0) days.delete(dayKey)
            else days.set(dayKey, next)
            const nextLedger: L.Ledger = { ...l, days }
            const nextPlan = rest.length === 0 ? undefined : { days: rest, at: undefined, acc: undefined }
            lastRunAt = now
            yield* writeSteps(
              all,
              state(
                encodeStored({
                  run: undefined,
                  tally: new Map(),
                  base: undefined,
                  ledger: nextLedger,
                  plan: nextPlan
                })
              )
            )
            ledger = nextLedger
            plan = nextPlan
          } else {
            const nextPlan: Plan = { days: p.days, at: last.cursor.lower, acc: next }
            yield* writeSteps(
              all,
              state(
                encodeStored({
                  run: undefined,
                  tally: new Map(),
                  base: undefined,
                  ledger: l,
                  plan: nextPlan,
                  edge: nextEdge.ids
                })
              )
            )
          }
          acc = next
          edge = nextEdge
        })
      yield* Effect.scoped(
        Effect.flatMap(readAhead(scan(client, query, from, day[1]), pagesPerBatch + 1), (pull) =>
          drain(pull, pagesPerBatch, write)
        )
      )
    }

    const finishedAt = yield* Clock.currentTimeMillis
    const report: RunReport = {
      ...totals,
      requests: (yield* counterValue(TaskHistoryMetrics.requests)) - requestsBefore,
      rateLimited: (yield* counterValue(TaskHistoryMetrics.rateLimited)) - limitedBefore,
      durationMs: finishedAt - startedAt,
      highWaterMark,
      streamKey: key,
      checked,
      reread
    }
    yield* Effect.logDebug("export run finished").pipe(Effect.annotateLogs({ ...report }))
    return report
  }).pipe(Effect.annotateLogs({ component: "taskhistory-export" }), Effect.withLogSpan("export"))
