/**
 * The exporter's metrics: counters fed by each run's report, rendered in the Prometheus text
 * format and served on `GET /metrics` (with `GET /healthz`) by `--metrics-port`.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { NodeHttpServer } from "@effect/platform-node"
import type { RunReport } from "@taskhistory/export/Exporter"
import { Clock, Context, Effect, Layer, Ref, type Scope } from "effect"

/**
 * The figures of one finished run the metrics need (a subset of the engine's `RunReport`).
 *
 * @since 0.1.0
 */
export type RunFigures = Pick<
  RunReport,
  "seen" | "inserted" | "updated" | "unchanged" | "rejected" | "requests" | "rateLimited" | "durationMs"
> & {
  readonly highWaterMark: string | undefined
}

/**
 * Totals since the process started, plus the latest state.
 *
 * @since 0.1.0
 */
export interface MetricsSnapshot {
  readonly runsTotal: number
  readonly runsFailed: number
  readonly runInProgress: boolean
  readonly seen: number
  readonly upserted: number
  readonly unchanged: number
  readonly rejected: number
  readonly requests: number
  readonly rateLimited: number
  /** Epoch ms of the last successful run's end. */
  readonly lastSuccessMs: number | undefined
  /** Duration of the last finished run, ms. */
  readonly lastDurationMs: number | undefined
  /** The high-water mark (ISO) after the last successful run, or as stored at start-up. */
  readonly highWaterMark: string | undefined
}

/**
 * @since 0.1.0
 */
export interface ExporterMetricsShape {
  /** Marks a run as started. */
  readonly runStarted: Effect.Effect<void>
  /** Adds a successful run's figures. */
  readonly runSucceeded: (figures: RunFigures) => Effect.Effect<void>
  /** Counts a failed (or interrupted) run. */
  readonly runFailed: Effect.Effect<void>
  /** Sets the high-water mark known before any run (read from the sink). */
  readonly setHighWaterMark: (highWaterMark: string | undefined) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<MetricsSnapshot>
}

/**
 * The metrics service.
 *
 * @since 0.1.0
 */
export class ExporterMetrics extends Context.Tag("@taskhistory/exporter/ExporterMetrics")<
  ExporterMetrics,
  ExporterMetricsShape
>() {}

/**
 * The snapshot before any run.
 *
 * @since 0.1.0
 */
export const emptySnapshot: MetricsSnapshot = {
  runsTotal: 0,
  runsFailed: 0,
  runInProgress: false,
  seen: 0,
  upserted: 0,
  unchanged: 0,
  rejected: 0,
  requests: 0,
  rateLimited: 0,
  lastSuccessMs: undefined,
  lastDurationMs: undefined,
  highWaterMark: undefined
}

/**
 * Builds an in-memory metrics service.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<ExporterMetricsShape> = Effect.gen(function* () {
  const ref = yield* Ref.make(emptySnapshot)
  return {
    runStarted: Ref.update(ref, (s) => ({ ...s, runInProgress: true })),
    runSucceeded: (f) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(ref, (s) => ({
          ...s,
          runsTotal: s.runsTotal + 1,
          runInProgress: false,
          seen: s.seen + f.seen,
          upserted: s.upserted + f.inserted + f.updated,
          unchanged: s.unchanged + f.unchanged,
          rejected: s.rejected + f.rejected,
          requests: s.requests + f.requests,
          rateLimited: s.rateLimited + f.rateLimited,
          lastSuccessMs: now,
          lastDurationMs: f.durationMs,
          highWaterMark: f.highWaterMark ?? s.highWaterMark
        }))
      ),
    runFailed: Ref.update(ref, (s) => ({
      ...s,
      runsTotal: s.runsTotal + 1,
      runsFailed: s.runsFailed + 1,
      runInProgress: false
    })),
    setHighWaterMark: (highWaterMark) => Ref.update(ref, (s) => ({ ...s, highWaterMark })),
    snapshot: Ref.get(ref)
  }
})

/**
 * The in-memory metrics service as a Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<ExporterMetrics> = Layer.effect(ExporterMetrics, make)

const line = (
  out: Array<string>,
  name: string,
  type: "counter" | "gauge",
  help: string,
  value: number | undefined
) => {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
  if (value !== undefined && Number.isFinite(value)) out.push(`${name} ${value}`)
}

/**
 * Renders a snapshot in the Prometheus text exposition format (version 0.0.4). `nowMs` is used
 * for the lag of the high-water mark.
 *
 * @since 0.1.0
 */
