import { describe, expect, it } from "@effect/vitest"
import { OrderedDedupe, startKey } from "../src/internal/dedupe.js"
import type { WorkflowExecution } from "../src/WorkflowExecution.js"

const at = (id: string, second: number): WorkflowExecution =>
  ({
    id,
    status: "SUCCEEDED",
    dateStarted: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString()
  }) as WorkflowExecution

const ids = (records: ReadonlyArray<WorkflowExecution>) => records.map((r) => r.id)

describe("OrderedDedupe", () => {
  it("keys dates to the canonical UTC form, to the millisecond", () => {
    expect(startKey("2026-01-01T00:00:00.000Z")).toBe("2026-01-01T00:00:00.000Z")
    expect(startKey("2026-01-01T01:00:00+01:00")).toBe("2026-01-01T00:00:00.000Z")
    expect(startKey("2026-01-01T00:00:00.123456Z")).toBe("2026-01-01T00:00:00.123Z")
    expect(startKey("not a date")).toBeUndefined()
  })

  it("drops the repeats of shifted pages (DESC), holding only the ids at the edge", () => {
    const d = new OrderedDedupe("DESC")
    // 10 records at distinct seconds, newest first; a page of 5, then the same listing shifted
    // by 2 (two executions added at the top): the next page starts with 2 repeats.
    const all = Array.from({ length: 12 }, (_, k) => at(`e${k}`, 100 - k))
    expect(ids(d.keep(all.slice(0, 5)))).toEqual(["e0", "e1", "e2", "e3", "e4"])
    expect(d.held).toBe(1)
    expect(ids(d.keep(all.slice(3, 8)))).toEqual(["e5", "e6", "e7"])
    expect(ids(d.keep(all.slice(8, 12)))).toEqual(["e8", "e9", "e10", "e11"])
    expect(d.held).toBe(1)
  })

  it("tells records of one instant apart by id, across pages (ASC)", () => {
    const d = new OrderedDedupe("ASC")
    const same = Array.from({ length: 6 }, (_, k) => at(`s${k}`, 5))
    expect(ids(d.keep([at("a", 1), ...same.slice(0, 3)]))).toEqual(["a", "s0", "s1", "s2"])
    // The instant continues on the next page, in another order, with a repeat.
    expect(ids(d.keep([same[1]!, same[4]!, same[3]!, same[5]!, at("b", 9)]))).toEqual(["s4", "s3", "s5", "b"])
    expect(d.held).toBe(1)
    // Anything that started before the edge was read already (or came after the reader passed).
    expect(ids(d.keep([at("late", 2), at("c", 10)]))).toEqual(["c"])
  })

  it("falls back to every id when a page is not in the query's order", () => {
    const d = new OrderedDedupe("DESC")
    expect(ids(d.keep([at("x", 50), at("y", 40)]))).toEqual(["x", "y"])
    // Ascending within a page of a DESC read: the server does not sort.
    expect(ids(d.keep([at("y", 40), at("z", 30), at("w", 45), at("x", 50), at("v", 60)]))).toEqual([
      "z",
      "w",
      "v"
    ])
    expect(ids(d.keep([at("v", 60), at("u", 70), at("z", 30)]))).toEqual(["u"])
    expect(d.held).toBe(6)
  })
})
