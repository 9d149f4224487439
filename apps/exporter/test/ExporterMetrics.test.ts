import { describe, expect, it } from "@effect/vitest"
import * as TaskHistoryMetrics from "@taskhistory/core/TaskHistoryMetrics"
import type { RunReport } from "@taskhistory/export/Exporter"
import * as ExportMetrics from "@taskhistory/export/ExportMetrics"
import { Effect, Metric, TestClock } from "effect"
import * as ExporterMetrics from "../src/ExporterMetrics.js"
import { promtool, runPromtool } from "./utils/promtool.js"

const report = (overrides: Partial<RunReport> = {}): RunReport => ({
  seen: 250,
  inserted: 200,
  updated: 30,
  unchanged: 15,
  rejected: 5,
  finished: 180,
  requests: 4,
  rateLimited: 1,
  durationMs: 1500,
  highWaterMark: "2026-01-01T00:00:00.000Z",
  readThrough: "2026-01-01T10:00:00.000Z",
  inFlight: 3,
  inFlightSince: "2026-01-01T00:00:00.000Z",
  streamKey: "all",
  checked: 1,
  reread: 0,
  ...overrides
})

/** The value of the sample `series` (`name` or `name{labels}` exactly as rendered). */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const at = (iso: string) => TestClock.setTime(Date.parse(iso))

