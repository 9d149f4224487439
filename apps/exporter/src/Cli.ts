/**
 * The `taskhistory-exporter` commands: `run` (once, on a cron schedule or every interval, with
 * optional Prometheus metrics) and `status`.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { existsSync, statSync } from "node:fs"
import { hostname } from "node:os"
import { dirname, resolve } from "node:path"
import { Command, Options } from "@effect/cli"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as CostNotice from "@taskhistory/app-kit/CostNotice"
import * as Dates from "@taskhistory/app-kit/Dates"
import * as FileMode from "@taskhistory/app-kit/FileMode"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Help from "@taskhistory/app-kit/Help"
import * as InputFile from "@taskhistory/app-kit/InputFile"
import * as Main from "@taskhistory/app-kit/Main"
import * as OutputFormat from "@taskhistory/app-kit/OutputFormat"
import type * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { escapeControls, InvalidInput } from "@taskhistory/core/TaskHistoryError"
import * as Exporter from "@taskhistory/export/Exporter"
import { type Lease, Sink, type SinkError } from "@taskhistory/export/Sink"
import * as SinkSpec from "@taskhistory/export/SinkSpec"
import {
  Cause,
  Clock,
  Config,
  Console,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Predicate
} from "effect"
import type * as ExporterMetrics from "./ExporterMetrics.js"
import type * as Alerting from "./internal/alerting.js"
import type * as AlertsFile from "./internal/alertsFile.js"
import type * as ConfigFile from "./internal/configFile.js"
import * as Failure from "./internal/failure.js"
import * as StatusFormat from "./internal/status.js"
import * as Webhooks from "./internal/webhooks.js"
import * as Leadership from "./Leadership.js"
import * as RunSchedule from "./RunSchedule.js"

/**
 * The default sink.
 *
 * @since 0.1.0
 */
export const defaultSink = SinkSpec.defaultSpec

const fromEither = <A>(either: Either.Either<A, InvalidInput>): Effect.Effect<A, InvalidInput> =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * Exit codes of the engine's own errors (the core's errors carry theirs): invalid export options
 * are invalid input (2); invalid records with `--on-invalid fail`, inconsistent API answers and a
 * sink that cannot be read or written are upstream failures (6).
 */
const withExitCodes = <A, E, R>(effect: Effect.Effect<A, E | Exporter.ExportError | SinkError, R>) =>
  Effect.catchIf(
    effect,
    (e): e is Exporter.ExportError | SinkError =>
      Predicate.isTagged(e, "ExportError") || Predicate.isTagged(e, "SinkError"),
    (e) =>
      Effect.fail(
        new Main.CliError({
          // A sink held by another exporter is refused at start: invalid input (2), like a flag.
          exitCode:
            e.reason === "InvalidOptions" || e.reason === "DriverMissing" || e.reason === "Locked" ? 2 : 6,
          text: e.reason === "Locked" ? `${e.message} (or pass --wait-for-lock to wait for it)` : e.message,
          cause: e
        })
      )
  )

const sinkOption = Options.text("sink").pipe(
  Options.withPseudoName("SINK"),
  Options.withDescription(
    `Where to export: sqlite:PATH, postgres://USER@HOST:PORT/DB (optionally ?schema=NAME; the password from PGPASSWORD or ~/.pgpass, what the URL leaves out from PGHOST, PGPORT, PGDATABASE, PGUSER), ndjson:DIR, csv:DIR or parquet:DIR. Default: ${defaultSink}.`
  ),
  Options.withDefault(defaultSink)
)

const sinkFileOption = Options.text("sink-file").pipe(
  Options.withPseudoName("PATH"),
  Options.withDescription(
    "Read the sink from this file instead of --sink (one line, at most 64 KiB; lines starting with # are comments), so that a postgres:// URL with a password stays out of argv, the shell history and the process list."
  ),
  Options.optional
)

/** The size limit of a --sink-file: one line. */
const sinkFileLimit = 64 * 1024

/**
 * The sink spec of `--sink`, or of `--sink-file PATH` (read at most 64 KiB; its one line is the
 * spec, and a password in it is scrubbed from everything printed from then on).
 *
 * @since 0.2.0
 */
export const sinkText = (sink: string, sinkFile: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isNone(sinkFile)) return sink
    const path = sinkFile.value
    if (sink !== defaultSink) {
      return yield* new InvalidInput({
        field: "--sink-file",
        value: path,
        expected: "either --sink or --sink-file, not both"
      })
    }
    const text = yield* InputFile.readText("--sink-file", path, sinkFileLimit)
    const lines = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length > 0 && !line.startsWith("#"))
    for (const line of lines) if (/^postgres(ql)?:\/\//i.test(line)) Main.registerSecretUrl(line)
    const [spec] = lines
    if (lines.length !== 1 || spec === undefined) {
      return yield* new InvalidInput({
        field: "--sink-file",
        value: path,
        expected: `a file holding one sink on one line, e.g. postgres://USER:PASSWORD@HOST:5432/DB (it has ${lines.length})`
      })
    }
    const parsed = SinkSpec.parse(spec)
    if (Either.isLeft(parsed)) {
      return yield* new InvalidInput({
        field: "--sink-file",
        value: path,
        expected: `a file holding a sink: ${parsed.left.expected} (it holds ${parsed.left.value})`
      })
    }
    return spec
  })

/** The shortest `--every` unless `--min-every` (or `TASKHISTORY_MIN_EVERY`) says otherwise. */
const DEFAULT_MIN_EVERY = "10s"

