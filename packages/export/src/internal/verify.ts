/**
 * Verification: the requests that compare the ledger (`ledger.ts`) with the API's `total` (one
 * probe per range: the whole ledger, then weeks, then days where they differ), and the counting
 * of what a read hands over into the ledger's counts (hourly while a run reads, per day while a
 * day is read again).
 *
 * @internal
 */
import type * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import { Effect } from "effect"
import * as L from "./ledger.js"
import { placeOf } from "./rawRecord.js"
import type { Step } from "./scan.js"

const iso = (ms: number) => new Date(ms).toISOString()

/** The API's answer for [a, b): `total` and the first id at or after `a`. */
interface Probe {
  readonly a: number
  readonly b: number
  readonly total: number | undefined
  readonly head: string | null
}

/** `total` and first id of [a, b) (`afterDate = a - 1 ms`, `beforeDate = b - 1 ms`, ASC). */
const probe = (client: TaskHistoryClientShape, query: ExecutionQuery.Selection, a: number, b: number) =>
  Effect.map(
    client.listPage({ ...query, afterDate: iso(a - 1), beforeDate: iso(b - 1), sortBy: "ASC" }, 0),
    (page): Probe => ({ a, b, total: page.total, head: L.headOf(page.records, page.invalid, a) })
  )

const agrees = (l: L.Ledger, r: Probe) =>
  r.total !== undefined && L.agrees(l, r.a, r.b, r.total, r.head, false)

/** The days of [a, b) that differ from the ledger: weeks first, then their days; and the probes sent. */
const drill = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  l: L.Ledger,
  a: number,
  b: number
) =>
  Effect.gen(function* () {
    if (L.segments(a, b, "day").length === 1) return { days: [L.dayStart(a)], probes: 0 }
    const weeks = yield* Effect.forEach(
      L.segments(a, b, "week"),
      ([wa, wb]) => probe(client, query, wa, wb),
      {
        concurrency: 4
      }
    )
    const suspects = weeks.filter((w) => !agrees(l, w)).flatMap((w) => L.segments(w.a, w.b, "day"))
    const days = yield* Effect.forEach(suspects, ([da, db]) => probe(client, query, da, db), {
      concurrency: 4
    })
    return {
      days: days.filter((d) => !agrees(l, d)).map((d) => L.dayStart(d.a)),
      probes: weeks.length + days.length
    }
  })

/** What {@link check} found. */
export interface CheckResult {
  /** The days (UTC day starts) whose totals differ from the ledger: to read again. */
  readonly changed: ReadonlyArray<number>
  /** The ledger, marked `expiring` once retention was seen at work in its oldest day. */
  readonly ledger: L.Ledger
  /** Ranges whose `total` was asked. */
  readonly probes: number
}

/** Compares the ledger with the API: one request (three once retention is at work), then drills down. */
export const check = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  l: L.Ledger
): Effect.Effect<CheckResult, RequestError> =>
  Effect.gen(function* () {
    const roots = yield* Effect.forEach(L.checkRanges(l), ([a, b]) => probe(client, query, a, b), {
      concurrency: 3
    })
    if (roots.some((r) => r.total === undefined)) {
      yield* Effect.logWarning(
        "the API sent no total: late arrivals older than the look-back cannot be verified"
      )
      return { changed: [], ledger: l, probes: roots.length }
    }
    const changed: Array<number> = []
    let probes = roots.length
    for (const root of roots) {
      if (agrees(l, root)) continue
      const found = yield* drill(client, query, l, root.a, root.b)
      changed.push(...found.days)
      probes += found.probes
    }
    if (changed.length > 0) {
      yield* Effect.logDebug(`the ledger differs from the API: ${changed.length} day(s) to read again`)
    }
    const oldest = L.oldestDay(l)
    const expiring = l.expiring === true || (oldest !== undefined && changed.includes(oldest))
    return { changed, ledger: expiring ? { ...l, expiring: true } : l, probes }
  })

/** Adds the records of a step to hourly counts (start dates at or after `base` only), in place. */
export const tallyStep = (
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
    L.add(c, at, id, hour + L.HOUR)
  }
  for (let k = 0; k < step.records.length; k++) count(step.starts[k]!, step.records[k]!.id)
  for (const i of step.invalid) {
    const p = placeOf(i.raw)
    // A record without a readable start date is counted near its page (its day is re-read on a mismatch).
    if (p.at === undefined) count(fallback, undefined)
    else count(p.at, p.id)
  }
}

/** Adds the records of a step of a re-read of one day (every record belongs to that day). */
export const countStep = (
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
    const p = placeOf(i.raw)
    if ((p.id !== undefined && skip.has(p.id)) || (p.at !== undefined && !inDay(p.at))) continue
    L.add(next, p.at ?? day[0], p.at === undefined ? undefined : p.id, day[1])
  }
  return next
}

/** The ids of records that started exactly at a stored position (counted already; read again on resume). */
export interface Edge {
  readonly lower: number | undefined
  readonly ids: ReadonlyArray<string>
}

/** The edge after `all`: ids that started exactly at `lower` (with the previous ones when `lower` did not move). */
export const nextEdge = (all: ReadonlyArray<Step>, lower: number, previous: Edge): Edge => {
  const out = new Set(previous.lower === lower ? previous.ids : [])
  for (const s of all) {
    s.records.forEach((r, k) => {
      if (s.starts[k] === lower) out.add(r.id)
    })
    for (const i of s.invalid) {
      const p = placeOf(i.raw)
      if (p.at === lower && p.id !== undefined) out.add(p.id)
    }
  }
  // Bounded: a longer list only costs a false alarm (a day read again) after a resume.
  return { lower, ids: [...out].slice(0, 1_000) }
}
