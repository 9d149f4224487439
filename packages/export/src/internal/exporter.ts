/**
 * The run loop: one export run in phases, each taking the run's {@link Progress} and returning the
 * next one.
 *
 * 1. {@link begin}: where the run starts: an interrupted keyset read, an interrupted re-read, or a
 *    new read from the high-water mark minus the look-back (checking the ledger first).
 * 2. {@link keysetPhase}: reads that range with the scanner (`scan.ts`) and writes it in batches,
 *    each with the cursor that covers it; the last one moves the high-water mark and grows the
 *    ledger.
 * 3. {@link rereadDay}, for each day whose total changed (`verify.ts`): reads that day again.
 *
 * The stored form of the cursor is in `cursor.ts`, the ledger's arithmetic in `ledger.ts`.
 *
 * @internal
 */
import { TaskHistoryClient, type TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import * as TaskHistoryMetrics from "@taskhistory/core/TaskHistoryMetrics"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Clock, Deferred, Duration, Effect, Metric, Option, Queue } from "effect"
import type { Freshness, RunOptions, RunPlan, RunReport } from "../Exporter.js"
import { recordFinished } from "../ExportMetrics.js"
import {
  type BatchResult,
  type ExportState,
  Sink,
  type SinkError,
  type SinkShape,
  type StepStore
} from "../Sink.js"
import * as Cursor from "./cursor.js"
import { ExportError } from "./exportError.js"
import * as L from "./ledger.js"
import { idOf } from "./rawRecord.js"
import { drain, type HandOver, readAhead, readWindows } from "./readers.js"
import { toReject } from "./rejects.js"
import { defaultLookback, retentionMs, type Settings, settingsOf } from "./runOptions.js"
import { type Step, scan } from "./scan.js"
import { makeGate, type StepSettings, work } from "./stepFetch.js"
import * as Verify from "./verify.js"

export { defaultLookback, streamKey } from "./runOptions.js"
export { ExportError }

const iso = (ms: number) => new Date(ms).toISOString()

// ---------------------------------------------------------------------------------------------
// the run's state

/** What does not change during a run. */
interface Context {
  readonly client: TaskHistoryClientShape
  readonly sink: SinkShape
  readonly settings: Settings
  /** When the run began (ms): the end of its range. */
  readonly startedAt: number
  /** The state stored before the run. */
  readonly previous: ExportState | undefined
  /** Tells the step worker that a batch was written (its executions may be queued). */
  readonly wrote: Effect.Effect<void>
}

type Totals = Pick<RunReport, "seen" | "inserted" | "updated" | "unchanged" | "rejected" | "finished">

/** What a phase hands to the next. */
interface Progress {
  /** The stored state's fields other than the cursor, as they are now. */
  readonly highWaterMark: string | undefined
  readonly longestRunMs: number
  readonly lastRunAt: string | undefined
  /** What the last complete keyset read covered (carried in every stored cursor). */
  readonly fresh: Cursor.Fresh | undefined
  readonly afterInclusive: boolean
  readonly ledger: L.Ledger | undefined
  readonly plan: Cursor.Plan | undefined
  /** Records counted before an interruption that the resumed read hands over again. */
  readonly resumeSkip: ReadonlySet<string>
  readonly totals: Totals
  readonly checked: number
  readonly reread: number
}

const lookbackOf = (ctx: Context, longestRunMs: number) =>
  ctx.settings.lookback === undefined ? defaultLookback(longestRunMs) : Duration.decode(ctx.settings.lookback)

const stateWith = (ctx: Context, p: Progress, cursor: unknown): ExportState => ({
  streamKey: ctx.settings.key,
  highWaterMark: p.highWaterMark,
  longestRunMs: p.longestRunMs,
  lastRunAt: p.lastRunAt,
  cursor
})

const addTotals = (totals: Totals, seen: number, r: BatchResult): Totals => ({
  seen: totals.seen + seen,
  inserted: totals.inserted + r.inserted,
  updated: totals.updated + r.updated,
  unchanged: totals.unchanged + r.unchanged,
  rejected: totals.rejected + r.rejected,
  finished: totals.finished + r.finished.length
})