const runOptions = {
  config: Options.text("config").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "Run the streams of this YAML file (projects, keys from apiKeyEnv or apiKeyFile, sinks, schedules, filters; see the README), all in this process, each on its own schedule; replicas with the same file share the streams of their Postgres sinks. Replaces the connection, sink, schedule, filter and --steps flags; an API key written in the file is refused (exit 2)."
    ),
    Options.optional
  ),
  connection: ConnectionOptions.options,
  once: Options.boolean("once").pipe(
    Options.withDescription(
      "Run one export and exit (the default when neither --schedule nor --every is given)."
    )
  ),
  schedule: Options.text("schedule").pipe(
    Options.withPseudoName("CRON"),
    Options.withDescription(
      'Run on a cron schedule, e.g. "*/15 * * * *" (5 fields, or 6 with seconds first), in UTC unless --timezone. Runs never overlap: a start that falls while a run is going is skipped (logged).'
    ),
    Options.optional
  ),
  every: Options.text("every").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "Run now and then every DURATION (e.g. 15m, 1h). Runs never overlap: a start that falls while a run is going is skipped (logged)."
    ),
    Options.optional
  ),
  minEvery: Options.text("min-every").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      `The shortest --every accepted (a shorter one is exit 2, so that a typo cannot run exports back to back). Default: ${DEFAULT_MIN_EVERY}; lower it for tests (also TASKHISTORY_MIN_EVERY).`
    ),
    Options.withFallbackConfig(Config.string("TASKHISTORY_MIN_EVERY")),
    Options.withDefault(DEFAULT_MIN_EVERY)
  ),
  timezone: Options.text("timezone").pipe(
    Options.withPseudoName("ZONE"),
    Options.withDescription("IANA time zone of the --schedule expression. Default: UTC."),
    Options.optional
  ),
  sink: sinkOption,
  sinkFile: sinkFileOption,
  filters: FilterOptions.selectionFlags,
  since: Options.text("since").pipe(
    Options.withPseudoName("DATE"),
    Options.withDescription(
      "On the first run (no stored state), start at this date instead of the 90-day retention horizon: ISO 8601 (2026-01-01) or a time before now (7d, 2w)."
    ),
    Options.optional
  ),
  lookback: Options.text("lookback").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "Re-read this far back before the high-water mark to catch late executions and status changes. Default: from the longest run seen (at least 1h)."
    ),
    Options.optional
  ),
  onInvalid: Options.choice("on-invalid", ["quarantine", "fail"]).pipe(
    Options.withDescription(
      "Invalid records: quarantine (store them in the rejects table, warn, go on) or fail (stop without moving the state). Default: quarantine."
    ),
    Options.withDefault("quarantine" as const)
  ),
  batchSize: Options.integer("batch-size").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Records per sink transaction. Default: the engine's."),
    Options.optional
  ),
  steps: Options.choice("steps", ["none", "failed", "all"]).pipe(
    Options.withDescription(
      "Also export step executions: failed (the steps of failed executions, with each failed step's output and error message), all (the steps of every execution) or none. An execution's steps are read once per status it is exported with. SQL sinks: table step_executions; file sinks: DIR/step_executions/date=YYYY-MM-DD/, same columns. Default: none."
    ),
    Options.withDefault("none" as const)
  ),
  stepsBudget: Options.float("steps-budget").pipe(
    Options.withPseudoName("FRACTION"),
    Options.withDescription(
      "The share of the rate limit step requests may take while executions are still being listed (above 0, at most 1); after the list reads, the step backlog is read at the full rate. Default: 0.5."
    ),
    Options.withDefault(0.5)
  ),
  stepsMaxRequests: Options.integer("steps-max-requests").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "At most N step requests per run; the executions left wait in the sink's step backlog and are read by the next runs, oldest first. Default: no cap."
    ),
    Options.optional
  ),
  report: Options.text("report").pipe(
    Options.withPseudoName("FILE.html"),
    Options.withDescription(
      "After every successful run, write the usage report of the last --report-days days (from the sink, no API request) to this HTML file, replaced atomically."
    ),
    Options.optional
  ),
  reportDays: Options.integer("report-days").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Days covered by --report, ending at the end of the run. Default: 30."),
    Options.withDefault(30)
  ),
  alerts: Options.text("alerts").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "Alert rules (YAML: webhooks and rules, see the README), evaluated over the sink after every successful run; notifications go to the webhooks once per change (firing, resolved), also across restarts. With --config: for every stream, over its own sink, each message naming its stream. A bad file is exit 2 before any request."
    ),
    Options.optional
  ),
  waitForLock: Options.boolean("wait-for-lock").pipe(
    Options.withDescription(
      "When another exporter holds the SQLite file or the file-sink directory, wait until it stops instead of exiting with code 2."
    )
  ),
  lease: Options.text("lease").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "Replicas on one Postgres sink (--every or --schedule): how long a leader's lease on its stream lasts without a renewal. A replica that lost it never writes again; another takes a dead leader's stream over within --lease plus --lease-check. Default: 30s."
    ),
    Options.withDefault("30s")
  ),
  leaseCheck: Options.text("lease-check").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "How often a replica renews its leases and looks for streams to take (shorter than --lease). Default: 10s."
    ),
    Options.withDefault("10s")
  ),
  metricsPort: Options.integer("metrics-port").pipe(
    Options.withPseudoName("PORT"),
    Options.withDescription(
      "Serve Prometheus metrics on GET /metrics and a health check on GET /healthz at this port (0 picks a free port, logged)."
    ),
    Options.optional
  ),
  umask: FileMode.umaskOption,
  metricsHost: Options.text("metrics-host").pipe(
    Options.withPseudoName("HOST"),
    Options.withDescription(
      "Address the metrics server listens on. Default: 127.0.0.1 (use 0.0.0.0 to expose it)."
    ),
    Options.withDefault("127.0.0.1")
  )
}

type RunFlags = Command.Command.ParseConfig<typeof runOptions>

const parseSink = (spec: string) =>
  fromEither(
    Either.mapLeft(
      SinkSpec.parse(spec),
      (e) => new InvalidInput({ field: "--sink", value: e.value, expected: e.expected })
    )
  )

/**
 * Checks every flag of `run` and builds the engine's options. Fails with `InvalidInput` naming
 * the bad value.
 *
 * @since 0.1.0
 */
export const runSettings = (flags: RunFlags) =>
  Effect.gen(function* () {
    const minEvery = yield* fromEither(TaskHistoryConfig.parseDuration(flags.minEvery, "--min-every"))
    const schedule = yield* fromEither(
      RunSchedule.fromFlags({
        once: flags.once,
        schedule: Option.getOrUndefined(flags.schedule),
        every: Option.getOrUndefined(flags.every),
        timezone: Option.getOrUndefined(flags.timezone),
        minEvery
      })
    )
    const sink = yield* parseSink(flags.sink)
    if (sink._tag === "Sqlite" && sink.path === ":memory:") {
      if (schedule._tag !== "Once") {
        return yield* new InvalidInput({
          field: "--sink",
          value: flags.sink,
          expected: `a sink that keeps what is exported: sqlite::memory: is lost when the process ends, so a ${schedule._tag === "Every" ? "--every" : "--schedule"} run would read everything again each time (use sqlite:PATH)`
        })
      }
      yield* Effect.logWarning(
        "sqlite::memory: keeps nothing: the export is discarded when the run ends (use sqlite:PATH to keep it)"
      )
    } else if (sink._tag === "Sqlite") {
      // A typo in the path is refused rather than creating directories nobody asked for.
      const dir = dirname(resolve(sink.path))
      const isDir = yield* Effect.sync(() => {
        try {
          return statSync(dir).isDirectory()
        } catch {
          return undefined
        }
      })
      if (isDir !== true) {
        return yield* new InvalidInput({
          field: "--sink",
          value: flags.sink,
          expected: `a database path in an existing directory (${dir} ${isDir === false ? "is not a directory" : "does not exist"}: create it first)`
        })
      }
    }
    const now = yield* Clock.currentTimeMillis
    const filters = yield* fromEither(FilterOptions.validate(flags.filters, now))
    const sinceText = Option.getOrUndefined(flags.since)
    const since =
      sinceText === undefined ? undefined : yield* fromEither(Dates.parse(sinceText, "--since", now))
    if (sinceText !== undefined && since !== undefined && Date.parse(since) > now) {
      return yield* new InvalidInput({
        field: "--since",
        value: sinceText,
        expected: `a date in the past (it is ${new Date(now).toISOString()} now; a start in the future would store a high-water mark of now and skip nothing it means to)`
      })
    }
    const lookback = Option.isSome(flags.lookback)
      ? yield* fromEither(TaskHistoryConfig.parseDuration(flags.lookback.value, "--lookback"))
      : undefined
    if (Option.isSome(flags.batchSize) && (flags.batchSize.value < 1 || flags.batchSize.value > 100_000)) {
      return yield* new InvalidInput({
        field: "--batch-size",
        value: String(flags.batchSize.value),
        expected: "an integer from 1 to 100000"
      })
    }
    if (
      Option.isSome(flags.metricsPort) &&
      (flags.metricsPort.value < 0 || flags.metricsPort.value > 65_535)
    ) {
      return yield* new InvalidInput({
        field: "--metrics-port",
        value: String(flags.metricsPort.value),
        expected: "a port from 0 to 65535"
      })
    }
    if (Option.isSome(flags.report)) {
      if (flags.reportDays < 1 || flags.reportDays > 3660) {
        return yield* new InvalidInput({
          field: "--report-days",
          value: String(flags.reportDays),
          expected: "a whole number of days from 1 to 3660"
        })
      }
    }
    if (!(flags.stepsBudget > 0 && flags.stepsBudget <= 1)) {
      return yield* new InvalidInput({
        field: "--steps-budget",
        value: String(flags.stepsBudget),
        expected: "a fraction of the rate limit above 0 and at most 1, e.g. 0.5"
      })
    }
    if (Option.isSome(flags.stepsMaxRequests) && flags.stepsMaxRequests.value < 1) {
      return yield* new InvalidInput({
        field: "--steps-max-requests",
        value: String(flags.stepsMaxRequests.value),
        expected: "a positive integer"
      })
    }
    const lease = yield* fromEither(TaskHistoryConfig.parseDuration(flags.lease, "--lease"))
    const leaseCheck = yield* fromEither(TaskHistoryConfig.parseDuration(flags.leaseCheck, "--lease-check"))
    if (Duration.toMillis(lease) < 1000) {
      return yield* new InvalidInput({
        field: "--lease",
        value: flags.lease,
        expected: "a duration of 1s or more"
      })
    }
    if (Duration.toMillis(leaseCheck) <= 0 || Duration.greaterThanOrEqualTo(leaseCheck, lease)) {
      return yield* new InvalidInput({
        field: "--lease-check",
        value: flags.leaseCheck,
        expected: `a duration shorter than --lease (${flags.lease})`
      })
    }
    const options: Exporter.RunOptions = {
      filters,
      onInvalid: flags.onInvalid,
      steps: flags.steps,
      stepsBudget: flags.stepsBudget,
      ...(Option.isSome(flags.stepsMaxRequests) ? { stepsMaxRequests: flags.stepsMaxRequests.value } : {}),
      // A backlog of steps never makes a run overrun the next start: the rest waits for the next runs.
      ...stepsDeadline(schedule, yield* Clock.currentTimeMillis),
      ...(since !== undefined ? { since } : {}),
      ...(lookback !== undefined ? { lookback } : {}),
      ...(Option.isSome(flags.batchSize) ? { batchSize: flags.batchSize.value } : {})
    }
    return { schedule, sink, options, lease, leaseCheck }
  })

