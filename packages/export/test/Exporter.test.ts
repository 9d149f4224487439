import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import * as Exporter from "../src/Exporter.js"
import * as SqliteSink from "../src/SqliteSink.js"
import { sqliteRows, tempDir } from "./helpers.js"
import * as Scenario from "./scenarios.js"

const tmp = tempDir("taskhistory-exporter-")
afterAll(tmp.cleanup)
let n = 0
const sqlite: Scenario.SinkFixture = {
  fresh: () => {
    const path = join(tmp.dir, `run-${++n}.db`)
    return { layer: () => SqliteSink.layer({ path }), rows: sqliteRows(path) }
  }
}

describe("Exporter (SQLite, simulator)", () => {
  it.live("backfills, then reads only the look-back range", () => Scenario.backfillThenIncremental(sqlite))
  it.live("is exact under inserts and expiry on every request", () => Scenario.churn(sqlite))
  it.live("catches late arrivals within the look-back", () => Scenario.lateArrivals(sqlite))
  it.live("reads 250 executions with one start date (inclusive bounds)", () =>
    Scenario.sameStartDate(sqlite, true)
  )
  it.live("reads 250 executions with one start date (exclusive bounds)", () =>
    Scenario.sameStartDate(sqlite, false)
  )
  it.live("survives 5xx, resets and HTML pages", () => Scenario.faults(sqlite))
  it.live("survives 429s", () => Scenario.rateLimited(sqlite))
  it.live("quarantines or fails on malformed records", () => Scenario.malformed(sqlite))
  it.live("resumes an interrupted run with the same rows", () => Scenario.interruptAndResume(sqlite))
  it.live("picks up status changes of running executions", () => Scenario.statusChanges(sqlite))
  it.live("exports a filtered stream with its own state", () => Scenario.filtered(sqlite))
  it.live("reads windows at once, and resumes each where it was", () => Scenario.concurrentWindows(sqlite))
})

describe("Exporter helpers", () => {
  it("derives a stable stream key from the filters", () => {
    expect(Exporter.streamKey()).toBe("all")
    expect(Exporter.streamKey({ status: "FAILED", integration: "slack" })).toBe(
      "integration=slack&status=FAILED"
    )
  })
  it("sizes the default look-back from the longest run", () => {
    expect(Duration.toMillis(Exporter.defaultLookback(0))).toBe(3_600_000)
    expect(Duration.toMillis(Exporter.defaultLookback(2 * 3_600_000))).toBe(4 * 3_600_000)
    expect(Duration.toMillis(Exporter.defaultLookback(365 * 86_400_000))).toBe(90 * 86_400_000)
  })
})
