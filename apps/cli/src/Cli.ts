/**
 * The `taskhistory` command tree: `executions list | count | get | step | replay` and `usage`.
 * Flags, formats and process wiring only; the work is done by `@taskhistory/core`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import type * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type { FileSystem } from "@effect/platform/FileSystem"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Main from "@taskhistory/app-kit/Main"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import type { TaskHistoryError } from "@taskhistory/core/TaskHistoryError"
import { exitCode } from "@taskhistory/core/TaskHistoryError"
import * as Usage from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Chunk, Duration, Effect, Either, Option, Stream } from "effect"
import * as Format from "./internal/format.js"
import * as Progress from "./internal/progress.js"
import * as ReplayLog from "./internal/replayLog.js"
import * as Out from "./internal/stdout.js"

const examples = (description: string, lines: ReadonlyArray<string>, notes: ReadonlyArray<string> = []) =>
  HelpDoc.blocks([
    HelpDoc.p(description),
    ...notes.map((n) => HelpDoc.p(n)),
    HelpDoc.h2("EXAMPLES"),
    ...lines.map((l) => HelpDoc.p(`  $ ${l}`))
  ])

const usageError = (text: string) => new Main.CliError({ exitCode: 2, text })

const provideConnection =
  (connection: ConnectionOptions.ConnectionFlags) =>
  <A, E>(
    effect: Effect.Effect<A, E, TaskHistoryClient | TaskHistoryConfig.TaskHistoryConfig>
  ): Effect.Effect<
    A,
    E | Main.CliError | import("@taskhistory/core/TaskHistoryError").InvalidInput,
    FileSystem
  > =>
    Effect.provide(effect, ConnectionOptions.layer(connection))

/** A choice whose error names the flag and the bad value (any case accepted). */
const choiceOption = <A extends string>(name: string, choices: ReadonlyArray<A>, fallback: A, what: string) =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join("|")),
    Options.withDescription(`${what} Default: ${fallback}.`),
    Options.withDefault(fallback as string),
    Options.mapEffect((value) => {
      const found = choices.find((c) => c === value.toLowerCase())
      return found === undefined
        ? Effect.fail(
            ValidationError.invalidValue(
              HelpDoc.p(`invalid --${name} ${JSON.stringify(value)}: expected one of ${choices.join(", ")}`)
            )
          )
        : Effect.succeed(found)
    })
  )

const formatOption = (choices: ReadonlyArray<Format.Format>, fallback: Format.Format, what: string) =>
  choiceOption("format", choices, fallback, what)

/**
 * Prints the cost plan on stderr when a read will take over a minute at the rate-limit budget.
 */
const costNotice = (query: ExecutionQuery, quiet: boolean) =>
  Effect.gen(function* () {
    const client = yield* TaskHistoryClient
    const config = yield* TaskHistoryConfig.TaskHistoryConfig
    const plan = yield* client.costPlan(query)
    if (!quiet && Duration.greaterThan(plan.estimatedDuration, Duration.minutes(1))) {
      yield* Out.notice(
        `this read needs ${plan.requests} requests${plan.total === undefined ? "" : ` for ${plan.total} executions`}, about ${Duration.format(Duration.seconds(Math.ceil(Duration.toSeconds(plan.estimatedDuration))))} at the rate limit of ${TaskHistoryConfig.formatRateLimit(config.rateLimit)} (--rate-limit); Ctrl-C stops it`
      )
    }
    return plan
  })

// ---------------------------------------------------------------------------------------------
// executions list
// ---------------------------------------------------------------------------------------------