/** This replica's name among replicas: host, pid and a random part (unique across restarts). */
const replicaName = () => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`

const summary = (report: Exporter.RunReport) =>
  Effect.logInfo(
    `run complete: ${report.seen} seen, ${report.inserted} inserted, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected} rejected, ${report.finished} finished, ${report.requests} requests, ${report.rateLimited} rate limited, ${Duration.format(Duration.millis(report.durationMs))}, read through ${report.readThrough}, ${report.inFlight} in flight${report.inFlightSince === undefined ? "" : ` since ${report.inFlightSince}`}, high-water mark ${report.highWaterMark}${report.steps === undefined ? "" : `; steps of ${report.steps.executions} execution(s): ${report.steps.rows} rows, ${report.steps.requests} requests, ${report.steps.backlog} left in the backlog`}`
  ).pipe(
    Effect.annotateLogs({
      seen: report.seen,
      inserted: report.inserted,
      updated: report.updated,
      unchanged: report.unchanged,
      rejected: report.rejected,
      finished: report.finished,
      requests: report.requests,
      rateLimited: report.rateLimited,
      durationMs: report.durationMs,
      readThrough: report.readThrough,
      inFlight: report.inFlight,
      ...(report.inFlightSince === undefined ? {} : { inFlightSince: report.inFlightSince }),
      highWaterMark: report.highWaterMark,
      streamKey: report.streamKey,
      ...(report.steps === undefined
        ? {}
        : {
            stepExecutions: report.steps.executions,
            stepRows: report.steps.rows,
            stepRequests: report.steps.requests,
            stepBacklog: report.steps.backlog
          })
    })
  )

/** The deadline of a run's step work on a schedule: the shortest time to its next start. */
const stepsDeadline = (
  schedule: RunSchedule.RunSchedule,
  now: number
): Pick<Exporter.RunOptions, "stepsDeadline"> =>
  Option.match(RunSchedule.shortestGap(schedule, now), {
    onNone: () => ({}),
    onSome: (gap) => ({ stepsDeadline: gap })
  })

/** The run options of a stream of `--config`: its filters and steps, a deadline for steps before its next start. */
const streamOptions = (
  options: Exporter.RunOptions,
  stream: {
    readonly filters: Exporter.Filters
    readonly steps: Exporter.RunOptions["steps"]
    readonly schedule: RunSchedule.RunSchedule
  },
  now: number
): Exporter.RunOptions => ({
  ...options,
  filters: stream.filters,
  steps: stream.steps,
  ...stepsDeadline(stream.schedule, now)
})

/**
 * At the first run of a stream (a backfill of the whole range): its plan, logged when it takes
 * over a minute at the rate limit, with the step requests when `--steps` is on (an estimate).
 * One request (two with `--steps`), made beside the run (forked: it never delays the run, nor
 * changes how it fails); a failure only loses the notice.
 */
const firstRunNotice = (options: Exporter.RunOptions) =>
  Effect.gen(function* () {
    const config = yield* TaskHistoryConfig.TaskHistoryConfig
    const plan = yield* Exporter.plan(options)
    if (!CostNotice.isLong(plan.cost)) return
    yield* Effect.logInfo(
      `${CostNotice.describe(plan.cost, config.rateLimit, `the first run (executions started from ${plan.from})`)}${plan.backlog > 0 ? `, and ${plan.backlog} execution(s) wait in the step backlog` : ""}; later runs read only what is new`
    )
  }).pipe(Effect.catchAll((error) => Effect.logDebug("could not plan the first run", error)))

/**
 * One export run, recorded in `metrics` and summed up in the log. With `replicated`, a run stopped
 * because the lease was lost (a refused write, an interruption) is neither a success nor a failure.
 */
const exportOnce = (
  options: Exporter.RunOptions,
  metrics: ExporterMetrics.StreamMetrics,
  replicated: boolean
) =>
  Effect.gen(function* () {
    yield* metrics.runStarted
    const startedAt = yield* Clock.currentTimeMillis
    const report = yield* Exporter.run(options).pipe(
      Effect.onExit((exit) =>
        exit._tag === "Success"
          ? Effect.void
          : replicated && (Leadership.isFencedCause(exit.cause) || Cause.isInterruptedOnly(exit.cause))
            ? metrics.runStopped
            : Effect.flatMap(Clock.currentTimeMillis, (now) => {
                const failure = Failure.classify(exit.cause)
                return metrics.runFailed({
                  reason: failure.reason,
                  message: failure.message,
                  durationMs: now - startedAt
                })
              })
      )
    )
    yield* metrics.runSucceeded(report)
    yield* summary(report)
    return report
  })

/**
 * Writes the usage report of the last `days` days, read from the sink just written (zero API
 * requests). A report that cannot be made is logged and does not fail the run: the export
 * itself succeeded.
 */
const writeReport = (
  sink: SinkSpec.SinkSpec,
  filters: ExecutionQuery.ExecutionQuery,
  path: string,
  days: number
) =>
  Effect.gen(function* () {
    const { Report } = yield* Effect.promise(() => import("@taskhistory/report"))
    const ExportReader = yield* Effect.promise(() => import("@taskhistory/export/ExportReader"))
    const now = yield* Clock.currentTimeMillis
    const period = yield* Report.period(new Date(now - days * 86_400_000), new Date(now))
    const written = yield* Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(ExportReader.layer(sink))
        const reader = yield* Effect.provide(ExportReader.ExportReader, context)
        const freshness = yield* reader.freshness
        // The sink holds this stream's executions: an --integration filter was applied by the API.
        const { integration: _, ...selection } = filters
        const data = yield* Report.fromStream(reader.executions(Report.readQuery(selection, period)), {
          period
        })
        const html = Report.render(data, {
          generatedAt: new Date(now),
          details: [
            {
              label: "Source",
              value: `${reader.name}, last successful export run ${freshness.lastRunAt ?? "none"}, complete up to ${freshness.highWaterMark ?? "none"}`
            }
          ]
        })
        yield* Report.writeFile(path, html)
        return data.headline.current.executions
      })
    )
    yield* Effect.logInfo(`report written to ${path} (${written} executions in the last ${days} days)`)
  }).pipe(Effect.catchAll((error) => Effect.logError(`the report was not written: ${error.message}`)))

/**
 * The metrics module (prom-client, the HTTP server), loaded when a run starts: `--help`,
 * `--version` and `status` do not load it.
 */
const loadMetrics = Effect.promise(() => import("./ExporterMetrics.js"))

/**
 * The alert modules (YAML, prom-client counters), loaded only when `--alerts` or `alerts` is used.
 */
const loadAlertsFile = Effect.promise(() => import("./internal/alertsFile.js"))
/** The `--config` streams file's module (YAML), loaded only with `--config`. */
const loadConfigFile = Effect.promise(() => import("./internal/configFile.js"))
const loadAlerting = Effect.promise(() => import("./internal/alerting.js"))

/**
 * The alerts of a run: a reader of the sink for the rules (opened for the program's scope) and
 * the delivery of the notifications stored in the sink.
 */
const startAlerting = (
  config: AlertsFile.AlertsConfig,
  spec: SinkSpec.SinkSpec,
  sink: Sink["Type"],
  streamKey: string,
  filters: ExecutionQuery.ExecutionQuery,
  metrics: ExporterMetrics.ExporterMetricsShape,
  stream?: string
) =>
  Effect.gen(function* () {
    const ExportReader = yield* Effect.promise(() => import("@taskhistory/export/ExportReader"))
    const context = yield* Layer.build(ExportReader.layer(spec))
    const reader = yield* Effect.provide(ExportReader.ExportReader, context)
    // The sink holds this stream's executions: an --integration filter was applied by the API.
    const { integration: _, ...selection } = filters
    yield* Effect.logInfo(
      `alerts: ${config.rules.length} rule(s) from ${config.file}, ${config.webhooks.length} webhook(s)`
    )
    const alerting: typeof Alerting = yield* loadAlerting
    return yield* alerting.make({
      config,
      sink,
      reader,
      streamKey,
      selection,
      registry: metrics.registry,
      stream
    })
  })

/**
 * The metrics service of a run, with the rate limiter's remaining budget (the configured limit
 * minus what its window holds) read at each scrape.
 */
const metricsLayer: Layer.Layer<
  ExporterMetrics.ExporterMetrics,
  never,
  RateLimiter.RateLimiter | TaskHistoryConfig.TaskHistoryConfig
> = Layer.unwrapEffect(
  Effect.map(loadMetrics, (Metrics) =>
    Layer.effect(
      Metrics.ExporterMetrics,
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.RateLimiter
        const config = yield* TaskHistoryConfig.TaskHistoryConfig
        return yield* Metrics.make({
          rateLimitRemaining: Effect.map(limiter.inWindow, (n) => config.rateLimit.limit - n).pipe(
            Effect.orElseSucceed(() => undefined)
          )
        })
      })
    )
  )
)

/** Serves `/metrics` and `/healthz` on `--metrics-port` (when given) for the program's scope. */
const serveMetrics = (flags: RunFlags) =>
  Effect.gen(function* () {
    if (Option.isNone(flags.metricsPort)) return
    const Metrics = yield* loadMetrics
    const address = yield* Metrics.serve({ port: flags.metricsPort.value, host: flags.metricsHost }).pipe(
      Effect.mapError(
        (error) =>
          new InvalidInput({
            field: "--metrics-port",
            value: `${flags.metricsHost}:${flags.metricsPort.pipe(Option.getOrElse(() => 0))}`,
            expected: `a free port to listen on (${String(error.cause)})`
          })
      )
    )
    yield* Effect.logInfo(`metrics on ${address}/metrics, health check on ${address}/healthz`)
  })

/** How `supervise` runs, and where it tells of leaders, takeovers and lost leases. */
const leadershipOptions = (
  holder: string,
  lease: Duration.Duration,
  check: Duration.Duration,
  metrics: ExporterMetrics.ExporterMetricsShape
) => ({
  holder,
  lease,
  check,
  isFenced: Leadership.isFencedCause,
  onLeader: metrics.leader,
  onTakeover: metrics.takeover,
  onLost: metrics.leaseLost
})

/** The flags `--config` replaces: given with it, they are exit 2 (the file says it per stream). */
const configConflicts = (flags: RunFlags): ReadonlyArray<string> => {
  const c = flags.connection
  const given: Array<[boolean, string]> = [
    [Option.isSome(c.projectId), "--project-id"],
    [Option.isSome(c.apiKeyFile), "--api-key-file"],
    [Option.isSome(c.baseUrl), "--base-url"],
    [Option.isSome(c.rateLimit), "--rate-limit"],
    [Option.isSome(c.rateLimitRedis), "--rate-limit-redis"],
    [flags.sink !== defaultSink, "--sink"],
    [Option.isSome(flags.sinkFile), "--sink-file"],
    [flags.once, "--once"],
    [Option.isSome(flags.schedule), "--schedule"],
    [Option.isSome(flags.every), "--every"],
    [flags.steps !== "none", "--steps"],
    ...Object.entries(flags.filters).map(([field, value]): [boolean, string] => [
      Option.isSome(value as Option.Option<string>),
      FilterOptions.flagOf(field as keyof typeof flags.filters)
    ])
  ]
  return given.filter(([isGiven]) => isGiven).map(([, flag]) => flag)
}

/** The connection of one stream of a `--config`: its project, key, base URL and limits. */
const streamConnection = (
  flags: ConnectionOptions.ConnectionFlags,
  stream: ConfigFile.Stream
): ConnectionOptions.ConnectionFlags => ({
  ...flags,
  apiKeyFile: Option.none(),
  projectId: Option.some(stream.projectId),
  baseUrl: Option.fromNullable(stream.baseUrl),
  rateLimit: Option.fromNullable(stream.rateLimit),
  rateLimitRedis: Option.fromNullable(stream.rateLimitRedis)
})

/**
 * `run --config FILE`: every stream of the file in this process, each on its own schedule with its
 * own client; streams of one project and key share one rate limiter (the key's budget), and
 * streams on one sink one connection to it. Streams on Postgres sinks are led by one replica at
 * a time among the replicas that run the same file (see `Leadership`), spread over them; the
 * others run here alone (their sinks' locks refuse a second exporter).
 */
const runConfigured = (flags: RunFlags, file: string) =>
  Effect.gen(function* () {
    if (Option.isSome(flags.report)) {
      return yield* new InvalidInput({
        field: "--report",
        value: file,
        problem: `cannot be given with --config ${file}`,
        expected:
          "no --report: a report is one HTML file of one sink; make one per stream's sink with `taskhistory report --source SINK --output FILE.html` (read from the sink, no API request), e.g. on a schedule beside the exporter"
      })
    }
    const conflicts = configConflicts(flags)
    if (conflicts.length > 0) {
      return yield* new InvalidInput({
        field: conflicts[0]!,
        value: file,
        problem: `cannot be given with --config ${file}`,
        expected: `the stream's settings in the config file (projectId, apiKeyEnv or apiKeyFile, baseUrl, rateLimit, rateLimitRedis, sink, every or schedule, filters, steps), or no --config`
      })
    }
    const settings = yield* runSettings(flags)
    const minEvery = yield* fromEither(TaskHistoryConfig.parseDuration(flags.minEvery, "--min-every"))
    const ConfigFileModule = yield* loadConfigFile
    const config = yield* ConfigFileModule.load(file, {
      minEvery,
      timezone: Option.getOrUndefined(flags.timezone)
    })
    // A bad rules file is exit 2 before any request, and before any sink is opened.
    const alertsConfig = Option.isSome(flags.alerts)
      ? yield* (yield* loadAlertsFile).load(flags.alerts.value)
      : undefined
    const { lease, leaseCheck } = settings
    const program = Effect.gen(function* () {
      const Metrics = yield* loadMetrics
      const metrics = yield* Metrics.make({ streams: true })
      // One connection per sink, one limiter per budget (project and key), one client per stream.
      const sinks = new Map<string, Context.Context<Sink>>()
      const limiters = new Map<string, Context.Context<RateLimiter.RateLimiter>>()
      const http = yield* Layer.build(
        Layer.merge(ConnectionOptions.httpClientLayer, ConnectionOptions.retryReporterLayer)
      )
      const units: Array<{
        stream: ConfigFile.Stream
        key: string
        context: Context.Context<Sink | TaskHistoryClient.TaskHistoryClient>
      }> = []
      for (const stream of config.streams) {
        const identity = ConfigFileModule.sinkIdentity(stream.sinkSpec, ".")
        let sinkContext = sinks.get(identity)
        if (sinkContext === undefined) {
          sinkContext = yield* Layer.build(
            SinkSpec.layer(stream.sinkSpec, { waitForLock: flags.waitForLock })
          )
          sinks.set(identity, sinkContext)
        }
        const configContext = yield* Layer.build(
          ConnectionOptions.configLayer(streamConnection(flags.connection, stream), stream.apiKey)
        )
        const budget = ConfigFileModule.budgetOf(stream)
        let limiterContext = limiters.get(budget)
        if (limiterContext === undefined) {
          limiterContext = yield* Layer.build(
            ConnectionOptions.rateLimiterLayer.pipe(Layer.provide(Layer.succeedContext(configContext)))
          )
          limiters.set(budget, limiterContext)
        }
        const clientContext = yield* Layer.build(
          TaskHistoryClient.layer.pipe(
            Layer.provide(
              Layer.succeedContext(Context.merge(Context.merge(configContext, limiterContext), http))
            )
          )
        )
        const key = Exporter.streamKey(stream.filters)
        units.push({ stream, key, context: Context.merge(sinkContext, clientContext) })
        const stored = yield* Context.get(sinkContext, Sink).loadState(key)
        yield* metrics
          .stream(stream.name)
          .restore(Option.getOrUndefined(Option.flatMapNullable(stored, Exporter.freshness)))
      }
      yield* serveMetrics(flags).pipe(Effect.provideService(Metrics.ExporterMetrics, metrics))
      const stopOn = (cause: Cause.Cause<unknown>) => Failure.classify(cause).permanent
      const withStream = <A, E, R>(stream: ConfigFile.Stream, effect: Effect.Effect<A, E, R>) =>
        effect.pipe(Effect.annotateLogs("stream", stream.name), Effect.tagMetrics("stream", stream.name))
      const replicated = units.filter((u) => {
        const sink = Context.get(u.context, Sink)
        return sink.leases !== undefined && sink.fenced !== undefined
      })
      const alone = units.filter((u) => !replicated.includes(u))
      const holder = replicaName()
      for (const u of units) {
        yield* Effect.logInfo(
          `stream ${u.stream.name}: project ${u.stream.projectId}, ${u.key}, to ${SinkSpec.describe(u.stream.sinkSpec)} ${RunSchedule.describe(u.stream.schedule)}${replicated.includes(u) ? ", led by one replica at a time" : ""}`
        )
      }
      // A stream on its schedule; a replicated one ends when its lease is lost (fenced). With
      // --alerts, the rules are evaluated over the stream's sink after each of its runs, with an
      // alert state and an outbox of its own (its stream key), by the replica that leads it: the
      // alerting lives as long as the stream is run here.
      const now = yield* Clock.currentTimeMillis
      const scheduled = (u: (typeof units)[number], leased: boolean) =>
        Effect.scoped(
          Effect.gen(function* () {
            const alerting =
              alertsConfig === undefined
                ? undefined
                : yield* startAlerting(
                    alertsConfig,
                    u.stream.sinkSpec,
                    // the fenced sink while this replica leads the stream: its alert state too
                    yield* Sink,
                    u.key,
                    u.stream.filters,
                    metrics,
                    u.stream.name
                  )
            const once = exportOnce(
              streamOptions(settings.options, u.stream, now),
              metrics.stream(u.stream.name),
              leased
            ).pipe(
              Effect.tap((report) =>
                alerting === undefined ? Effect.void : alerting.afterRun(report.readThrough)
              )
            )
            return yield* RunSchedule.runScheduled(
              u.stream.schedule,
              once,
              leased ? { stopOn, endOn: Leadership.isFencedCause } : { stopOn }
            )
          })
        )
      const runAlone = alone.map((u) =>
        withStream(u.stream, scheduled(u, false).pipe(Effect.provide(u.context)))
      )
      const storeOf = new Map(
        replicated.map(
          (u) => [`${u.stream.projectId}/${u.key}`, Context.get(u.context, Sink).leases!] as const
        )
      )
      const supervised =
        replicated.length === 0
          ? []
          : [
              Effect.zipRight(
                Effect.logInfo(
                  `replica ${holder}: leads at most its share of ${replicated.length} stream(s) on Postgres sinks while it holds their leases, stands by otherwise (lease ${Duration.format(lease)}, checked every ${Duration.format(leaseCheck)})`
                ),
                Leadership.supervise(
                  Leadership.combine(storeOf),
                  replicated.map((u) => ({
                    stream: `${u.stream.projectId}/${u.key}`,
                    label: u.stream.name,
                    lead: (held: Lease) =>
                      withStream(
                        u.stream,
                        // One context with the fenced sink in it: a sink provided outside the
                        // stream's context would be shadowed by the unfenced one inside it.
                        scheduled(u, true).pipe(
                          Effect.provide(
                            Context.add(u.context, Sink, Context.get(u.context, Sink).fenced!(held))
                          )
                        )
                      )
                  })),
                  leadershipOptions(holder, lease, leaseCheck, metrics)
                )
              )
            ]
      // A permanent error of one stream (401, 403, the project's 404) ends the process with its code.
      yield* Effect.all([...runAlone, ...supervised], { concurrency: "unbounded", discard: true })
    })
    return yield* withExitCodes(Effect.scoped(program)).pipe(
      Effect.onInterrupt(() => Effect.logInfo("stopped by a signal; the state is saved"))
    )
  })

