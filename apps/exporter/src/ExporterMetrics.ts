/**
 * The exporter's metrics and health: one prom-client registry holding the process's default
 * metrics, `taskhistory_build_info`, the export's own figures (runs, freshness, lag) and the
 * Effect metrics of the core (requests, retries, rate limiter) and of the export engine
 * (executions that reached a final status, tasks, durations), served on `GET /metrics`, with
 * `GET /healthz` (200 while the last run succeeded, 503 with the reason after a failed one).
 *
 * Why prom-client: it is the Prometheus client most Node services use, it renders the text
 * format (escaping, `+Inf`, histograms) that `promtool check metrics` accepts, and it brings the
 * standard process and Node.js runtime metrics (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`, ...) under their usual names. The OpenTelemetry route (Effect
 * metrics through `@effect/opentelemetry` and OTel's Prometheus exporter) renames metrics by
 * its own conventions (unit and `_total` suffixes, `otel_scope_*` labels, `target_info`),
 * needs a separate package for runtime metrics and adds several packages to the binary.
 *
 * Labels are bounded: `operation`, `code`, `result`, `reason`, `outcome`, `workflow_id`,
 * `status` (never a user id). Every metric of the export takes its labels from one place
 * ({@link MetricsOptions.labels}), so a `stream` label can be added without renaming anything.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { Freshness, RunReport } from "@taskhistory/export/Exporter"
import { Context, Effect, Layer, Runtime, type Scope } from "effect"
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client"
import * as EffectMetrics from "./internal/effectMetrics.js"
import { version } from "./internal/version.js"

/**
 * What `/healthz` says.
 *
 * @since 0.2.0
 */
export interface Health {
  /** `false` after a failed run, until the next success. */
  readonly ok: boolean
  /** One line: `ok`, `starting: ...`, or `failing since ...: <reason>`. */
  readonly text: string
}

/**
 * A failed run, for the metrics and `/healthz`.
 *
 * @since 0.2.0
 */
export interface RunFailure {
  /** A bounded reason, the `reason` label of `taskhistory_export_runs_total` (`unauthorized`, `transport`, ...). */
  readonly reason: string
  /** One line for `/healthz` (already scrubbed of secrets). */
  readonly message: string
  readonly durationMs: number
}

/**
 * @since 0.1.0
 */
export interface ExporterMetricsShape {
  /** The prom-client registry (`registry.metrics()` renders it). */
  readonly registry: Registry
  /** Marks a run as started. */
  readonly runStarted: Effect.Effect<void>
  /** Records a successful run: counts, duration, freshness; `/healthz` is 200 again. */
  readonly runSucceeded: (report: RunReport) => Effect.Effect<void>
  /** Records a failed (or interrupted) run; `/healthz` is 503 until the next success. */
  readonly runFailed: (failure: RunFailure) => Effect.Effect<void>
  /**
   * A run stopped without an outcome because this replica lost its stream's lease: no longer in
   * progress, and neither a success nor a failure (the replica is healthy, standing by).
   *
   * @since 0.3.0
   */
  readonly runStopped: Effect.Effect<void>
  /** The freshness stored in the sink, known before any run (start-up). */
  readonly restore: (freshness: Freshness | undefined) => Effect.Effect<void>
  readonly health: Effect.Effect<Health>
  /** The Prometheus text exposition (format 0.0.4). */
  readonly text: Effect.Effect<string>
  /**
   * Whether this replica leads `stream` now (`taskhistory_leader{stream}`).
   *
   * @since 0.3.0
   */
  readonly leader: (stream: string, leading: boolean) => Effect.Effect<void>
  /**
   * This replica took `stream` over from another whose lease expired.
   *
   * @since 0.3.0
   */
  readonly takeover: (stream: string) => Effect.Effect<void>
  /**
   * This replica lost the lease of `stream` (`taken`, `expired` or `fenced`: a write refused).
   *
   * @since 0.3.0
   */
  readonly leaseLost: (stream: string, reason: string) => Effect.Effect<void>
  /**
   * The export metrics of one stream of a `--config` run: the same series with
   * `stream="NAME"` (the service must be made with {@link MetricsOptions.streams}). `/healthz` is
   * 503 while any stream's last run failed.
   *
   * @since 0.3.0
   */
  readonly stream: (name: string) => StreamMetrics
}