/** Writes the records of `all` with `state` in one batch (invalid ones quarantined, or the run fails). */
const writeSteps = (ctx: Context, all: ReadonlyArray<Step>, state: ExportState, totals: Totals) =>
  Effect.gen(function* () {
    const records = all.flatMap((s) => s.records)
    const invalid = all.flatMap((s) => s.invalid)
    const now = iso(yield* Clock.currentTimeMillis)
    const first = invalid[0]
    if (first !== undefined && ctx.settings.onInvalid === "fail") {
      const id = idOf(first.raw)
      return yield* new ExportError({
        reason: "InvalidRecords",
        detail: `${id === undefined ? "a record without an id" : `record ${id}`}: ${first.reason}`,
        cause: first
      })
    }
    const rejects = invalid.map((i) => toReject(i, now))
    const result = yield* ctx.sink.writeBatch({ records, rejects, state, steps: ctx.settings.steps?.scope })
    yield* ctx.wrote
    // Counted once committed: the sink decided each transition inside its transaction.
    yield* recordFinished(result.finished)
    if (rejects.length > 0) {
      yield* Effect.logWarning(
        `quarantined ${rejects.length} invalid record(s) in the rejects of ${ctx.sink.name}; first: ${rejects[0]!.id ?? "(no id)"}: ${rejects[0]!.reason}`
      )
    }
    return addTotals(totals, records.length + invalid.length, result)
  })

// ---------------------------------------------------------------------------------------------
// phases

/** Where the run starts, and the progress before its first batch. */
const begin = (ctx: Context, saved: Cursor.Stored) =>
  Effect.gen(function* () {
    const auto = ctx.settings.verify === "auto"
    const longestBefore = ctx.previous?.longestRunMs ?? 0
    const progress: Progress = {
      highWaterMark: ctx.previous?.highWaterMark,
      longestRunMs: longestBefore,
      lastRunAt: ctx.previous?.lastRunAt,
      fresh: saved.fresh,
      afterInclusive: saved.run?.afterInclusive ?? false,
      // The ledger (verification of closed ranges) is kept only while verification is on.
      ledger: auto ? saved.ledger : undefined,
      plan: auto ? saved.plan : undefined,
      resumeSkip: new Set(saved.edge),
      totals: { seen: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, finished: 0 },
      checked: 0,
      reread: 0
    }
    if (saved.run !== undefined) {
      yield* Effect.logInfo(
        `resuming an interrupted run at ${iso(saved.run.lower)} (range ends ${saved.run.end})`
      )
      return { progress, start: saved.run, tally: saved.tally, base: saved.base }
    }
    if (progress.plan !== undefined) {
      yield* Effect.logInfo(
        `resuming the re-read of ${progress.plan.days.length} day(s) whose totals changed`
      )
      return { progress, start: undefined, tally: saved.tally, base: saved.base }
    }
    const hwm =
      ctx.previous?.highWaterMark === undefined ? Number.NaN : Date.parse(ctx.previous.highWaterMark)
    const from = !Number.isNaN(hwm)
      ? hwm - Duration.toMillis(lookbackOf(ctx, longestBefore))
      : (ctx.settings.since ?? ctx.startedAt - retentionMs)
    const lower = Math.min(from, ctx.startedAt)
    const verified = auto ? yield* checkLedger(ctx, progress, lower) : { progress, lower, base: saved.base }
    const start = Cursor.runCursor(ctx.startedAt, verified.lower, false, longestBefore)
    yield* Effect.logDebug(`reading executions started from ${iso(start.lower)} to ${start.end}`)
    const tally = auto ? new Map<number, L.Count>() : saved.tally
    return { progress: verified.progress, start, tally, base: verified.base }
  })

/** A new run with verification on: compares the ledger with the API (or starts one at `lower`). */
const checkLedger = (ctx: Context, progress: Progress, lower: number) =>
  Effect.gen(function* () {
    if (progress.ledger === undefined) {
      const ledger: L.Ledger = { from: lower, to: lower, days: new Map() }
      return { progress: { ...progress, ledger }, lower, base: ledger.to }
    }
    const result = yield* Verify.check(
      ctx.client,
      ctx.settings.query,
      L.prune(progress.ledger, ctx.startedAt - retentionMs)
    )
    const plan =
      result.changed.length > 0 ? { days: result.changed, at: undefined, acc: undefined } : progress.plan
    return {
      progress: { ...progress, ledger: result.ledger, plan, checked: progress.checked + result.probes },
      // The keyset read covers what the ledger does not yet (its counts grow from `ledger.to`).
      lower: Math.min(lower, result.ledger.to),
      base: result.ledger.to
    }
  })