const runHandler = (flags: RunFlags) =>
  Effect.gen(function* () {
    // Before the sink's first file: the database, its lock, day files, the report.
    yield* FileMode.apply(flags.umask)
    if (Option.isSome(flags.config)) return yield* runConfigured(flags, flags.config.value)
    const sinkSpec = yield* sinkText(flags.sink, flags.sinkFile)
    const { schedule, sink, options, lease, leaseCheck } = yield* runSettings({ ...flags, sink: sinkSpec })
    // A bad rules file is exit 2 before any request, and before the sink is opened.
    const alertsConfig = Option.isSome(flags.alerts)
      ? yield* (yield* loadAlertsFile).load(flags.alerts.value)
      : undefined
    const program = Effect.gen(function* () {
      const Metrics = yield* loadMetrics
      const metrics = yield* Metrics.ExporterMetrics
      const sinkService = yield* Sink
      const key = Exporter.streamKey(options.filters ?? {})
      const stored = yield* sinkService.loadState(key)
      // The alerting over a sink (the fenced one while a replica leads the stream).
      const alertingOver = (service: Sink["Type"]) =>
        alertsConfig === undefined
          ? Effect.succeed(undefined)
          : startAlerting(alertsConfig, sink, service, key, options.filters ?? {}, metrics)
      yield* metrics.restore(Option.getOrUndefined(Option.flatMapNullable(stored, Exporter.freshness)))
      yield* serveMetrics(flags)
      yield* Effect.logInfo(`exporting to ${SinkSpec.describe(sink)} ${RunSchedule.describe(schedule)}`)
      if (Option.isNone(stored)) yield* Effect.fork(firstRunNotice(options))
      const store = sinkService.leases
      const fenced = sinkService.fenced
      // Replicas on one Postgres sink: a run stopped because the lease was lost is no failure.
      const replicated = schedule._tag !== "Once" && store !== undefined && fenced !== undefined
      const once = (alerting: Effect.Effect.Success<ReturnType<typeof alertingOver>>) =>
        Effect.gen(function* () {
          const report = yield* exportOnce(options, metrics, replicated)
          if (Option.isSome(flags.report)) {
            yield* writeReport(sink, options.filters ?? {}, flags.report.value, flags.reportDays)
          }
          if (alerting !== undefined) yield* alerting.afterRun(report.readThrough)
          return report
        })
      if (!replicated || store === undefined || fenced === undefined) {
        const alerting = yield* alertingOver(sinkService)
        const result = yield* RunSchedule.runScheduled(schedule, once(alerting), {
          // 401, 403 and the project's 404 do not heal by retrying: the process ends with its code.
          stopOn: (cause) => Failure.classify(cause).permanent
        })
        if (alerting !== undefined) yield* alerting.drain(Duration.minutes(2))
        return result
      }
      // Replicas on one Postgres sink: this one runs the stream only while it holds its lease.
      const config = yield* TaskHistoryConfig.TaskHistoryConfig
      const stream = `${config.projectId}/${key}`
      const holder = replicaName()
      yield* Effect.logInfo(
        `replica ${holder}: leads stream ${stream} while it holds its lease, stands by otherwise (lease ${Duration.format(lease)}, checked every ${Duration.format(leaseCheck)})`
      )
      return yield* Leadership.supervise(
        store,
        [
          {
            stream,
            label: stream,
            // While it leads: the fenced sink for the export and for the alert state (the
            // alerting, like a stream's of --config, lives as long as this replica leads).
            lead: (held) =>
              Effect.scoped(
                Effect.flatMap(alertingOver(fenced(held)), (alerting) =>
                  RunSchedule.runScheduled(schedule, once(alerting), {
                    stopOn: (cause) => Failure.classify(cause).permanent,
                    // A write refused by the fence: the lease was lost (Leadership logs and counts it).
                    endOn: Leadership.isFencedCause
                  })
                )
              ).pipe(Effect.provideService(Sink, fenced(held)))
          }
        ],
        leadershipOptions(holder, lease, leaseCheck, metrics)
      )
    })
    return yield* withExitCodes(
      Effect.scoped(program).pipe(
        Effect.provide(
          Layer.mergeAll(SinkSpec.layer(sink, { waitForLock: flags.waitForLock }), metricsLayer).pipe(
            Layer.provideMerge(ConnectionOptions.layer(flags.connection))
          )
        )
      )
    ).pipe(Effect.onInterrupt(() => Effect.logInfo("stopped by a signal; the state is saved")))
  })