/**
 * What one stream records (see {@link ExporterMetricsShape.stream}).
 *
 * @since 0.3.0
 */
export type StreamMetrics = Pick<
  ExporterMetricsShape,
  "runStarted" | "runSucceeded" | "runFailed" | "runStopped" | "restore"
>

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
 * Options of {@link make}.
 *
 * @since 0.2.0
 */
export interface MetricsOptions {
  /** Labels on every metric of the export. */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /**
   * One process runs several streams (`--config`): every metric of the export, and the core's
   * request metrics (tagged `stream` by the caller with `Effect.tagMetrics`), carry a `stream`
   * label; record with {@link ExporterMetricsShape.stream}.
   *
   * @since 0.3.0
   */
  readonly streams?: boolean | undefined
  /**
   * Slots left in the rate limiter's window, read at each scrape
   * (`taskhistory_rate_limit_remaining`); `undefined` when it cannot be told.
   */
  readonly rateLimitRemaining?: Effect.Effect<number | undefined> | undefined
  /** Register the process and Node.js runtime metrics (default true). */
  readonly defaultMetrics?: boolean | undefined
}

/**
 * The Effect metrics of the core and the engine shown on `/metrics`.
 *
 * @since 0.2.0
 */
export const bridged: ReadonlyArray<EffectMetrics.Bridged> = [
  {
    name: "taskhistory_api_requests_total",
    help: "Task History API requests (every attempt, failed ones too), by operation and HTTP status or transport failure.",
    type: "counter",
    labelNames: ["operation", "code"]
  },
  {
    name: "taskhistory_api_retries_total",
    help: "Task History API requests that were retries of an earlier attempt.",
    type: "counter",
    labelNames: []
  },
  {
    name: "taskhistory_api_rate_limited_total",
    help: "429 answers received from the Task History API.",
    type: "counter",
    labelNames: []
  },
  {
    name: "taskhistory_rate_limit_wait_seconds",
    help: "Time each Task History request waited for the client-side rate limiter, in seconds.",
    type: "histogram",
    labelNames: []
  },
  {
    name: "taskhistory_executions_total",
    help: "Executions that reached a final status (SUCCEEDED, FAILED) in the export, each counted once.",
    type: "counter",
    labelNames: ["workflow_id", "status"]
  },
  {
    name: "taskhistory_tasks_total",
    help: "Tasks used by the executions that reached a final status in the export.",
    type: "counter",
    labelNames: ["workflow_id"]
  },
  {
    name: "taskhistory_execution_duration_seconds",
    help: "Run duration of the executions that reached a final status in the export, in seconds.",
    type: "histogram",
    labelNames: ["workflow_id"]
  }
]

/** Bucket boundaries of `taskhistory_export_run_duration_seconds`. */
const runBuckets = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

/**
 * Builds the metrics service over a new registry. Time is read from Effect's `Clock`
 * (`TestClock` in tests), also at scrape time for the lag.
 *
 * @since 0.2.0
 */