const list = Command.make(
  "list",
  {
    connection: ConnectionOptions.options,
    query: FilterOptions.options,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Print at most N executions (reads as many pages as needed)."),
      Options.optional
    ),
    all: Options.boolean("all").pipe(
      Options.withDescription("Print every matching execution (all pages, streamed, no duplicates).")
    ),
    format: formatOption(
      Format.formats,
      "table",
      "table (for people), json (one array), ndjson (one execution per line, as the API sent it), csv (header row)."
    ),
    common: Main.commonOptions
  },
  ({ all, common, connection, format, limit, query }) =>
    Effect.gen(function* () {
      if (all && Option.isSome(limit)) return yield* usageError("--limit and --all cannot be used together")
      if (Option.isSome(limit) && limit.value < 1) {
        return yield* usageError(`invalid --limit ${limit.value}: expected a positive integer`)
      }
      const client = yield* TaskHistoryClient
      const printer = Format.printer(format)
      const progress = Progress.make(common.quiet || (!all && Option.isNone(limit)))
      let stream: Stream.Stream<WorkflowExecution, TaskHistoryError>
      if (all) {
        const plan = yield* costNotice(query, common.quiet)
        progress.setTotal(plan.total, plan.estimatedDuration)
        stream = client.executions(query, { firstPage: plan.firstPage })
      } else if (Option.isSome(limit)) {
        stream = client.executions(query, { limit: limit.value })
      } else {
        const page = yield* client.listPage(query, 0)
        const seen = new Set<string>()
        const records = page.records.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined)
        if (page.invalid.length > 0 && !common.quiet) {
          yield* Out.notice(
            `warning: ${page.invalid.length} record(s) of this page are not valid executions and were left out`
          )
        }
        const more = page.total !== undefined ? page.total > records.length : page.nextLink !== undefined
        if (more && !common.quiet) {
          yield* Out.notice(
            `showing the first ${records.length}${page.total === undefined ? "" : ` of ${page.total}`} executions: use --limit N or --all for more`
          )
        }
        stream = Stream.fromIterable(records)
      }
      yield* stream.pipe(
        Stream.runForEachChunk((chunk) => {
          progress.add(chunk.length)
          return Out.write(printer.chunk(Chunk.toReadonlyArray(chunk)))
        }),
        Effect.ensuring(Effect.sync(() => progress.done()))
      )
      yield* Out.write(printer.end())
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("List executions. Without --limit or --all, prints the first page (up to 100).", [
      "taskhistory executions list --status failed --after 2023-02-16",
      "taskhistory executions list --all --format ndjson > executions.ndjson",
      "taskhistory executions list --workflow-id wf_123 --limit 500 --format csv"
    ])
  )
)

// ---------------------------------------------------------------------------------------------
// executions count
// ---------------------------------------------------------------------------------------------

const count = Command.make(
  "count",
  { connection: ConnectionOptions.options, query: FilterOptions.options, common: Main.commonOptions },
  ({ connection, query }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const n = yield* client.count(query)
      yield* Out.line(String(n))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print the number of matching executions (one request when the API sends `total`).", [
      "taskhistory executions count --status failed",
      "taskhistory executions count --user-id user_42 --after 2023-02-01 --before 2023-03-01"
    ])
  )
)

// ---------------------------------------------------------------------------------------------
// executions get / step
// ---------------------------------------------------------------------------------------------

const executionId = Args.text({ name: "executionId" }).pipe(Args.withDescription("The execution's id."))

const get = Command.make(
  "get",
  { connection: ConnectionOptions.options, executionId, common: Main.commonOptions },
  ({ connection, executionId }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const detail = yield* client.get(executionId)
      yield* Out.line(JSON.stringify(detail, null, 2))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print one execution with its step executions, as JSON.", [
      "taskhistory executions get 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10"
    ])
  )
)

const step = Command.make(
  "step",
  {
    connection: ConnectionOptions.options,
    executionId,
    stepExecutionId: Args.text({ name: "stepExecutionId" }).pipe(
      Args.withDescription("The step execution's id.")
    ),
    common: Main.commonOptions
  },
  ({ connection, executionId, stepExecutionId }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const result = yield* client.step(executionId, stepExecutionId)
      yield* Out.line(JSON.stringify(result, null, 2))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print one step's input and output, as JSON.", [
      "taskhistory executions step 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10 step_1"
    ])
  )
)

// ---------------------------------------------------------------------------------------------
// executions replay
// ---------------------------------------------------------------------------------------------

interface ReplaySummary {
  replayed: number
  failed: number
  unknown: number
  skipped: number
  firstFailureCode: number | undefined
}

const bulkReplay = (options: {
  readonly query: ExecutionQuery
  readonly dryRun: boolean
  readonly log: Option.Option<string>
  readonly quiet: boolean
}): Effect.Effect<
  number,
  TaskHistoryError | Main.CliError,
  TaskHistoryClient | TaskHistoryConfig.TaskHistoryConfig
