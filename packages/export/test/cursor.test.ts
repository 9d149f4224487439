import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Cursor from "../src/internal/cursor.js"
import * as L from "../src/internal/ledger.js"

/**
 * States written (`stored`) and read back (`decoded`) by the engine before its codecs became
 * Schemas (the hand-written encoder and decoder of 2026-12-01), one per kind of state: a bare
 * version-1 cursor, a keyset read under way, a re-read under way, a planned re-read, a finished
 * run with a ledger, and a read without verification. `Infinity` stands for a count without a
 * first record.
 */
const fixtures = JSON.parse(
  readFileSync(new URL("./fixtures/stored-states.json", import.meta.url), "utf8"),
  (_, v) => (v === "Infinity" ? Number.POSITIVE_INFINITY : v)
) as Record<string, { readonly stored: unknown; readonly decoded: Record<string, unknown> }>

/**
 * A decoded state in the fixtures' form (maps as entry lists; the fields added since, `run.open`
 * and `fresh`, as a state of that engine decodes: none open, no freshness).
 */
const plain = (s: Cursor.Stored) => ({
  ...s,
  run: s.run && (({ open, ...rest }) => (open === 0 ? rest : s.run))(s.run),
  tally: [...s.tally],
  ledger: s.ledger && { ...s.ledger, days: [...s.ledger.days] }
})

const D = Date.parse("2026-11-18T00:00:00.000Z")

describe("cursor codecs", () => {
  for (const [name, { stored, decoded }] of Object.entries(fixtures)) {
    it(`reads what the previous engine wrote: ${name}`, () => {
      const read = Cursor.decodeStored(stored)
      expect(plain(read)).toEqual(decoded)
      // Written again, a version-2 state is the same JSON (a version-1 cursor becomes version 2).
      const again = JSON.parse(JSON.stringify(Cursor.encodeStored(read)))
      if (name === "v1") expect(again).toEqual({ v: 2, run: stored, tally: { h: [], f: [] } })
      else expect(again).toEqual(stored)
    })
  }

  it("round-trips a ledger, an expiring one, and the hourly counts of a run", () => {
    const hours = new Map<number, L.Count>()
    for (const [at, id] of [
      [D - L.DAY + 5, "a"],
      [D - 1, "b"],
      [D, "c"],
      [D, "d"],
      [D + L.HOUR, "e"]
    ] as const) {
      const hour = L.floorHour(at)
      const count = hours.get(hour) ?? L.emptyCount()
      L.add(count, at, id, hour + L.HOUR)
      hours.set(hour, count)
    }
    const ledger = L.grow({ from: D - L.DAY, to: D - L.DAY, days: new Map() }, hours, D + L.DAY)
    const run = Cursor.runCursor(D + L.DAY, D, true, 10)
    for (const l of [ledger, { ...ledger, expiring: true }]) {
      const state: Cursor.Stored = { ...Cursor.emptyStored, run, tally: hours, base: D - L.DAY, ledger: l }
      const back = Cursor.decodeStored(JSON.parse(JSON.stringify(Cursor.encodeStored(state))))
      expect(back.ledger).toEqual(l)
      expect(back.run).toEqual(run)
      // Only the first record per day is kept of the hourly counts: enough to grow the ledger.
      expect(L.grow({ from: D - L.DAY, to: D - L.DAY, days: new Map() }, back.tally, D + L.DAY)).toEqual(
        ledger
      )
    }
  })

  it("reads nothing, or what no engine wrote, as a fresh start", () => {
    for (const u of [
      undefined,
      null,
      7,
      "x",
      {},
      { v: 3 },
      { v: 1, end: "not a date", lower: 0 },
      { v: 2, plan: { days: [] } }
    ]) {
      expect(Cursor.decodeStored(u)).toEqual(Cursor.emptyStored)
    }
    expect(Cursor.encodeStored(Cursor.emptyStored)).toEqual({ v: 2 })
  })

  it("round-trips the freshness and the count of executions still running", () => {
    const run = { ...Cursor.runCursor(D + L.DAY, D, false, 10), minOpen: D + 5, open: 3 }
    const fresh = { through: D, open: 2, since: D - L.HOUR }
    const state: Cursor.Stored = { ...Cursor.emptyStored, run, fresh }
    const json = JSON.parse(JSON.stringify(Cursor.encodeStored(state)))
    expect(json.fresh).toEqual(fresh)
    const back = Cursor.decodeStored(json)
    expect(back.run).toEqual(run)
    expect(back.fresh).toEqual(fresh)
    const none = Cursor.decodeStored(
      Cursor.encodeStored({ ...state, fresh: { ...fresh, open: 0, since: undefined } })
    )
    expect(none.fresh).toEqual({ through: D, open: 0, since: undefined })
  })

  it("writes what its Schema accepts", () => {
    for (const { stored } of Object.values(fixtures)) {
      const state = Cursor.decodeStored(stored)
      expect(Schema.encodeSync(Cursor.StoredFromJson)(state)).toEqual(Cursor.encodeStored(state))
    }
  })
})