describe("ExporterMetrics", () => {
  it.effect(
    "runs, freshness and health: the lag is now minus read-through, not held back by in-flight executions",
    () =>
      Effect.gen(function* () {
        yield* at("2026-01-01T10:00:00.000Z")
        const metrics = yield* ExporterMetrics.make({ defaultMetrics: false })
        expect((yield* metrics.health).ok).toBe(true)
        yield* metrics.runStarted
        expect(sample(yield* metrics.text, "taskhistory_export_run_in_progress")).toBe(1)
        yield* at("2026-01-01T10:00:02.000Z")
        yield* metrics.runSucceeded(report())
        yield* at("2026-01-01T10:05:00.000Z")
        let text = yield* metrics.text
        expect(sample(text, 'taskhistory_export_runs_total{result="success"}')).toBe(1)
        expect(sample(text, "taskhistory_export_run_in_progress")).toBe(0)
        // The high-water mark is 10 h behind (an old DELAYED execution); the lag is 5 minutes.
        expect(sample(text, "taskhistory_export_lag_seconds")).toBe(300)
        expect(sample(text, "taskhistory_export_inflight_executions")).toBe(3)
        expect(sample(text, "taskhistory_export_last_success_timestamp_seconds")).toBe(
          Date.parse("2026-01-01T10:00:02.000Z") / 1000
        )
        expect(sample(text, 'taskhistory_export_records_total{outcome="inserted"}')).toBe(200)
        expect(sample(text, 'taskhistory_export_run_duration_seconds_count{result="success"}')).toBe(1)
        expect(sample(text, 'taskhistory_export_run_duration_seconds_sum{result="success"}')).toBe(1.5)
        expect(sample(text, "taskhistory_export_healthy")).toBe(1)
        expect(yield* metrics.health).toEqual({ ok: true, text: "ok" })

        yield* metrics.runFailed({
          reason: "unauthorized",
          message: "authentication failed (401)",
          durationMs: 200
        })
        yield* at("2026-01-01T10:06:00.000Z")
        yield* metrics.runFailed({ reason: "transport", message: "connection\nrefused", durationMs: 100 })
        text = yield* metrics.text
        expect(sample(text, 'taskhistory_export_runs_total{result="failure",reason="unauthorized"}')).toBe(1)
        expect(sample(text, 'taskhistory_export_runs_total{result="failure",reason="transport"}')).toBe(1)
        expect(sample(text, "taskhistory_export_healthy")).toBe(0)
        // The lag keeps growing while runs fail: it is the last success's read-through.
        expect(sample(text, "taskhistory_export_lag_seconds")).toBe(360)
        const health = yield* metrics.health
        expect(health.ok).toBe(false)
        // One line, the failure's start kept while it goes on.
        expect(health.text).toBe("failing since 2026-01-01T10:05:00.000Z: connection refused")

        yield* metrics.runSucceeded(report({ readThrough: "2026-01-01T10:06:00.000Z" }))
        expect(yield* metrics.health).toEqual({ ok: true, text: "ok" })
        expect(sample(yield* metrics.text, "taskhistory_export_lag_seconds")).toBe(0)
      })
  )

  it.effect("the freshness stored in the sink gives the lag before the first run", () =>
    Effect.gen(function* () {
      yield* at("2026-01-01T12:00:00.000Z")
      const metrics = yield* ExporterMetrics.make({ defaultMetrics: false })
      expect(sample(yield* metrics.text, "taskhistory_export_lag_seconds")).toBeNaN()
      yield* metrics.restore({
        readThrough: "2026-01-01T11:00:00.000Z",
        inFlight: 0,
        inFlightSince: undefined
      })
      expect(sample(yield* metrics.text, "taskhistory_export_lag_seconds")).toBe(3600)
    })
  )

  it.effect(
    "the core's and the engine's Effect metrics are on /metrics, in base units, with bounded labels",
    () =>
      Effect.gen(function* () {
        const metrics = yield* ExporterMetrics.make({
          defaultMetrics: false,
          rateLimitRemaining: Effect.succeed(997)
        })
        yield* Metric.increment(TaskHistoryMetrics.requestCounter("list", "200"))
        yield* Metric.increment(TaskHistoryMetrics.requestCounter("list", "401"))
        yield* Metric.increment(TaskHistoryMetrics.requestCounter("list", "timeout"))
        yield* TaskHistoryMetrics.recordLimiterWait(2500)
        yield* ExportMetrics.recordFinished([
          { workflowId: "wf-a", status: "FAILED", taskCount: 2, runDurationMs: 1500 },
          { workflowId: "wf-a", status: "SUCCEEDED", taskCount: 3, runDurationMs: 40 },
          { workflowId: undefined, status: "SUCCEEDED", taskCount: undefined, runDurationMs: undefined }
        ])
        const text = yield* metrics.text
        expect(
          sample(text, 'taskhistory_api_requests_total{operation="list",code="401"}')
        ).toBeGreaterThanOrEqual(1)
        expect(
          sample(text, 'taskhistory_api_requests_total{operation="list",code="timeout"}')
        ).toBeGreaterThanOrEqual(1)
        expect(sample(text, 'taskhistory_rate_limit_wait_seconds_bucket{le="+Inf"}')).toBeGreaterThanOrEqual(
          1
        )
        expect(sample(text, "taskhistory_rate_limit_wait_seconds_sum")).toBeGreaterThanOrEqual(2.5)
        expect(sample(text, "taskhistory_rate_limit_remaining")).toBe(997)
        expect(
          sample(text, 'taskhistory_executions_total{workflow_id="wf-a",status="FAILED"}')
        ).toBeGreaterThanOrEqual(1)
        expect(
          sample(text, 'taskhistory_executions_total{workflow_id="none",status="SUCCEEDED"}')
        ).toBeGreaterThanOrEqual(1)
        expect(sample(text, 'taskhistory_tasks_total{workflow_id="wf-a"}')).toBeGreaterThanOrEqual(5)
        expect(
          sample(text, 'taskhistory_execution_duration_seconds_bucket{workflow_id="wf-a",le="1"}')
        ).toBeGreaterThanOrEqual(1)
        expect(
          sample(text, 'taskhistory_execution_duration_seconds_bucket{workflow_id="wf-a",le="2.5"}')
        ).toBeGreaterThanOrEqual(2)
        expect(text).toContain("# TYPE taskhistory_execution_duration_seconds histogram")
        expect(text).toContain("# TYPE taskhistory_api_requests_total counter")
        expect(text).toMatch(/^taskhistory_build_info\{version="[^"]+",nodejs_version="[^"]+"\} 1$/m)
        // No unit other than seconds, no per-user series.
        expect(text).not.toMatch(/_ms\b|_milliseconds|user_id/)
      })
  )

  it.effect("includes the process and Node.js runtime metrics", () =>
    Effect.gen(function* () {
      const text = yield* Effect.flatMap(ExporterMetrics.make(), (m) => m.text)
      expect(text).toContain("# TYPE process_cpu_seconds_total counter")
      expect(text).toContain("nodejs_heap_size_used_bytes")
      expect(text).toContain("process_start_time_seconds")
    })
  )

  it.effect.skipIf(promtool === undefined)("passes promtool check metrics", () =>
    Effect.gen(function* () {
      const metrics = yield* ExporterMetrics.make()
      yield* metrics.runSucceeded(report())
      yield* metrics.runFailed({ reason: "server_error", message: "500", durationMs: 10 })
      yield* Metric.increment(TaskHistoryMetrics.requestCounter("get", "404"))
      yield* Metric.increment(TaskHistoryMetrics.retries)
      yield* ExportMetrics.recordFinished([
        { workflowId: 'w "quoted"\\', status: "FAILED", taskCount: 1, runDurationMs: 10 }
      ])
      const text = yield* metrics.text
      const checked = runPromtool(["check", "metrics"], text)
      expect(checked.stdout + checked.stderr).toBe("")
      expect(checked.code).toBe(0)
    })
  )

  it.live("serves /metrics and /healthz over HTTP: 503 with the reason after a failed run", () =>
    Effect.gen(function* () {
      const address = yield* ExporterMetrics.serve({ port: 0, host: "127.0.0.1" })
      const metrics = yield* ExporterMetrics.ExporterMetrics
      yield* metrics.runSucceeded(report())
      const res = yield* Effect.promise(() => fetch(`${address}/metrics`))
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4")
      const text = yield* Effect.promise(() => res.text())
      expect(sample(text, 'taskhistory_export_runs_total{result="success"}')).toBe(1)
      const ok = yield* Effect.promise(() => fetch(`${address}/healthz`))
      expect(ok.status).toBe(200)
      expect(yield* Effect.promise(() => ok.text())).toBe("ok\n")
      yield* metrics.runFailed({ reason: "unauthorized", message: "authentication failed", durationMs: 1 })
      const failing = yield* Effect.promise(() => fetch(`${address}/healthz`))
      expect(failing.status).toBe(503)
      expect(yield* Effect.promise(() => failing.text())).toMatch(
        /^failing since \S+: authentication failed\n$/
      )
      const missing = yield* Effect.promise(() => fetch(`${address}/nope`))
      expect(missing.status).toBe(404)
    }).pipe(Effect.scoped, Effect.provide(ExporterMetrics.layer({ defaultMetrics: false })))
  )
})