export const make = (options: MetricsOptions = {}): Effect.Effect<ExporterMetricsShape> =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const runtime = yield* Effect.runtime<never>()
    const base = { ...options.labels }
    const baseNames = [...Object.keys(base), ...(options.streams === true ? ["stream"] : [])]
    const registry = new Registry()
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: registry })
      // Gauges whose names end in `_total` (a counter's suffix): `promtool check metrics` flags
      // them, and they say little (counts of libuv handles and requests).
      for (const name of [
        "nodejs_active_handles_total",
        "nodejs_active_requests_total",
        "nodejs_active_resources_total"
      ])
        registry.removeSingleMetric(name)
    }
    const registers = [registry]
    const nowSeconds = () => clock.unsafeCurrentTimeMillis() / 1000

    new Gauge({
      name: "taskhistory_build_info",
      help: "Build of the taskhistory exporter: always 1, its version and Node.js version as labels.",
      labelNames: ["version", "nodejs_version"],
      registers
    }).set({ version, nodejs_version: process.versions.node }, 1)

    const runs = new Counter({
      name: "taskhistory_export_runs_total",
      help: "Export runs that finished, by result (success, failure) and, for failures, a bounded reason.",
      labelNames: [...baseNames, "result", "reason"],
      registers
    })
    const duration = new Histogram({
      name: "taskhistory_export_run_duration_seconds",
      help: "Duration of export runs, in seconds, by result.",
      labelNames: [...baseNames, "result"],
      buckets: runBuckets,
      registers
    })
    const records = new Counter({
      name: "taskhistory_export_records_total",
      help: "Records written by successful runs, by outcome (inserted, updated, unchanged, rejected).",
      labelNames: [...baseNames, "outcome"],
      registers
    })
    const lastSuccess = new Gauge({
      name: "taskhistory_export_last_success_timestamp_seconds",
      help: "Unix time of the end of the last successful export run.",
      labelNames: baseNames,
      registers
    })
    const inProgress = new Gauge({
      name: "taskhistory_export_run_in_progress",
      help: "1 while an export run is going.",
      labelNames: baseNames,
      registers
    })
    const healthy = new Gauge({
      name: "taskhistory_export_healthy",
      help: "1 while the last export run succeeded (or none finished yet), 0 after a failed run until the next success.",
      labelNames: baseNames,
      registers
    })
    const inflight = new Gauge({
      name: "taskhistory_export_inflight_executions",
      help: "Executions still running when the last successful run read them; each run reads them again until they end.",
      labelNames: baseNames,
      registers
    })

    const stepBacklog = new Gauge({
      name: "taskhistory_export_step_backlog",
      help: "Executions whose step executions are still to be read (--steps), after the last successful run; later runs read them, oldest first.",
      labelNames: baseNames,
      registers
    })
    const stepRows = new Counter({
      name: "taskhistory_export_step_rows_total",
      help: "Step execution rows written by successful runs (--steps).",
      labelNames: baseNames,
      registers
    })

    // What the lag is computed from at each scrape, by stream: the start of the range the last
    // successful run read completely (in-flight executions do not hold it back).
    const readThrough = new Map<string, { labels: Record<string, string>; ms: number | undefined }>()
    new Gauge({
      name: "taskhistory_export_lag_seconds",
      help: "Seconds between now and the time up to which the last successful run read every execution (in-flight executions being read again do not hold it back).",
      labelNames: baseNames,
      registers,
      collect() {
        // Unknown until a run completed (or the sink told): NaN, which no threshold matches.
        for (const { labels, ms } of readThrough.values())
          this.set(labels, ms === undefined ? Number.NaN : Math.max(0, nowSeconds() - ms / 1000))
      }
    })

    const remaining = options.rateLimitRemaining
    if (remaining !== undefined) {
      new Gauge({
        name: "taskhistory_rate_limit_remaining",
        help: "Requests the client-side rate limiter can still grant in its current window.",
        registers,
        async collect() {
          const value = await Runtime.runPromise(runtime)(
            remaining.pipe(Effect.catchAllCause(() => Effect.succeed(undefined)))
          )
          if (value === undefined) this.reset()
          else this.set(Math.max(0, value))
        }
      })
    }

    EffectMetrics.register(
      registry,
      options.streams === true
        ? bridged.map((b) => ({ ...b, labelNames: ["stream", ...b.labelNames] }))
        : bridged
    )

    const leaderGauge = new Gauge({
      name: "taskhistory_leader",
      help: "1 while this replica leads the stream (holds its lease), 0 while it stands by.",
      labelNames: ["stream"],
      registers
    })
    const takeovers = new Counter({
      name: "taskhistory_leader_takeovers_total",
      help: "Streams this replica took over from another replica whose lease had expired.",
      labelNames: ["stream"],
      registers
    })
    const knownStreams = new Set<string>()
    const leasesLost = new Counter({
      name: "taskhistory_lease_lost_total",
      help: "Leases this replica lost while leading, by reason: taken (another replica holds it), expired (not renewed in time), fenced (a write was refused by the fencing token).",
      labelNames: ["stream", "reason"],
      registers
    })

    const starting: Health = { ok: true, text: "starting: no export run has finished yet" }
    const healths = new Map<string, Health>()

    /** The recording of the export series labelled `labels`, `key` naming it for the lag and health. */
    const recorder = (key: string, labels: Record<string, string>): StreamMetrics => {
      readThrough.set(key, { labels, ms: undefined })
      inProgress.set(labels, 0)
      healthy.set(labels, 1)
      healths.set(key, starting)
      const setFreshness = (freshness: Freshness | undefined) => {
        if (freshness === undefined) return
        const t = Date.parse(freshness.readThrough)
        if (Number.isFinite(t)) readThrough.set(key, { labels, ms: t })
        inflight.set(labels, freshness.inFlight)
      }
      return {
        runStarted: Effect.sync(() => inProgress.set(labels, 1)),
        runSucceeded: (report) =>
          Effect.sync(() => {
            inProgress.set(labels, 0)
            runs.inc({ ...labels, result: "success" })
            duration.observe({ ...labels, result: "success" }, report.durationMs / 1000)
            for (const outcome of ["inserted", "updated", "unchanged", "rejected"] as const)
              records.inc({ ...labels, outcome }, report[outcome])
            lastSuccess.set(labels, nowSeconds())
            if (report.steps !== undefined) {
              stepBacklog.set(labels, report.steps.backlog)
              stepRows.inc(labels, report.steps.rows)
            }
            setFreshness(report)
            healthy.set(labels, 1)
            healths.set(key, { ok: true, text: "ok" })
          }),
        runFailed: (failure) =>
          Effect.sync(() => {
            inProgress.set(labels, 0)
            runs.inc({ ...labels, result: "failure", reason: failure.reason })
            duration.observe({ ...labels, result: "failure" }, failure.durationMs / 1000)
            healthy.set(labels, 0)
            const health = healths.get(key) ?? starting
            const since = health.ok
              ? new Date(clock.unsafeCurrentTimeMillis()).toISOString()
              : (/failing since (\S+):/.exec(health.text)?.[1] ?? "")
            healths.set(key, { ok: false, text: `failing since ${since}: ${oneLine(failure.message)}` })
          }),
        runStopped: Effect.sync(() => inProgress.set(labels, 0)),
        restore: (freshness) => Effect.sync(() => setFreshness(freshness))
      }
    }
    const streams = new Map<string, StreamMetrics>()
    const single = options.streams === true ? undefined : recorder("", base)
    const noStream: StreamMetrics = {
      runStarted: Effect.void,
      runSucceeded: () => Effect.void,
      runFailed: () => Effect.void,
      runStopped: Effect.void,
      restore: () => Effect.void
    }
    const main = single ?? noStream

    return {
      registry,
      ...main,
      leader: (stream, leading) =>
        Effect.sync(() => {
          if (!knownStreams.has(stream)) {
            // Every series of a stream shows from the start, at 0.
            knownStreams.add(stream)
            takeovers.inc({ stream }, 0)
            for (const reason of ["taken", "expired", "fenced"]) leasesLost.inc({ stream, reason }, 0)
          }
          leaderGauge.set({ stream }, leading ? 1 : 0)
        }),
      takeover: (stream) =>
        Effect.sync(() => {
          takeovers.inc({ stream })
        }),
      leaseLost: (stream, reason) =>
        Effect.sync(() => {
          leasesLost.inc({ stream, reason })
        }),
      stream: (name) => {
        const known = streams.get(name)
        if (known !== undefined) return known
        const made = recorder(name, { ...base, stream: name })
        streams.set(name, made)
        return made
      },
      health: Effect.sync((): Health => {
        if (single !== undefined) return healths.get("") ?? starting
        const failing = [...healths.entries()].filter(([, h]) => !h.ok)
        if (failing.length > 0)
          return { ok: false, text: failing.map(([name, h]) => `${name}: ${h.text}`).join("; ") }
        const all = [...healths.values()]
        return all.length > 0 && all.every((h) => h.text === "ok") ? { ok: true, text: "ok" } : starting
      }),
      text: Effect.promise(() => registry.metrics())
    }
  })

const oneLine = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

/**
 * The metrics service as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (options?: MetricsOptions): Layer.Layer<ExporterMetrics> =>
  Layer.effect(ExporterMetrics, make(options))

/**
 * The HTTP app: `GET /metrics` (Prometheus text) and `GET /healthz` (200 `ok`, or 503 and the
 * reason of the failed run).
 *
 * @since 0.1.0
 */
export const app = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/metrics",
    Effect.gen(function* () {
      const metrics = yield* ExporterMetrics
      return HttpServerResponse.text(yield* metrics.text, {
        contentType: metrics.registry.contentType
      })
    })
  ),
  HttpRouter.get(
    "/healthz",
    Effect.gen(function* () {
      const metrics = yield* ExporterMetrics
      const health = yield* metrics.health
      return HttpServerResponse.text(`${health.text}\n`, { status: health.ok ? 200 : 503 })
    })
  )
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