/** What the records of a keyset read said about the run so far. */
interface Observed {
  /** Earliest start (ms) of an execution seen still running. */
  readonly minOpen: number | undefined
  /** Executions seen still running (each counted once). */
  readonly open: number
  readonly longestRunMs: number
  readonly afterInclusive: boolean
}

const isTerminal = (status: string) => status === "SUCCEEDED" || status === "FAILED"

const runLength = (record: WorkflowExecution): number => {
  if (typeof record.runDuration === "number") return record.runDuration
  if (typeof record.dateEnded === "string") {
    const d = Date.parse(record.dateEnded) - Date.parse(record.dateStarted)
    if (Number.isFinite(d) && d > 0) return d
  }
  return 0
}

/**
 * `seen` after the records of `steps` (each handed over once, but for the ids in `skip`, already
 * counted before an interruption): the earliest still running, how many, the longest run, the
 * bounds.
 */
const observe = (seen: Observed, steps: ReadonlyArray<Step>, skip: ReadonlySet<string>): Observed => {
  let { minOpen, open, longestRunMs, afterInclusive } = seen
  for (const step of steps) {
    if (step.cursor.afterInclusive) afterInclusive = true
    step.records.forEach((r, k) => {
      if (!isTerminal(r.status)) {
        const at = step.starts[k]!
        if (minOpen === undefined || at < minOpen) minOpen = at
        if (!skip.has(r.id)) open++
      }
      const len = runLength(r)
      if (len > longestRunMs) longestRunMs = len
    })
  }
  return { minOpen, open, longestRunMs, afterInclusive }
}

/** The state of a keyset read between two batches. */
interface KeysetRead {
  readonly progress: Progress
  readonly tally: Map<number, L.Count>
  readonly observed: Observed
  /** Per window (by the lower of its stored span): ids counted that started exactly there. */
  readonly edges: ReadonlyMap<number, ReadonlyArray<string>>
}

/**
 * Reads the windows of `start` (all of [start.lower, start.end) for a new run) and writes them in
 * batches, each with the cursor that covers it; the last one moves the high-water mark and grows
 * the ledger.
 */