/**
 * `taskhistory-exporter run`.
 *
 * @since 0.1.0
 */
export const runCommand = Command.make("run", runOptions, runHandler).pipe(
  Command.withDescription(
    Help.text(
      "Export executions into a sink: once (default), on a cron --schedule, or --every DURATION. Each run reads what changed since the stored high-water mark (minus a look-back) and upserts it by id, with the state in the same transaction, so a killed run resumes without loss or duplicates. SIGTERM/SIGINT finish or roll back the batch in flight and exit 0.",
      [
        "taskhistory-exporter run --sink sqlite:./taskhistory.db",
        "taskhistory-exporter run --every 15m --sink parquet:./export --metrics-port 9464",
        'taskhistory-exporter run --schedule "0 * * * *" --sink postgres://exporter@db:5432/analytics',
        "taskhistory-exporter run --status FAILED --since 2026-01-01 --sink ndjson:./failed",
        "taskhistory-exporter run --config streams.yaml --metrics-port 9464"
      ]
    )
  )
)

const statusOptions = {
  config: Options.text("config").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "Show every stream of this YAML file (the one `run --config` takes, checked the same way; the API keys are not read, so their variables and files need not be there) instead of one --sink: one block per stream, headed by its name."
    ),
    Options.optional
  ),
  sink: sinkOption,
  sinkFile: sinkFileOption,
  format: OutputFormat.option(["table", "json"], "table", "table (for people), or json (one document).")
}

