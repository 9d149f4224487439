/**
 * The verification ledger: how many executions (and which first one) the engine has read per UTC
 * day of start dates, for the closed range [from, to) that is older than the look-back. A run asks
 * the API's `total` for that range (one request); an answer that differs from the ledger means
 * executions appeared there (late arrivals) or expired, and the engine drills down (weeks, then
 * days) and reads the days that differ again.
 *
 * Pure data and arithmetic; the requests are made by `verify.ts`, the stored form is in `cursor.ts`.
 *
 * @internal
 */
import { placeOf } from "./rawRecord.js"

export const HOUR = 3_600_000
export const DAY = 24 * HOUR
const WEEK = 7 * DAY
/** 1970-01-01 was a Thursday: the first Monday is day 4. */
const MONDAY = 4 * DAY

/** What was read of one day (or of one hour while a run is under way). */
export interface Count {
  /** Records (valid or not) read with a start date in the covered part. */
  c: number
  /** Of those, records that started at the last millisecond of the covered part. */
  y: number
  /** The first record (by start date, then id), for telling expiry from arrivals. */
  f: string | null
  fAt: number
}

export interface Ledger {
  /** Start (inclusive, ms) and end (exclusive, ms) of the covered range. */
  readonly from: number
  readonly to: number
  /** Keyed by the start (ms) of the UTC day; days without an entry held nothing. */
  readonly days: ReadonlyMap<number, Count>
  /**
   * Set once retention was seen removing executions from the oldest day: that day is then checked
   * on its own, so its changes (on most runs) do not make every week differ.
   */
  readonly expiring?: boolean | undefined
}

export const emptyCount = (): Count => ({ c: 0, y: 0, f: null, fAt: Number.POSITIVE_INFINITY })

export const floorHour = (ms: number): number => Math.floor(ms / HOUR) * HOUR
export const dayStart = (ms: number): number => Math.floor(ms / DAY) * DAY
export const weekStart = (ms: number): number => Math.floor((ms - MONDAY) / WEEK) * WEEK + MONDAY

/** Whether a record (start `at`, `id`) comes before the first record of `count` (by start, then id). */
export const firstBefore = (at: number, id: string, count: Pick<Count, "f" | "fAt">): boolean =>
  at < count.fAt || (at === count.fAt && count.f !== null && id < count.f)

/** Adds one record (start `at`, id) to a count whose covered part ends at `end` (exclusive). */
export const add = (count: Count, at: number, id: string | undefined, end: number): void => {
  count.c++
  if (at === end - 1) count.y++
  if (id !== undefined && firstBefore(at, id, count)) {
    count.f = id
    count.fAt = at
  }
}

/** Cuts [a, b) at the boundaries of `unit`. */
export const segments = (a: number, b: number, unit: "week" | "day"): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let from = a
  for (let k = 0; from < b && k < 1_000; k++) {
    const to = Math.min(b, unit === "week" ? weekStart(from) + WEEK : dayStart(from) + DAY)
    out.push([from, to])
    from = to
  }
  return out
}

/**
 * What the API should answer for `afterDate = a - 1 ms`, `beforeDate = b - 1 ms` over [a, b)
 * (day-aligned or the ledger's ends), under inclusive and exclusive date bounds, and the first id.
 */
export const expected = (
  ledger: Ledger,
  a: number,
  b: number
): { readonly inclusive: number; readonly exclusive: number; readonly first: string | null } => {
  let sum = 0
  let first: Count | undefined
  for (let d = dayStart(a); d < b; d += DAY) {
    const day = ledger.days.get(d)
    if (day === undefined) continue
    sum += day.c
    if (day.f !== null && (first === undefined || day.fAt < first.fAt)) first = day
  }
  const before = a === ledger.from ? 0 : (ledger.days.get(dayStart(a - 1))?.y ?? 0)
  const last = ledger.days.get(dayStart(b - 1))?.y ?? 0
  return { inclusive: sum + before, exclusive: sum - last, first: first?.f ?? null }
}