const keysetPhase = (
  ctx: Context,
  begun: {
    readonly progress: Progress
    readonly start: Cursor.RunCursor
    readonly tally: ReadonlyMap<number, L.Count>
    readonly base: number | undefined
  },
  resumedEdge: ReadonlyArray<string>
) => {
  const { start } = begun
  const base = begun.base ?? start.lower
  const skip = begun.progress.resumeSkip
  const endMs = Date.parse(start.end)
  const write = (read: KeysetRead, handOver: HandOver): Effect.Effect<KeysetRead, ExportError | SinkError> =>
    Effect.gen(function* () {
      const { progress } = read
      const all = handOver.steps
      // Counted in place: a batch that fails to write ends the run, so the counts are not used again.
      if (progress.ledger !== undefined) for (const s of all) Verify.tallyStep(read.tally, base, s, skip)
      const observed = observe(read.observed, all, skip)
      const lower = all[all.length - 1]!.cursor.lower
      const edges = new Map(read.edges)
      const previous = edges.get(handOver.from)
      edges.delete(handOver.from)
      if (!handOver.finished) {
        edges.set(lower, Verify.nextEdge(all, lower, { lower: handOver.from, ids: previous ?? [] }).ids)
      }
      if (!handOver.last) {
        const run: Cursor.RunCursor = {
          ...start,
          lower: handOver.spans[0]?.lower ?? endMs,
          minOpen: observed.minOpen,
          open: observed.open,
          longestRunMs: observed.longestRunMs,
          afterInclusive: observed.afterInclusive,
          spans: handOver.spans.map((span) => [span.lower, span.end] as const)
        }
        const kept = new Set(handOver.spans.map((span) => span.lower))
        const edge = [...edges].filter(([at]) => kept.has(at)).flatMap(([, ids]) => ids)
        const stored = Cursor.encodeStored({
          run,
          tally: read.tally,
          base,
          ledger: progress.ledger,
          plan: progress.plan,
          // Bounded: a longer list only costs a false alarm (a day read again) after a resume.
          edge: progress.ledger === undefined ? [] : edge.slice(0, 1_000),
          fresh: progress.fresh
        })
        const totals = yield* writeSteps(ctx, all, stateWith(ctx, progress, stored), progress.totals)
        return { progress: { ...progress, totals }, tally: read.tally, observed, edges }
      }
      const hold = observed.minOpen === undefined ? endMs : Math.min(endMs, observed.minOpen)
      const to = L.floorHour(
        Math.min(hold - Duration.toMillis(lookbackOf(ctx, observed.longestRunMs)), endMs)
      )
      const ledger = progress.ledger === undefined ? undefined : L.grow(progress.ledger, read.tally, to)
      const done: Progress = {
        ...progress,
        highWaterMark: iso(hold),
        longestRunMs: observed.longestRunMs,
        lastRunAt: iso(yield* Clock.currentTimeMillis),
        fresh: { through: endMs, open: observed.open, since: observed.minOpen },
        afterInclusive: observed.afterInclusive,
        ledger
      }
      const stored = Cursor.encodeStored({
        ...Cursor.emptyStored,
        ledger,
        plan: progress.plan,
        fresh: done.fresh
      })
      const totals = yield* writeSteps(ctx, all, stateWith(ctx, done, stored), progress.totals)
      return { progress: { ...done, totals }, tally: read.tally, observed, edges }
    })
  const spans = Cursor.spansOf(start).map(([lower, end]) => ({ lower, end }))
  const init: KeysetRead = {
    progress: { ...begun.progress, resumeSkip: new Set() },
    tally: new Map(begun.tally),
    observed: {
      minOpen: start.minOpen,
      open: start.open,
      longestRunMs: start.longestRunMs,
      afterInclusive: start.afterInclusive
    },
    // The stored edge belongs to the windows it was written with: every id is kept for each.
    edges: new Map(spans.map((span) => [span.lower, resumedEdge]))
  }
  return readWindows(
    ctx.client,
    ctx.settings.query,
    spans.length === 0 ? [{ lower: endMs, end: endMs }] : spans,
    {
      concurrency: ctx.settings.concurrency,
      pagesPerBatch: ctx.settings.pagesPerBatch,
      // The next pages are fetched while the current batch is written.
      prefetch: ctx.settings.pagesPerBatch + 1,
      afterInclusive: start.afterInclusive
    },
    init,
    write
  ).pipe(Effect.map((read) => read.progress))
}

/** The state of a re-read of one day between two batches. */
interface DayRead {
  readonly progress: Progress
  readonly acc: L.Count
  readonly edge: Verify.Edge
}