/**
 * The sink `status` reads: never creates a database or directory that does not exist, and opens
 * SQLite and file sinks without their lock (file sinks read-only) so that it works beside a
 * running exporter.
 */
const statusLayer = (spec: SinkSpec.SinkSpec, text: string) =>
  Effect.gen(function* () {
    const missing = (what: string) =>
      new InvalidInput({
        field: "--sink",
        value: text,
        expected: `an existing ${what}: nothing was exported there yet (run \`taskhistory-exporter run\` first)`
      })
    switch (spec._tag) {
      case "Sqlite":
        if (spec.path !== ":memory:" && !existsSync(spec.path)) return yield* missing("SQLite database")
        return SinkSpec.layer(spec, { readOnly: true })
      case "File":
        if (!existsSync(spec.dir)) return yield* missing("export directory")
        return SinkSpec.layer(spec, { readOnly: true })
      case "Postgres":
        return SinkSpec.layer(spec)
    }
  })

/**
 * Whether a sink exists: a SQLite file, a directory, the exporter's tables in a Postgres schema
 * (looked for with a reader, which creates nothing; a database that cannot be reached fails).
 */
const sinkExists = (spec: SinkSpec.SinkSpec) =>
  Effect.gen(function* () {
    switch (spec._tag) {
      case "Sqlite":
        return spec.path === ":memory:" || existsSync(spec.path)
      case "File":
        return existsSync(spec.dir)
      case "Postgres": {
        const ExportReader = yield* Effect.promise(() => import("@taskhistory/export/ExportReader"))
        return yield* Effect.scoped(Layer.build(ExportReader.layer(spec))).pipe(
          Effect.as(true),
          // Reached, but no table there ("open"); a refused connection ("connect") fails.
          Effect.catchIf(
            (e) => Predicate.isTagged(e, "SinkError") && e.reason === "Unavailable" && e.operation === "open",
            () => Effect.succeed(false)
          )
        )
      }
    }
  })

/** Exit 2 when any of `flags` (those given; `undefined` for the others) was given beside `--config FILE`. */
const refuseBesideConfig = (
  file: string,
  flags: ReadonlyArray<string | undefined>,
  expected: string
): Effect.Effect<void, InvalidInput> => {
  const given = flags.filter((flag) => flag !== undefined)
  return given.length === 0
    ? Effect.void
    : new InvalidInput({
        field: `--config and ${given.join(" and ")}`,
        value: file,
        problem: "cannot be given together",
        expected
      })
}

/**
 * `status --config FILE`: the file checked as `run --config` checks it (its keys not read), then
 * each sink opened once (as `status --sink` opens it), in the order of the file's streams.
 */
