/**
 * The scanner: reads every execution that started in a window of start dates, as a pull of
 * {@link Step}s (one per page), with keyset paging on `dateStarted` (ASC, `afterDate` = cursor -
 * 1 ms, offset 0), never deep offsets. A full page whose records all share the cursor's instant
 * switches to reading that instant alone with offsets, checked against `total` (instant mode).
 * The window's end is read before each request (`Bound`): a reader may cut a window in two while
 * it is read (`readers.ts`, which also runs scanners ahead of their consumer, several at once).
 *
 * The scanner only reads: what the records say about the run (running executions, the longest
 * run) is observed by its consumer, on the records it keeps.
 *
 * @internal
 */
import type * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import { type ExecutionPage, PAGE_SIZE, type WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Option } from "effect"
import { ExportError } from "./exportError.js"
import { idOf, startOf } from "./rawRecord.js"

/** How many times one instant is read again when its ids and `total` disagree. */
const INSTANT_ATTEMPTS = 5
/** Upper bound on pages of one instant, so a server that never ends a result cannot loop us. */
const INSTANT_MAX_PAGES = 10_000
/**
 * Consecutive pages that bring nothing new (no id not handed over yet, within the dates asked
 * for) before the read stops with `NoProgress`: a server that ignores `offset` or the date
 * filters would otherwise have the scanner spend the key's whole budget.
 */
export const MAX_WASTED_PAGES = 3

/** Where a scanner is: every execution of its window that started before `lower` (ms) is read. */
export interface ScanCursor {
  readonly lower: number
  /** Whether `afterDate` turned out to be inclusive. */
  readonly afterInclusive: boolean
}

/** The end (ms, exclusive) of a scanner's window, read before each request. */
export interface Bound {
  readonly end: number
}

/** One page (or the end of the window) as the scanner hands it over. */
export interface Step {
  readonly records: ReadonlyArray<WorkflowExecution>
  /** `Date.parse` of each record's `dateStarted` (same order as `records`), parsed once. */
  readonly starts: ReadonlyArray<number>
  readonly invalid: ExecutionPage["invalid"]
  /** The cursor after this step. */
  readonly cursor: ScanCursor
  /**
   * Records of the window after this page, as the API counted them (the page's `total` less its
   * records), when the page is a keyset page that carried a `total`: what a reader splits by.
   */
  readonly left: number | undefined
  /** The last step of the window. */
  readonly done: boolean
}

/**
 * A reader of steps: each pull hands over the next step, `undefined` once the range is read (and
 * is not pulled again after that).
 */
export type Pull = Effect.Effect<Step | undefined, RequestError | ExportError>

interface Instant {
  readonly _tag: "Instant"
  /** The instant (ms) read alone with offsets. */
  readonly at: number
  readonly offset: number
  readonly attempt: number
  readonly firstTotal: number | undefined
  /** The ids seen in this pass (grows in place while the pass goes on). */
  readonly passIds: Set<string>
}

/** Pages in a row that brought nothing new, and what the scan spent against what it expected. */
interface Spending {
  /** Consecutive wasted pages. */
  wasted: number
  /** Requests this scan made. */
  requests: number
  /** Requests the range needs, from the `total` of its first page (undefined before it). */
  expected: number | undefined
  /** Whether the warning about spending more than expected was logged. */
  warned: boolean
}

type ScanMode = { readonly _tag: "Keyset" } | Instant | { readonly _tag: "Done" }

interface ScanState {
  readonly cursor: ScanCursor
  readonly mode: ScanMode
  /** Ids already handed over whose start is at the edge of the next request (de-duplication). */
  readonly recent: ReadonlySet<string>
}

type Next = Option.Option<readonly [Step, ScanState]>

const iso = (ms: number) => new Date(ms).toISOString()

/** The records and invalid records of a page not handed over yet (`dates`: the records' starts). */
const fresh = (page: ExecutionPage, dates: ReadonlyArray<number>, seen: ReadonlySet<string>) => {
  if (seen.size === 0) return { records: page.records, starts: dates, invalid: page.invalid }
  const records: Array<WorkflowExecution> = []
  const starts: Array<number> = []
  page.records.forEach((r, k) => {
    if (seen.has(r.id)) return
    records.push(r)
    starts.push(dates[k]!)
  })
  const invalid = page.invalid.filter((i) => {
    const id = idOf(i.raw)
    return id === undefined || !seen.has(id)
  })
  return { records, starts, invalid }
}

const startsOf = (page: ExecutionPage) => page.records.map((r) => Date.parse(r.dateStarted))