/** Whether an answer (`total`, first id) agrees with the ledger over [a, b). */
export const agrees = (
  ledger: Ledger,
  a: number,
  b: number,
  total: number,
  head: string | null,
  inclusive: boolean
): boolean => {
  const e = expected(ledger, a, b)
  const countOk = total === e.inclusive || (!inclusive && total === e.exclusive)
  return countOk && head === e.first
}

/** Drops the days that ended before `horizon` (expired by retention). */
export const prune = (ledger: Ledger, horizon: number): Ledger => {
  const cut = dayStart(horizon)
  if (ledger.from >= cut) return ledger
  const days = new Map([...ledger.days].filter(([d]) => d >= cut))
  return { ...ledger, from: Math.min(Math.max(ledger.from, cut), ledger.to), days }
}

/** Extends the ledger to `to` with the hourly counts of a run (hours at or after `ledger.to`). */
export const grow = (ledger: Ledger, hours: ReadonlyMap<number, Count>, to: number): Ledger => {
  if (to <= ledger.to) return ledger
  const days = new Map(ledger.days)
  for (const [hour, count] of hours) {
    if (hour >= to || hour + HOUR <= ledger.to) continue
    const key = dayStart(hour)
    const day = days.get(key) ?? emptyCount()
    const next: Count = { ...day, c: day.c + count.c }
    if (count.f !== null && firstBefore(count.fAt, count.f, next)) {
      next.f = count.f
      next.fAt = count.fAt
    }
    days.set(key, next)
  }
  // `y` of each day touched: the count at the last millisecond of its covered part.
  for (let d = dayStart(ledger.to), k = 0; d < to && k < 1_000; d += DAY, k++) {
    const end = Math.min(d + DAY, to)
    if (end <= ledger.to) continue
    const day = days.get(d)
    if (day !== undefined) days.set(d, { ...day, y: hours.get(end - HOUR)?.y ?? 0 })
  }
  return { ...ledger, to, days }
}

/** Start (ms) of the oldest day that held records, if any. */
export const oldestDay = (ledger: Ledger): number | undefined => {
  let oldest: number | undefined
  for (const [d, c] of ledger.days) if (c.c > 0 && (oldest === undefined || d < oldest)) oldest = d
  return oldest
}

/**
 * The ranges a run asks `total` for: the whole ledger, or (once retention was seen at work) the
 * days before the oldest one that held records, that day, and the rest.
 */
export const checkRanges = (ledger: Ledger): Array<readonly [number, number]> => {
  if (ledger.to <= ledger.from) return []
  const oldest = ledger.expiring === true ? oldestDay(ledger) : undefined
  if (oldest === undefined) return [[ledger.from, ledger.to]]
  const cuts = [ledger.from, Math.max(oldest, ledger.from), Math.min(oldest + DAY, ledger.to), ledger.to]
  const out: Array<readonly [number, number]> = []
  for (let k = 0; k < 3; k++) if (cuts[k]! < cuts[k + 1]!) out.push([cuts[k]!, cuts[k + 1]!])
  return out
}

/**
 * The id of the first item of an ASC page (valid or not) that started at or after `from`, by start
 * date then id (records just before `from` come back when the date bounds are inclusive).
 */
export const headOf = (
  records: ReadonlyArray<{ readonly id: string; readonly dateStarted: string }>,
  invalid: ReadonlyArray<{ readonly raw: unknown }>,
  from: number
): string | null => {
  const count = emptyCount()
  for (const r of records) {
    const at = Date.parse(r.dateStarted)
    if (at >= from) add(count, at, r.id, Number.NaN)
  }
  for (const i of invalid) {
    const p = placeOf(i.raw)
    if (p.id !== undefined && p.at !== undefined && p.at >= from) add(count, p.at, p.id, Number.NaN)
  }
  return count.f
}