/** Reads again the first day of the plan (late arrivals older than the look-back, expiry). */
const rereadDay = (ctx: Context, progress: Progress, l: L.Ledger, p: Cursor.Plan) =>
  Effect.gen(function* () {
    const dayKey = p.days[0]!
    const day = [Math.max(dayKey, l.from), Math.min(dayKey + L.DAY, l.to)] as const
    const rest = p.days.slice(1)
    const restPlan = rest.length === 0 ? undefined : { days: rest, at: undefined, acc: undefined }
    if (day[0] >= day[1]) return { ...progress, plan: restPlan }
    yield* Effect.logDebug(`reading again executions started on ${iso(dayKey).slice(0, 10)}`)
    const skip = p.at === undefined ? new Set<string>() : progress.resumeSkip
    const write = (
      read: DayRead,
      all: ReadonlyArray<Step>
    ): Effect.Effect<DayRead, ExportError | SinkError> =>
      Effect.gen(function* () {
        const last = all[all.length - 1]!
        let acc = read.acc
        for (const s of all) acc = Verify.countStep(acc, day, s, skip)
        const edge = Verify.nextEdge(all, last.cursor.lower, read.edge)
        if (!last.done) {
          const plan: Cursor.Plan = { days: p.days, at: last.cursor.lower, acc }
          const stored = Cursor.encodeStored({
            ...Cursor.emptyStored,
            ledger: l,
            plan,
            edge: edge.ids,
            fresh: read.progress.fresh
          })
          const totals = yield* writeSteps(
            ctx,
            all,
            stateWith(ctx, read.progress, stored),
            read.progress.totals
          )
          return { progress: { ...read.progress, totals }, acc, edge }
        }
        const days = new Map(l.days)
        if (acc.c === 0) days.delete(dayKey)
        else days.set(dayKey, acc)
        const done: Progress = {
          ...read.progress,
          ledger: { ...l, days },
          plan: restPlan,
          lastRunAt: iso(yield* Clock.currentTimeMillis)
        }
        const stored = Cursor.encodeStored({
          ...Cursor.emptyStored,
          ledger: done.ledger,
          plan: restPlan,
          fresh: done.fresh
        })
        const totals = yield* writeSteps(ctx, all, stateWith(ctx, done, stored), done.totals)
        return { progress: { ...done, totals }, acc, edge }
      })
    const from = { lower: p.at ?? day[0], afterInclusive: progress.afterInclusive }
    const init: DayRead = {
      progress: { ...progress, resumeSkip: new Set(), reread: progress.reread + 1 },
      acc: p.acc ?? L.emptyCount(),
      edge: { lower: p.at, ids: [...skip] }
    }
    const read = yield* Effect.scoped(
      Effect.flatMap(
        readAhead(
          scan(ctx.client, ctx.settings.query, from, { end: day[1] }),
          ctx.settings.pagesPerBatch + 1
        ),
        (pull) => drain(pull, ctx.settings.pagesPerBatch, init, write)
      )
    )
    return read.progress
  })

/** The report's and the status's view of {@link Cursor.Fresh} (`fallback`: a state without one). */
const freshnessOf = (fresh: Cursor.Fresh | undefined, fallback: string): Freshness =>
  fresh === undefined
    ? { readThrough: fallback, inFlight: 0, inFlightSince: undefined }
    : {
        readThrough: iso(fresh.through),
        inFlight: fresh.open,
        inFlightSince: fresh.since === undefined ? undefined : iso(fresh.since)
      }

/** @internal */
export const freshness = (state: ExportState): Freshness | undefined => {
  const fresh = Cursor.decodeStored(state.cursor).fresh
  return fresh === undefined ? undefined : freshnessOf(fresh, "")
}

/**
 * Runs the list reads with the step worker beside them (`stepFetch.ts`): the worker's requests
 * pass the gate (a share of the rate limit) until the list reads are done, then the backlog is
 * read at the full rate. A failure of either ends both.
 */
const withSteps = <A, E>(
  ctx: Context,
  steps: StepSettings,
  store: StepStore,
  wake: Queue.Queue<void>,
  lists: Effect.Effect<A, E>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const config = yield* Effect.serviceOption(TaskHistoryConfig.TaskHistoryConfig)
      const rateLimit = Option.match(config, {
        onNone: () => TaskHistoryConfig.defaultRateLimit,
        onSome: (c) => c.rateLimit
      })
      const stored = yield* store.queueStored(steps.scope)
      if (stored > 0) {
        yield* Effect.logInfo(
          `queued the steps of ${stored} execution(s) exported before --steps ${steps.scope}`
        )
      }
      const cap = Math.max(1, Math.floor(steps.share * rateLimit.limit))
      const gate = yield* makeGate(cap, rateLimit.window)
      const listDone = yield* Deferred.make<void>()
      const finishLists = Effect.zipRight(gate.open, Deferred.succeed(listDone, undefined))
      const [read, totals] = yield* Effect.all(
        [
          Effect.ensuring(lists, finishLists),
          work({
            client: ctx.client,
            store,
            settings: steps,
            streamKey: ctx.settings.key,
            gate,
            listDone,
            wake,
            startedAt: ctx.startedAt
          })
        ],
        { concurrency: 2 }
      )
      // Read once both are done: the list reads may queue more after the worker stopped (its cap).
      const backlog = yield* store.backlogSize
      if (backlog > 0) {
        yield* Effect.logInfo(`${backlog} execution(s) wait in the step backlog for the next runs`)
      }
      return { ...read, steps: { ...totals, backlog } }
    })
  )