> =>
  Effect.gen(function* () {
    const client = yield* TaskHistoryClient
    const state: ReplayLog.LogState = Option.isSome(options.log)
      ? yield* ReplayLog.load(options.log.value)
      : new Map()
    const plan = yield* costNotice(options.query, options.quiet)
    // Collect the ids first: replays add new executions to the list while we page.
    const ids: Array<string> = []
    const seen = new Set<string>()
    let skipped = 0
    yield* Stream.runForEach(client.executions(options.query, { firstPage: plan.firstPage }), (e) =>
      Effect.sync(() => {
        if (seen.has(e.id)) return
        seen.add(e.id)
        if (ReplayLog.isSettled(state.get(e.id))) skipped++
        else ids.push(e.id)
      })
    )
    if (options.dryRun) {
      for (const id of ids) yield* Out.line(id)
      if (!options.quiet) {
        yield* Out.notice(
          `dry run: ${ids.length} execution(s) would be replayed${skipped > 0 ? `, ${skipped} skipped (already in the log)` : ""}; nothing was sent`
        )
      }
      return 0
    }
    const writer = Option.isSome(options.log) ? yield* ReplayLog.open(options.log.value) : ReplayLog.noLog
    const summary: ReplaySummary = {
      replayed: 0,
      failed: 0,
      unknown: 0,
      skipped,
      firstFailureCode: undefined
    }
    const progress = Progress.make(options.quiet, "replays")
    progress.setTotal(ids.length)
    let aborted: TaskHistoryError | undefined
    for (const id of ids) {
      yield* writer.append({ id, event: "sending" })
      const result = yield* Effect.either(client.replay(id))
      progress.add(1)
      if (Either.isRight(result)) {
        summary.replayed++
        yield* writer.append({ id, event: "replayed", newId: result.right.id })
        yield* Out.line(`replayed\t${id}\t${result.right.id}`)
        continue
      }
      const error = result.left
      if (error._tag === "ReplayOutcomeUnknown") {
        summary.unknown++
        yield* writer.append({ id, event: "unknown", error: error.message })
        yield* Out.line(`unknown\t${id}`)
        continue
      }
      summary.failed++
      summary.firstFailureCode ??= exitCode(error)
      yield* writer.append({ id, event: "failed", error: error.message })
      yield* Out.line(`failed\t${id}\t${error._tag}`)
      if (error._tag === "Unauthorized" || error._tag === "RateLimited") {
        aborted = error
        break
      }
    }
    progress.done()
    const notSent = ids.length - summary.replayed - summary.failed - summary.unknown
    yield* Out.notice(
      `replayed ${summary.replayed}, failed ${summary.failed}, unknown outcome ${summary.unknown}${summary.skipped > 0 ? `, skipped ${summary.skipped} (already in the log)` : ""}${notSent > 0 ? `, not sent ${notSent}` : ""}`
    )
    if (aborted !== undefined) return yield* Effect.fail(aborted)
    if (summary.unknown > 0) {
      return yield* new Main.CliError({
        exitCode: 7,
        text: `${summary.unknown} replay(s) may or may not have been applied and were not re-sent: check the execution list before replaying them again`
      })
    }
    if (summary.firstFailureCode !== undefined) {
      return yield* new Main.CliError({
        exitCode: summary.firstFailureCode,
        text: `${summary.failed} replay(s) failed (see the lines starting with "failed")`
      })
    }
    return 0
  }).pipe(Effect.scoped)

