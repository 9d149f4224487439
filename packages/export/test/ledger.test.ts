import { describe, expect, it } from "@effect/vitest"
import * as L from "../src/internal/ledger.js"

const D = Date.parse("2026-11-18T00:00:00.000Z")
const DAY = L.DAY

/** Hourly counts of records at the given instants (as a run tallies them). */
const tally = (records: ReadonlyArray<readonly [number, string]>) => {
  const hours = new Map<number, L.Count>()
  for (const [at, id] of records) {
    const hour = L.floorHour(at)
    const count = hours.get(hour) ?? L.emptyCount()
    L.add(count, at, id, hour + L.HOUR)
    hours.set(hour, count)
  }
  return hours
}

describe("verification ledger", () => {
  const records = [
    [D - DAY + 5, "a"],
    [D - 1, "b"], // last millisecond of the day before
    [D, "c"], // midnight
    [D, "d"],
    [D + 3_600_000, "e"],
    [D + DAY - 1, "f"] // last millisecond of the day
  ] as const
  const ledger = L.grow({ from: D - DAY, to: D - DAY, days: new Map() }, tally(records), D + DAY)

  it("counts per day, with the last millisecond and the first record", () => {
    expect(ledger.days.get(D - DAY)).toEqual({ c: 2, y: 1, f: "a", fAt: D - DAY + 5 })
    expect(ledger.days.get(D)).toEqual({ c: 4, y: 1, f: "c", fAt: D })
  })

  it("expects the API's total under inclusive and exclusive bounds", () => {
    // afterDate = D - 1 ms, beforeDate = D + DAY - 1 ms
    expect(L.expected(ledger, D, D + DAY)).toEqual({ inclusive: 5, exclusive: 3, first: "c" })
    expect(L.agrees(ledger, D, D + DAY, 5, "c", false)).toBe(true)
    expect(L.agrees(ledger, D, D + DAY, 3, "c", false)).toBe(true)
    expect(L.agrees(ledger, D, D + DAY, 3, "c", true)).toBe(false)
    // One more (a late arrival), or the same count with another first record (arrival + expiry).
    expect(L.agrees(ledger, D, D + DAY, 6, "c", false)).toBe(false)
    expect(L.agrees(ledger, D, D + DAY, 5, "d", false)).toBe(false)
    expect(L.expected(ledger, D - DAY, D + DAY)).toEqual({ inclusive: 6, exclusive: 5, first: "a" })
  })

  it("grows only from its end, and prunes expired days", () => {
    const more = L.grow(
      ledger,
      tally([
        [D + DAY + 10, "g"],
        [D + 5, "old"]
      ]),
      D + DAY + L.HOUR
    )
    expect(more.days.get(D)?.c).toBe(4)
    expect(more.days.get(D + DAY)).toEqual({ c: 1, y: 0, f: "g", fAt: D + DAY + 10 })
    const pruned = L.prune(more, D + 5)
    expect([...pruned.days.keys()]).toEqual([D, D + DAY])
    expect(pruned.from).toBe(D)
  })

  it("cuts ranges at weeks (Mondays) and days", () => {
    expect(L.weekStart(D)).toBe(Date.parse("2026-11-16T00:00:00.000Z"))
    expect(L.segments(D, D + 2 * DAY + 5, "day").length).toBe(3)
    expect(L.segments(D - 3 * DAY, D + 10 * DAY, "week").map(([a]) => new Date(a).toISOString())).toEqual([
      "2026-11-15T00:00:00.000Z",
      "2026-11-16T00:00:00.000Z",
      "2026-11-23T00:00:00.000Z"
    ])
  })

  it("checks the oldest day on its own once retention is at work", () => {
    expect(L.checkRanges(ledger)).toEqual([[D - DAY, D + DAY]])
    const expiring = { ...L.prune(ledger, D - DAY), from: D - 3 * DAY, expiring: true }
    expect(L.oldestDay(expiring)).toBe(D - DAY)
    expect(L.checkRanges(expiring)).toEqual([
      [D - 3 * DAY, D - DAY],
      [D - DAY, D],
      [D, D + DAY]
    ])
  })
})