const statusConfigured = (flags: Command.Command.ParseConfig<typeof statusOptions>, file: string) =>
  Effect.gen(function* () {
    yield* refuseBesideConfig(
      file,
      [
        flags.sink !== defaultSink ? "--sink" : undefined,
        Option.isSome(flags.sinkFile) ? "--sink-file" : undefined
      ],
      "either --config FILE (every stream of the file) or --sink/--sink-file (one sink)"
    )
    const ConfigFileModule = yield* loadConfigFile
    // The schedules are not run here: any interval the syntax allows is shown.
    const entries = yield* ConfigFileModule.loadEntries(file, { minEvery: Duration.zero, requireKeys: false })
    const bySink = new Map<string, Array<ConfigFile.StreamEntry>>()
    for (const entry of entries) {
      const identity = ConfigFileModule.sinkIdentity(entry.sinkSpec, ".")
      bySink.set(identity, [...(bySink.get(identity) ?? []), entry])
    }
    const statuses = new Map(
      yield* Effect.forEach(
        [...bySink],
        ([identity, [first]]) =>
          Effect.gen(function* () {
            const spec = first!.sinkSpec
            if (!(yield* sinkExists(spec))) return [identity, undefined] as const
            const layer = yield* statusLayer(spec, first!.sink)
            const status = yield* Effect.flatMap(Sink, (sink) => sink.status).pipe(Effect.provide(layer))
            return [identity, status] as const
          }).pipe(
            Effect.mapError((e) =>
              Predicate.isTagged(e, "SinkError")
                ? new Main.CliError({
                    exitCode: e.reason === "DriverMissing" ? 2 : 6,
                    text: `stream ${first!.name}: ${e.message}`,
                    cause: e
                  })
                : e
            )
          ),
        { concurrency: 4 }
      )
    )
    const streams = entries.map((entry) => {
      const identity = ConfigFileModule.sinkIdentity(entry.sinkSpec, ".")
      return {
        name: entry.name,
        projectId: entry.projectId,
        streamKey: Exporter.streamKey(entry.filters),
        sink: SinkSpec.describe(entry.sinkSpec),
        status: statuses.get(identity),
        sharedWith: (bySink.get(identity) ?? []).filter((o) => o !== entry).map((o) => o.name)
      }
    })
    const now = yield* Clock.currentTimeMillis
    yield* Console.log(
      flags.format === "json"
        ? StatusFormat.configJson(streams).trimEnd()
        : StatusFormat.configTable(streams, now).trimEnd()
    )
  })

const statusHandler = (flags: Command.Command.ParseConfig<typeof statusOptions>) =>
  Effect.gen(function* () {
    if (Option.isSome(flags.config)) return yield* statusConfigured(flags, flags.config.value)
    const text = yield* sinkText(flags.sink, flags.sinkFile)
    const spec = yield* parseSink(text)
    const status = yield* withExitCodes(
      Effect.flatMap(Sink, (sink) => sink.status).pipe(Effect.provide(yield* statusLayer(spec, text)))
    )
    const now = yield* Clock.currentTimeMillis
    yield* Console.log(
      flags.format === "json"
        ? StatusFormat.json(status).trimEnd()
        : StatusFormat.table(status, now).trimEnd()
    )
  })

/**
 * `taskhistory-exporter status`.
 *
 * @since 0.1.0
 */
export const statusCommand = Command.make("status", statusOptions, statusHandler).pipe(
  Command.withDescription(
    Help.text(
      "Show the export state of a sink, or of every stream of a --config file: high-water mark, last run, row counts, rejects and, on Postgres sinks written by replicas, each stream's leader.",
      [
        "taskhistory-exporter status",
        "taskhistory-exporter status --sink postgres://exporter@db:5432/analytics --format json",
        "taskhistory-exporter status --config streams.yaml"
      ]
    )
  )
)

const alertsFileOption = Options.text("alerts").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("The alert rules (YAML), as given to `run --alerts`.")
)

const alertsCheckOptions = {
  alerts: alertsFileOption,
  config: Options.text("config").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "Check the rules for every stream of this YAML file (the one `run --config` takes; the API keys are not read), each over its own sink, instead of one --sink and filters."
    ),
    Options.optional
  ),
  sink: sinkOption,
  sinkFile: sinkFileOption,
  filters: FilterOptions.selectionFlags,
  format: Options.choice("format", ["table", "json"]).pipe(
    Options.withDescription("Output format. Default: table."),
    Options.withDefault("table" as const)
  )
}

type Group = { readonly workflowId?: string; readonly userId?: string }

/** What `alerts check` found for one stream. */
interface CheckResult {
  readonly windowEnd: string
  readonly firing: ReadonlyArray<{
    readonly rule: string
    readonly group: Group
    readonly failures: number
    readonly executions: number
    readonly failureRate: number
    readonly notify: "firing" | "already firing"
  }>
  readonly resolved: ReadonlyArray<{ readonly rule: string; readonly group: Group }>
  readonly undelivered: number
}

/**
 * Evaluates the rules once over a stream's sink (opened as `status` opens it: nothing created,
 * no lock), with its stored alert state: what holds, what would be sent. Sends and stores nothing.
 */
const checkStream = (
  config: AlertsFile.AlertsConfig,
  spec: SinkSpec.SinkSpec,
  text: string,
  filters: Exporter.Filters,
  now: number
) =>
  Effect.gen(function* () {
    const ExportReader = yield* Effect.promise(() => import("@taskhistory/export/ExportReader"))
    const Alerts = yield* Effect.promise(() => import("@taskhistory/export/Alerts"))
    const checked = yield* Effect.scoped(
      Effect.gen(function* () {
        const sink = yield* Sink
        const key = Exporter.streamKey(filters)
        const stored = yield* sink.loadState(key)
        const readThrough = Option.getOrUndefined(
          Option.flatMapNullable(stored, Exporter.freshness)
        )?.readThrough
        const windowEnd = readThrough === undefined ? now : Date.parse(readThrough)
        const context = yield* Layer.build(ExportReader.layer(spec))
        const reader = yield* Effect.provide(ExportReader.ExportReader, context)
        const { integration: _, ...selection } = filters
        const evaluation = yield* Alerts.evaluate(reader, config.rules, windowEnd, selection)
        const state = Alerts.decodeState(yield* sink.loadAlertState(key))
        const next = Alerts.step(config.rules, state, evaluation, now)
        return {
          windowEnd: new Date(windowEnd).toISOString(),
          holding: Alerts.holding(config.rules, state, evaluation),
          changes: next.queued,
          outbox: state.outbox.length
        }
      })
    ).pipe(Effect.provide(yield* statusLayer(spec, text)))
    const key = (rule: string, group: Group) =>
      `${rule} ${JSON.stringify([group.workflowId ?? null, group.userId ?? null])}`
    const changes = new Map<string, "firing" | "resolved">()
    for (const c of checked.changes) changes.set(key(c.message.rule, c.message.group), c.message.state)
    const firing = checked.holding.map(({ rule, stats }) => ({
      rule: rule.name,
      group: stats.group,
      failures: stats.failures,
      executions: stats.executions,
      failureRate: stats.executions === 0 ? 0 : stats.failures / stats.executions,
      notify:
        changes.get(key(rule.name, stats.group)) === "firing"
          ? ("firing" as const)
          : ("already firing" as const)
    }))
    const resolved = checked.changes
      .filter((c) => c.message.state === "resolved")
      .filter(
        (c, i, all) =>
          all.findIndex(
            (o) =>
              o.message.rule === c.message.rule &&
              key(o.message.rule, o.message.group) === key(c.message.rule, c.message.group)
          ) === i
      )
      .map((c) => ({ rule: c.message.rule, group: c.message.group }))
    const result: CheckResult = {
      windowEnd: checked.windowEnd,
      firing,
      resolved,
      undelivered: checked.outbox
    }
    return result
  })

/** The lines of `alerts check --format table` for one stream. */
const checkLines = (checked: CheckResult): Array<string> => {
  const group = (g: Group) =>
    g.workflowId !== undefined
      ? `workflow ${g.workflowId}`
      : g.userId !== undefined
        ? `user ${g.userId}`
        : "all"
  const lines = [`Rules evaluated up to ${checked.windowEnd} (nothing was sent)`]
  if (checked.firing.length === 0) lines.push("No rule holds.")
  for (const row of checked.firing) {
    lines.push(
      `FIRING    ${row.rule}  ${group(row.group)}  ${row.failures}/${row.executions} failed (${(Math.round(row.failureRate * 1000) / 10).toString()}%)  ${row.notify === "firing" ? "would notify" : "already notified"}`
    )
  }
  for (const r of checked.resolved) lines.push(`RESOLVED  ${r.rule}  ${group(r.group)}  would notify`)
  if (checked.undelivered > 0) lines.push(`${checked.undelivered} notification(s) stored, not delivered yet`)
  return lines
}