const replay = Command.make(
  "replay",
  {
    connection: ConnectionOptions.options,
    executionId: Args.text({ name: "executionId" }).pipe(
      Args.withDescription("Replay this one execution. Without it, every execution matching the filters."),
      Args.optional
    ),
    filters: FilterOptions.flags,
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("Bulk: list the ids that would be replayed; send nothing.")
    ),
    yes: Options.boolean("yes").pipe(
      Options.withAlias("y"),
      Options.withDescription("Bulk: really replay every match. Without it nothing is sent.")
    ),
    log: Options.text("log").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Bulk: append each id and its outcome to FILE; run again with the same FILE to resume without replaying anything twice."
      ),
      Options.optional
    ),
    common: Main.commonOptions
  },
  ({ common, connection, dryRun, executionId, filters, log, yes }) =>
    Effect.gen(function* () {
      const query = yield* Either.match(FilterOptions.make(filters), {
        onLeft: (text) => Effect.fail(usageError(text)),
        onRight: Effect.succeed
      })
      if (Option.isSome(executionId)) {
        const hasFilters = Object.keys(query).length > 0
        if (hasFilters || dryRun || Option.isSome(log)) {
          return yield* usageError(
            "replay <executionId> takes no filters, --dry-run or --log: give either one id, or filters with --dry-run or --yes"
          )
        }
        const client = yield* TaskHistoryClient
        const result = yield* client.replay(executionId.value)
        yield* Out.line(JSON.stringify(result, null, 2))
        return
      }
      if (dryRun && yes) return yield* usageError("--dry-run and --yes cannot be used together")
      if (!dryRun && !yes) {
        return yield* usageError(
          "bulk replay sends nothing without --yes: run it with --dry-run to see what would be replayed, then with --yes"
        )
      }
      yield* bulkReplay({ query, dryRun, log, quiet: common.quiet })
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples(
      "Replay one execution (prints the new execution), or every execution matching the filters (bulk).",
      [
        "taskhistory executions replay 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10",
        "taskhistory executions replay --status failed --after 2023-02-16 --dry-run",
        "taskhistory executions replay --status failed --after 2023-02-16 --yes --log replay.log"
      ],
      [
        "Bulk replay reads every match first, then replays each id once, within the rate limit, and prints one line per id (replayed, failed or unknown) and a summary on stderr. Replays have no idempotency key: one whose outcome is unknown (timeout, 5xx) is never re-sent, and the exit code is 7."
      ]
    )
  )
)

// ---------------------------------------------------------------------------------------------
// usage
// ---------------------------------------------------------------------------------------------

const usageFormats: ReadonlyArray<Format.Format> = ["table", "json", "csv"]

const pct = (rate: number) => `${(rate * 100).toFixed(1)}%`

const usageTable = (report: Usage.UsageReport): string => {
  const header = [report.by.toUpperCase(), "EXECUTIONS", "TASKS", "FAILURES", "FAILURE RATE", "P50", "P95"]
  const cells = (r: Usage.UsageRow) => [
    r.group,
    String(r.executions),
    String(r.tasks),
    String(r.failures),
    pct(r.failureRate),
    Format.humanMs(r.p50RunDuration),
    Format.humanMs(r.p95RunDuration)
  ]
  const rows = [header, ...report.groups.map(cells), cells({ ...report.total, group: "TOTAL" })]
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)))
  return Format.align(rows, widths, [false, true, true, true, true, true, true])
}

const usageCsv = (report: Usage.UsageReport): string => {
  const header = [
    report.by,
    "executions",
    "tasks",
    "failures",
    "failure_rate",
    "p50_run_duration_ms",
    "p95_run_duration_ms"
  ]
  const row = (r: Usage.UsageRow) =>
    Format.csvRow([
      r.group,
      r.executions,
      r.tasks,
      r.failures,
      r.failureRate,
      r.p50RunDuration,
      r.p95RunDuration
    ])
  return [Format.csvRow(header), ...report.groups.map(row)].map((l) => `${l}\n`).join("")
}