/** @internal */
export const plan = (
  options: RunOptions = {}
): Effect.Effect<RunPlan, ExportError | RequestError | SinkError, TaskHistoryClient | Sink> =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(options)
    const client = yield* TaskHistoryClient
    const sink = yield* Sink
    const now = yield* Clock.currentTimeMillis
    const previous = Option.getOrUndefined(yield* sink.loadState(settings.key))
    const hwm = previous?.highWaterMark === undefined ? Number.NaN : Date.parse(previous.highWaterMark)
    const lookback =
      settings.lookback === undefined
        ? defaultLookback(previous?.longestRunMs ?? 0)
        : Duration.decode(settings.lookback)
    const from = Math.min(
      now,
      Number.isNaN(hwm) ? (settings.since ?? now - retentionMs) : hwm - Duration.toMillis(lookback)
    )
    const scope = settings.steps?.scope
    const cost = yield* client.costPlan(
      { ...settings.query, afterDate: iso(from), beforeDate: iso(now) },
      scope === undefined ? {} : { steps: scope }
    )
    const backlog = scope === undefined || sink.steps === undefined ? 0 : yield* sink.steps.backlogSize
    return { from: iso(from), to: iso(now), cost, backlog }
  })

const counterValue = (counter: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(counter), (state) => state.count)

/** @internal */
export const run = (
  options: RunOptions = {}
): Effect.Effect<RunReport, ExportError | RequestError | SinkError, TaskHistoryClient | Sink> =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(options)
    const client = yield* TaskHistoryClient
    const sink = yield* Sink
    const startedAt = yield* Clock.currentTimeMillis
    const previous = Option.getOrUndefined(yield* sink.loadState(settings.key))
    const stepStore = sink.steps
    if (settings.steps !== undefined && stepStore === undefined) {
      return yield* new ExportError({
        reason: "InvalidOptions",
        detail: `steps ${settings.steps.scope}: the sink ${sink.name} does not store step executions (the SQLite, Postgres and file sinks do)`
      })
    }
    const wake = yield* Queue.sliding<void>(1)
    const ctx: Context = {
      client,
      sink,
      settings,
      startedAt,
      previous,
      wrote: settings.steps === undefined ? Effect.void : Effect.asVoid(Queue.offer(wake, undefined))
    }
    const requestsBefore = yield* TaskHistoryMetrics.requestsSent
    const limitedBefore = yield* counterValue(TaskHistoryMetrics.rateLimited)

    const saved = Cursor.decodeStored(previous?.cursor)
    const lists = Effect.gen(function* () {
      const begun = yield* begin(ctx, saved)
      let progress =
        begun.start === undefined
          ? begun.progress
          : yield* keysetPhase(
              ctx,
              { ...begun, start: begun.start },
              saved.run === undefined ? [] : saved.edge
            )
      for (let guard = 0; guard < 1_000; guard++) {
        const { ledger, plan } = progress
        if (plan === undefined || ledger === undefined) break
        progress = yield* rereadDay(ctx, progress, ledger, plan)
      }
      return { begun, progress }
    })
    const { begun, progress, steps } =
      settings.steps === undefined || stepStore === undefined
        ? { ...(yield* lists), steps: undefined }
        : yield* withSteps(ctx, settings.steps, stepStore, wake, lists)

    const report: RunReport = {
      ...progress.totals,
      requests: (yield* TaskHistoryMetrics.requestsSent) - requestsBefore,
      rateLimited: (yield* counterValue(TaskHistoryMetrics.rateLimited)) - limitedBefore,
      durationMs: (yield* Clock.currentTimeMillis) - startedAt,
      highWaterMark: progress.highWaterMark ?? begun.start?.end ?? iso(startedAt),
      ...freshnessOf(progress.fresh, progress.highWaterMark ?? begun.start?.end ?? iso(startedAt)),
      streamKey: settings.key,
      checked: progress.checked,
      reread: progress.reread,
      ...(steps === undefined ? {} : { steps })
    }
    yield* Effect.logDebug("export run finished").pipe(Effect.annotateLogs({ ...report }))
    return report
  }).pipe(Effect.annotateLogs({ component: "taskhistory-export" }), Effect.withLogSpan("export"))
