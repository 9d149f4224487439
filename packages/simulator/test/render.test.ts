import { describe, expect, it } from "@effect/vitest"
import { ByteWriter } from "../src/internal/bytes.js"
import { Dataset } from "../src/internal/dataset.js"

describe("page rendering", () => {
  it("writes exactly the bytes of JSON.stringify(record) for every kind of record", () => {
    const dataset = new Dataset({
      records: 3000,
      seed: 99,
      projectId: 'proj-ü "quoted"',
      nowMs: Date.parse("2026-11-28T12:00:00.000Z"),
      spanDays: 400,
      lateArrivals: 3,
      sameStartDate: { count: 5, dateMs: Date.parse("1999-12-31T23:59:59.999Z") },
      malformed: 8
    })
    dataset.replay(dataset.order[dataset.lo + 10]!, Date.parse("2026-11-28T12:00:00.000Z"))
    const w = new ByteWriter()
    let checked = 0
    for (let s = 0; s < dataset.count; s++) {
      w.reset()
      dataset.writeJson(s, w)
      expect(w.take().toString("utf8")).toBe(JSON.stringify(dataset.record(s)))
      checked++
    }
    expect(checked).toBe(3000 + 3 + 5 + 1)
  })

  it("formats dates like toISOString, including edge years", () => {
    const w = new ByteWriter()
    for (const ms of [
      0, -1, 86_399_999, 951_782_400_000, 253_402_300_799_999, -62_135_596_800_000, 1_764_000_000_123
    ]) {
      w.reset()
      w.iso(ms)
      expect(w.take().toString("latin1")).toBe(new Date(ms).toISOString())
    }
  })
})