const usage = Command.make(
  "usage",
  {
    connection: ConnectionOptions.options,
    query: FilterOptions.options,
    by: choiceOption<Usage.GroupBy>(
      "by",
      Usage.groupings,
      "workflow",
      "Group by integration, workflow, user, status or day (UTC)."
    ),
    integrations: Options.text("integrations").pipe(
      Options.withPseudoName("a,b,c"),
      Options.withDescription(
        "With --by integration: the integrations to report on. Records do not carry their integration, so this runs one query per integration (using the --integration filter)."
      ),
      Options.optional
    ),
    format: formatOption(usageFormats, "table", "table, json or csv (csv has no TOTAL row)."),
    common: Main.commonOptions
  },
  ({ by, common, connection, format, integrations, query }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const progress = Progress.make(common.quiet)
      let report: Usage.UsageReport
      if (by === "integration") {
        if (Option.isNone(integrations)) {
          return yield* usageError(
            "--by integration needs --integrations a,b,c: records do not carry their integration, so each one is queried on its own"
          )
        }
        if (query.integration !== undefined) {
          return yield* usageError("--by integration cannot be combined with --integration")
        }
        const names = [...new Set(integrations.value.split(",").map((s) => s.trim()))].filter((s) => s !== "")
        if (names.length === 0) {
          return yield* usageError(
            `invalid --integrations ${JSON.stringify(integrations.value)}: expected a,b,c`
          )
        }
        const counting = Effect.provideService(TaskHistoryClient, {
          ...client,
          executions: (q, o) =>
            client.executions(q, o).pipe(
              Stream.mapChunks((c) => {
                progress.add(c.length)
                return c
              })
            )
        })
        report = yield* Usage.byIntegration(names, query).pipe(counting)
      } else {
        if (Option.isSome(integrations))
          return yield* usageError("--integrations only goes with --by integration")
        const plan = yield* costNotice(query, common.quiet)
        progress.setTotal(plan.total, plan.estimatedDuration)
        report = yield* Usage.fromStream(
          client.executions(query, { firstPage: plan.firstPage }).pipe(
            Stream.mapChunks((c) => {
              progress.add(c.length)
              return c
            })
          ),
          by
        )
      }
      progress.done()
      switch (format) {
        case "json":
          yield* Out.line(JSON.stringify(report, null, 2))
          break
        case "csv":
          yield* Out.write(usageCsv(report))
          break
        default:
          yield* Out.write(report.groups.length === 0 ? "no executions match\n" : usageTable(report))
      }
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples(
      "Executions, tasks (sum of taskCount), failures, failure rate and p50/p95 run duration per group.",
      [
        "taskhistory usage --by workflow --after 2023-02-01",
        "taskhistory usage --by day --status failed --format csv",
        "taskhistory usage --by integration --integrations salesforce,hubspot,slack"
      ],
      [
        "--by integration runs one query per integration named in --integrations, since records do not say which integration they belong to."
      ]
    )
  )
)

// ---------------------------------------------------------------------------------------------
// the tree
// ---------------------------------------------------------------------------------------------

/** A parent command run without a subcommand shows its help (exit 0). */
const showHelp = (descriptor: Descriptor.Command<unknown> | undefined) =>
  descriptor === undefined ? Effect.void : Effect.fail(ValidationError.helpRequested(descriptor))

let executionsDescriptor: Descriptor.Command<unknown> | undefined
let rootDescriptor: Descriptor.Command<unknown> | undefined

const executions = Command.make("executions", {}, () => showHelp(executionsDescriptor)).pipe(
  Command.withDescription(
    examples("Read, count and replay workflow executions.", [
      "taskhistory executions list --status failed",
      "taskhistory executions count",
      "taskhistory executions get <executionId>"
    ])
  ),
  Command.withSubcommands([list, count, get, step, replay])
)

/**
 * The whole `taskhistory` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("taskhistory", {}, () => showHelp(rootDescriptor)).pipe(
  Command.withDescription(
    examples(
      "Paragon Task History from the command line: list, count, inspect and replay workflow executions, and usage reports.",
      [
        "export PARAGON_API_KEY=... PARAGON_PROJECT_ID=...",
        "taskhistory executions list --status failed --after 2023-02-16",
        "taskhistory executions list --all --format ndjson | jq .id",
        "taskhistory usage --by workflow",
        "taskhistory --completions bash > /etc/bash_completion.d/taskhistory"
      ],
      [
        "Configuration: PARAGON_API_KEY (or --api-key-file PATH; the key is never a flag), PARAGON_PROJECT_ID (--project-id), PARAGON_BASE_URL (--base-url), PARAGON_RATE_LIMIT (--rate-limit, default 1000/10m), PARAGON_RATE_LIMIT_REDIS (--rate-limit-redis). Data goes to stdout, everything else to stderr.",
        "Exit codes: 0 ok, 1 bug, 2 invalid input, 3 authentication, 4 not found, 5 rate limited, 6 upstream or network, 7 replay outcome unknown."
      ]
    )
  ),
  Command.withSubcommands([executions, usage])
)

executionsDescriptor = executions.descriptor
rootDescriptor = command.descriptor