export const render = (s: MetricsSnapshot, nowMs: number): string => {
  const out: Array<string> = []
  const p = "taskhistory_exporter_"
  line(out, `${p}runs_total`, "counter", "Runs finished (successful or failed).", s.runsTotal)
  line(out, `${p}runs_failed_total`, "counter", "Runs that failed.", s.runsFailed)
  line(out, `${p}run_in_progress`, "gauge", "1 while a run is going.", s.runInProgress ? 1 : 0)
  line(out, `${p}records_seen_total`, "counter", "Execution records read from the API.", s.seen)
  line(out, `${p}records_upserted_total`, "counter", "Rows inserted or updated in the sink.", s.upserted)
  line(out, `${p}records_unchanged_total`, "counter", "Records already stored as they are.", s.unchanged)
  line(out, `${p}records_rejected_total`, "counter", "Invalid records quarantined.", s.rejected)
  line(out, `${p}requests_total`, "counter", "Requests sent to the Task History API.", s.requests)
  line(out, `${p}rate_limited_total`, "counter", "429 answers received from the API.", s.rateLimited)
  const hwm = s.highWaterMark === undefined ? Number.NaN : Date.parse(s.highWaterMark)
  line(
    out,
    `${p}high_water_mark_lag_seconds`,
    "gauge",
    "Seconds between now and the export's high-water mark.",
    Number.isFinite(hwm) ? Math.max(0, (nowMs - hwm) / 1000) : undefined
  )
  line(
    out,
    `${p}last_success_timestamp_seconds`,
    "gauge",
    "Unix time of the end of the last successful run.",
    s.lastSuccessMs === undefined ? undefined : s.lastSuccessMs / 1000
  )
  line(
    out,
    `${p}last_run_duration_seconds`,
    "gauge",
    "Duration of the last successful run.",
    s.lastDurationMs === undefined ? undefined : s.lastDurationMs / 1000
  )
  return `${out.join("\n")}\n`
}

/**
 * The HTTP app: `GET /metrics` (Prometheus text) and `GET /healthz` (`ok`).
 *
 * @since 0.1.0
 */
export const app = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/metrics",
    Effect.gen(function* () {
      const metrics = yield* ExporterMetrics
      const snapshot = yield* metrics.snapshot
      const now = yield* Clock.currentTimeMillis
      return HttpServerResponse.text(render(snapshot, now), {
        contentType: "text/plain; version=0.0.4; charset=utf-8"
      })
    })
  ),
  HttpRouter.get("/healthz", HttpServerResponse.text("ok\n"))
)

/**
 * Serves {@link app} on `host:port` for the life of the current scope (port 0 picks a free
 * port). Returns the address, e.g. `http://127.0.0.1:9464`.
 *
 * @since 0.1.0
 */
export const serve = (options: {
  readonly port: number
  readonly host: string
}): Effect.Effect<string, ServeError, ExporterMetrics | Scope.Scope> =>
  Effect.gen(function* () {
    const metrics = yield* ExporterMetrics
    const context = yield* Layer.build(
      HttpServer.serve(app).pipe(
        Layer.provideMerge(
          NodeHttpServer.layer(() => createServer(), { port: options.port, host: options.host })
        ),
        Layer.provide(Layer.succeed(ExporterMetrics, metrics))
      )
    )
    return yield* HttpServer.addressFormattedWith(Effect.succeed).pipe(
      Effect.provideService(HttpServer.HttpServer, Context.get(context, HttpServer.HttpServer))
    )
  })