/** `alerts check --config FILE`: the rules over every stream of the file, each over its own sink. */
const alertsCheckConfigured = (
  flags: Command.Command.ParseConfig<typeof alertsCheckOptions>,
  file: string,
  config: AlertsFile.AlertsConfig
) =>
  Effect.gen(function* () {
    yield* refuseBesideConfig(
      file,
      [
        flags.sink !== defaultSink ? "--sink" : undefined,
        Option.isSome(flags.sinkFile) ? "--sink-file" : undefined,
        ...Object.entries(flags.filters).map(([field, value]) =>
          Option.isSome(value as Option.Option<string>)
            ? FilterOptions.flagOf(field as keyof typeof flags.filters)
            : undefined
        )
      ],
      "either --config FILE (every stream of the file, its filters) or --sink/--sink-file and filters (one stream)"
    )
    const ConfigFileModule = yield* loadConfigFile
    const entries = yield* ConfigFileModule.loadEntries(file, { minEvery: Duration.zero, requireKeys: false })
    const now = yield* Clock.currentTimeMillis
    const results = yield* Effect.forEach(
      entries,
      (entry) =>
        Effect.gen(function* () {
          if (!(yield* sinkExists(entry.sinkSpec))) return { entry, checked: undefined }
          return {
            entry,
            checked: yield* checkStream(config, entry.sinkSpec, entry.sink, entry.filters, now)
          }
        }).pipe(
          Effect.mapError((e) =>
            Predicate.isTagged(e, "SinkError")
              ? new Main.CliError({
                  exitCode: e.reason === "DriverMissing" ? 2 : 6,
                  text: `stream ${entry.name}: ${e.message}`,
                  cause: e
                })
              : e
          )
        ),
      { concurrency: 4 }
    )
    if (flags.format === "json") {
      const streams = results.map(({ entry, checked }) =>
        checked === undefined
          ? { name: entry.name, exported: false, windowEnd: null, firing: [], resolved: [], undelivered: 0 }
          : { name: entry.name, exported: true, ...checked }
      )
      yield* Console.log(JSON.stringify({ streams }, null, 2))
      return
    }
    const blocks = results.map(({ entry, checked }) =>
      [
        `stream ${entry.name}`,
        ...(checked === undefined
          ? ["not exported yet: the sink does not exist yet (nothing to evaluate)"]
          : checkLines(checked)
        ).map((line) => `  ${line}`)
      ].join("\n")
    )
    yield* Console.log(escapeControls(blocks.join("\n\n"), true))
  })

const alertsCheckHandler = (flags: Command.Command.ParseConfig<typeof alertsCheckOptions>) =>
  Effect.gen(function* () {
    const config = yield* (yield* loadAlertsFile).load(flags.alerts)
    if (Option.isSome(flags.config)) return yield* alertsCheckConfigured(flags, flags.config.value, config)
    const text = yield* sinkText(flags.sink, flags.sinkFile)
    const spec = yield* parseSink(text)
    const now = yield* Clock.currentTimeMillis
    const filters = yield* fromEither(FilterOptions.validate(flags.filters, now))
    const checked = yield* withExitCodes(checkStream(config, spec, text, filters, now))
    if (flags.format === "json") {
      yield* Console.log(JSON.stringify(checked, null, 2))
      return
    }
    yield* Console.log(
      checkLines(checked)
        .map((line) => escapeControls(line))
        .join("\n")
    )
  })

const alertsCheckCommand = Command.make("check", alertsCheckOptions, alertsCheckHandler).pipe(
  Command.withDescription(
    Help.text(
      "Evaluate the alert rules once over the sink and print what is firing and what would be sent; sends nothing and changes nothing.",
      [
        "taskhistory-exporter alerts check --alerts alerts.yaml --sink sqlite:./taskhistory.db",
        "taskhistory-exporter alerts check --alerts alerts.yaml --config streams.yaml"
      ]
    )
  )
)

const alertsTestOptions = { alerts: alertsFileOption }

const alertsTestHandler = (flags: Command.Command.ParseConfig<typeof alertsTestOptions>) =>
  Effect.gen(function* () {
    const config = yield* (yield* loadAlertsFile).load(flags.alerts)
    if (config.webhooks.length === 0) {
      return yield* new InvalidInput({
        field: "--alerts",
        value: flags.alerts,
        expected: "a rules file with at least one webhook"
      })
    }
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    const results = yield* Effect.forEach(
      config.webhooks,
      (webhook) =>
        Effect.map(Webhooks.deliver(webhook, Webhooks.testRequest(webhook, at), { attempts: 3 }), (d) => ({
          webhook,
          d
        })),
      { concurrency: 4 }
    )
    for (const { webhook, d } of results) {
      yield* Console.log(
        d.result === "delivered"
          ? `${webhook.name}: delivered (${d.detail})`
          : `${webhook.name}: failed after ${d.attempts} attempt(s) (${d.detail})`
      )
    }
    const failed = results.filter((r) => r.d.result !== "delivered").length
    if (failed > 0) {
      return yield* new Main.CliError({
        exitCode: 6,
        text: `${failed} of ${results.length} webhook(s) did not accept the test message`
      })
    }
  })

const alertsTestCommand = Command.make("test", alertsTestOptions, alertsTestHandler).pipe(
  Command.withDescription(
    Help.text("Send one test message to each webhook of the rules file.", [
      "taskhistory-exporter alerts test --alerts alerts.yaml"
    ])
  )
)

/**
 * `taskhistory-exporter alerts check|test`.
 *
 * @since 0.3.0
 */
export const alertsCommand = Command.make("alerts").pipe(
  Command.withDescription(
    Help.text("Check alert rules against the sink, or test their webhooks.", [
      "taskhistory-exporter alerts check --alerts alerts.yaml"
    ])
  ),
  Command.withSubcommands([alertsCheckCommand, alertsTestCommand])
)

/**
 * The root command.
 *
 * @since 0.1.0
 */
export const command = Command.make("taskhistory-exporter").pipe(
  Command.withDescription(
    Help.text(
      "Scheduled, exactly-once export of Paragon Task History into SQLite, Postgres or files.",
      [
        "export PARAGON_API_KEY=... PARAGON_PROJECT_ID=...",
        "taskhistory-exporter run --sink sqlite:./taskhistory.db",
        "taskhistory-exporter run --every 15m --sink sqlite:./taskhistory.db --metrics-port 9464",
        "taskhistory-exporter status --sink sqlite:./taskhistory.db",
        "taskhistory-exporter --completions bash > ~/.local/share/bash-completion/completions/taskhistory-exporter"
      ],
      [
        "Configuration: PARAGON_API_KEY (or --api-key-file PATH; the key is never a flag), PARAGON_PROJECT_ID (--project-id), PARAGON_BASE_URL (--base-url), PARAGON_RATE_LIMIT (--rate-limit, default 1000/10m), PARAGON_RATE_LIMIT_REDIS (--rate-limit-redis). Logs go to stderr.",
        "Exit codes: 0 ok (also after SIGTERM/SIGINT), 1 bug, 2 invalid input, 3 authentication, 4 not found, 5 rate limited, 6 upstream, network or sink."
      ]
    )
  ),
  Command.withSubcommands([runCommand, statusCommand, alertsCommand])
)
