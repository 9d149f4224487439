import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as ExporterMetrics from "../src/ExporterMetrics.js"

const figures: ExporterMetrics.RunFigures = {
  seen: 250,
  inserted: 200,
  updated: 30,
  unchanged: 15,
  rejected: 5,
  requests: 4,
  rateLimited: 1,
  durationMs: 1500,
  highWaterMark: "2026-01-01T00:00:00.000Z"
}

const sample = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe("ExporterMetrics", () => {
  it.effect("counts runs and renders the Prometheus text format", () =>
    Effect.gen(function* () {
      const metrics = yield* ExporterMetrics.make
      yield* TestClock.setTime(Date.parse("2026-01-01T00:10:00.000Z"))
      yield* metrics.runStarted
      expect((yield* metrics.snapshot).runInProgress).toBe(true)
      yield* metrics.runSucceeded(figures)
      yield* metrics.runStarted
      yield* metrics.runFailed
      const text = ExporterMetrics.render(yield* metrics.snapshot, Date.parse("2026-01-01T00:15:00.000Z"))
      const p = "taskhistory_exporter_"
      expect(sample(text, `${p}runs_total`)).toBe(2)
      expect(sample(text, `${p}runs_failed_total`)).toBe(1)
      expect(sample(text, `${p}run_in_progress`)).toBe(0)
      expect(sample(text, `${p}records_seen_total`)).toBe(250)
      expect(sample(text, `${p}records_upserted_total`)).toBe(230)
      expect(sample(text, `${p}records_rejected_total`)).toBe(5)
      expect(sample(text, `${p}requests_total`)).toBe(4)
      expect(sample(text, `${p}rate_limited_total`)).toBe(1)
      expect(sample(text, `${p}high_water_mark_lag_seconds`)).toBe(900)
      expect(sample(text, `${p}last_success_timestamp_seconds`)).toBe(
        Date.parse("2026-01-01T00:10:00.000Z") / 1000
      )
      expect(text).toContain(`# TYPE ${p}runs_total counter`)
      expect(text).toContain(`# TYPE ${p}high_water_mark_lag_seconds gauge`)
      expect(text.endsWith("\n")).toBe(true)
    })
  )

  it("leaves out samples that are not known yet", () => {
    const text = ExporterMetrics.render(ExporterMetrics.emptySnapshot, 0)
    expect(text).toContain("# TYPE taskhistory_exporter_last_success_timestamp_seconds gauge")
    expect(sample(text, "taskhistory_exporter_last_success_timestamp_seconds")).toBeUndefined()
    expect(sample(text, "taskhistory_exporter_high_water_mark_lag_seconds")).toBeUndefined()
    expect(sample(text, "taskhistory_exporter_runs_total")).toBe(0)
  })

  it.live("serves /metrics and /healthz over HTTP", () =>
    Effect.gen(function* () {
      const address = yield* ExporterMetrics.serve({ port: 0, host: "127.0.0.1" })
      const metrics = yield* ExporterMetrics.ExporterMetrics
      yield* metrics.runSucceeded(figures)
      const res = yield* Effect.promise(() => fetch(`${address}/metrics`))
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toContain("text/plain")
      const text = yield* Effect.promise(() => res.text())
      expect(sample(text, "taskhistory_exporter_records_seen_total")).toBe(250)
      const health = yield* Effect.promise(() => fetch(`${address}/healthz`))
      expect(health.status).toBe(200)
      expect(yield* Effect.promise(() => health.text())).toBe("ok\n")
      const missing = yield* Effect.promise(() => fetch(`${address}/nope`))
      expect(missing.status).toBe(404)
    }).pipe(Effect.scoped, Effect.provide(ExporterMetrics.layer))
  )
})