/** Whether a page brought an id not handed over yet that started in [from, to]. */
const bringsNew = (
  page: ExecutionPage,
  dates: ReadonlyArray<number>,
  from: number,
  to: number,
  known: (id: string) => boolean
): boolean => {
  for (let k = 0; k < page.records.length; k++) {
    const at = dates[k]!
    if (at >= from && at <= to && !known(page.records[k]!.id)) return true
  }
  for (const i of page.invalid) {
    const id = idOf(i.raw)
    const at = startOf(i.raw)
    if (id === undefined || at === undefined) return true
    if (at >= from && at <= to && !known(id)) return true
  }
  return false
}

/**
 * Counts a page: fails with `NoProgress` after {@link MAX_WASTED_PAGES} wasted pages in a row,
 * and says in the log (once) when the scan spends much more than the range's `total` needs.
 */
const spend = (
  spending: Spending,
  page: ExecutionPage,
  useful: boolean,
  where: string
): Effect.Effect<void, ExportError> =>
  Effect.suspend(() => {
    spending.requests++
    if (spending.expected === undefined && page.total !== undefined) {
      spending.expected = Math.max(1, Math.ceil(page.total / PAGE_SIZE)) + 1
    }
    spending.wasted = useful ? 0 : spending.wasted + 1
    if (spending.wasted >= MAX_WASTED_PAGES) {
      return new ExportError({
        reason: "NoProgress",
        detail: `${spending.wasted} pages in a row ${where} held only executions already read, or none started in the dates asked for (does the server ignore offset or the date filters?)`
      })
    }
    const budget = spending.expected === undefined ? undefined : 2 * spending.expected + 10
    if (budget !== undefined && !spending.warned && spending.requests > budget) {
      spending.warned = true
      return Effect.logWarning(
        `this read has made ${spending.requests} requests where the server's total needs about ${spending.expected}: executions are read again because the server's answers disagree (${where}); it stops after ${MAX_WASTED_PAGES} pages that bring nothing new`
      )
    }
    return Effect.void
  })

const withIds = (ids: ReadonlySet<string>, records: ReadonlyArray<WorkflowExecution>) =>
  new Set([...ids, ...records.map((r) => r.id)])

const instantMode = (at: number, attempt: number): Instant => ({
  _tag: "Instant",
  at,
  offset: 0,
  attempt,
  firstTotal: undefined,
  passIds: new Set()
})

/** The latest start of a page's records (and of its invalid ones before `endMs`). */
const latestStart = (dates: ReadonlyArray<number>, page: ExecutionPage, endMs: number): number => {
  let max = Number.NEGATIVE_INFINITY
  for (const d of dates) if (d > max) max = d
  for (const i of page.invalid) {
    const d = startOf(i.raw)
    if (d !== undefined && d > max && d < endMs) max = d
  }
  return max
}

/** Keyset mode: the next page after the cursor, ASC, offset 0. */
const keysetStep = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  state: ScanState,
  endMs: number,
  spending: Spending
): Effect.Effect<Next, RequestError | ExportError> =>
  Effect.gen(function* () {
    const { cursor } = state
    if (cursor.lower >= endMs) {
      const step: Step = { records: [], starts: [], invalid: [], cursor, left: 0, done: true }
      return Option.some([step, { ...state, mode: { _tag: "Done" } }] as const)
    }
    const after = cursor.afterInclusive ? cursor.lower : cursor.lower - 1
    const page = yield* client.listPage(
      { ...query, afterDate: iso(after), beforeDate: iso(endMs), sortBy: "ASC" },
      0
    )
    const dates = startsOf(page)
    const rest = fresh(page, dates, state.recent)
    yield* spend(
      spending,
      page,
      page.records.length + page.invalid.length === 0 ||
        bringsNew(page, dates, after, endMs, (id) => state.recent.has(id)),
      `after ${iso(after)}`
    )
    const observed = cursor
    const size = page.records.length + page.invalid.length
    const left = page.total === undefined ? undefined : Math.max(0, page.total - size)
    // A record exactly at `afterDate`: the bound is inclusive; ask again from `lower`.
    if (!cursor.afterInclusive && dates.some((d) => d === after)) {
      yield* Effect.logDebug("afterDate is inclusive: reading from the cursor itself")
      return Option.some([
        { ...rest, cursor: observed, left, done: false },
        {
          ...state,
          cursor: { ...observed, afterInclusive: true },
          recent: withIds(state.recent, page.records)
        }
      ] as const)
    }
    const full = size >= PAGE_SIZE && page.nextLink !== undefined
    if (!full) {
      const last = { ...observed, lower: endMs }
      return Option.some([
        { ...rest, cursor: last, left: 0, done: true },
        { cursor: last, mode: { _tag: "Done" }, recent: new Set() }
      ] as const)
    }
    const max = latestStart(dates, page, endMs)
    if (max > cursor.lower) {
      // Everything before `max` is read; records at `max` itself may continue on the next page.
      const next = { ...observed, lower: max }
      const recent = new Set<string>()
      page.records.forEach((r, k) => {
        if (dates[k]! >= max - 1) recent.add(r.id)
      })
      return Option.some([
        { ...rest, cursor: next, left, done: false },
        { cursor: next, mode: { _tag: "Keyset" }, recent }
      ] as const)
    }
    // A full page and no progress: the instant `lower` holds a page or more on its own.
    yield* Effect.logInfo(
      `more than one page of executions started at ${iso(cursor.lower)}: reading that instant alone`
    )
    return Option.some([
      { ...rest, cursor: observed, left, done: false },
      { cursor: observed, mode: instantMode(cursor.lower, 1), recent: withIds(state.recent, page.records) }
    ] as const)
  })

/** Instant mode: the window around one instant, ASC, with offsets, until a consistent pass. */
const instantStep = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  state: ScanState,
  mode: Instant,
  endMs: number,
  spending: Spending
): Effect.Effect<Next, RequestError | ExportError> =>
  Effect.gen(function* () {
    const { cursor } = state
    const lowBound = cursor.afterInclusive ? mode.at : mode.at - 1
    const page = yield* client.listPage(
      { ...query, afterDate: iso(lowBound), beforeDate: iso(Math.min(mode.at + 1, endMs)), sortBy: "ASC" },
      mode.offset
    )
    // Useful: an id of this instant not seen in this pass (a new pass reads the instant again).
    yield* spend(
      spending,
      page,
      bringsNew(page, startsOf(page), lowBound, mode.at + 1, (id) => mode.passIds.has(id)),
      `at ${iso(mode.at)}, offset ${mode.offset}`
    )
    const firstTotal = mode.offset === 0 ? page.total : mode.firstTotal
    for (const r of page.records) mode.passIds.add(r.id)
    for (const i of page.invalid) {
      const id = idOf(i.raw)
      if (id !== undefined) mode.passIds.add(id)
    }
    const rest = fresh(page, startsOf(page), state.recent)
    const recent = withIds(state.recent, page.records)
    const observed = cursor
    const step: Step = { ...rest, cursor: observed, left: undefined, done: false }
    const pages = mode.offset / PAGE_SIZE + 1
    if (
      page.records.length + page.invalid.length >= PAGE_SIZE &&
      page.nextLink !== undefined &&
      pages < INSTANT_MAX_PAGES
    ) {
      return Option.some([
        step,
        { cursor: observed, mode: { ...mode, offset: mode.offset + PAGE_SIZE, firstTotal }, recent }
      ] as const)
    }
    // The pass is over: it is complete when `total` did not move and every id was seen.
    const total = page.total
    if (total === undefined || (firstTotal === total && mode.passIds.size >= total)) {
      const next = { ...observed, lower: Math.min(mode.at + 1, endMs) }
      return Option.some([
        { ...step, cursor: next },
        { cursor: next, mode: { _tag: "Keyset" }, recent }
      ] as const)
    }
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
      step,
      { cursor: observed, mode: instantMode(mode.at, mode.attempt + 1), recent }
    ] as const)
  })

/**
 * Reads [start.lower, bound.end) (`bound.end`: the end of this window, exclusive, read before each
 * request: a reader may move it earlier while the window is read; records at or after the new end
 * that a request made before the move brings back are the reader's to drop).
 */
export const scan = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  start: ScanCursor,
  bound: Bound
): Pull => {
  let current: ScanState = { cursor: start, mode: { _tag: "Keyset" }, recent: new Set() }
  const spending: Spending = { wasted: 0, requests: 0, expected: undefined, warned: false }
  const step = (state: ScanState): Effect.Effect<Next, RequestError | ExportError> =>
    state.mode._tag === "Done"
      ? Effect.succeed(Option.none())
      : state.mode._tag === "Keyset"
        ? keysetStep(client, query, state, bound.end, spending)
        : instantStep(client, query, state, state.mode, bound.end, spending)
  return Effect.suspend(() =>
    Effect.map(step(current), (next) => {
      if (Option.isNone(next)) return undefined
      current = next.value[1]
      return next.value[0]
    })
  )
}
