/**
 * `taskhistory report`: the usage report of a period as one self-contained HTML file, from the
 * API or from an exporter's sink (`--source`).
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FileMode from "@taskhistory/app-kit/FileMode"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Main from "@taskhistory/app-kit/Main"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { ExportReader } from "@taskhistory/export/ExportReader"
import { Chunk, Clock, Effect, Either, Option, Stream } from "effect"
import { provideConnection } from "../internal/connection.js"
import * as Names from "../internal/names.js"
import { examples, usageError } from "../internal/options.js"
import * as Source from "../internal/source.js"
import * as Out from "../internal/stdout.js"

const DAY = 86_400_000

interface Args {
  readonly query: ExecutionQuery
  readonly output: string
  readonly top: number
  readonly names: Option.Option<string>
  readonly title: Option.Option<string>
}

/** The period: `--after`/`--before`, by default the 30 days before now. */
const periodOf = (query: ExecutionQuery, now: number) =>
  Effect.gen(function* () {
    const { Report } = yield* Effect.promise(() => import("@taskhistory/report"))
    const end = query.beforeDate ?? new Date(now).toISOString()
    const start = query.afterDate ?? new Date(Date.parse(end) - 30 * DAY).toISOString()
    return yield* Either.mapLeft(
      Report.period(start, end),
      () => new InvalidInput({ field: "--after", value: start, expected: `a date before --before (${end})` })
    )
  })

/** A step error as the report takes it. */
interface StepErrorRow {
  readonly executionId: string
  readonly workflowId: string | undefined
  readonly errorMessage: string | null
}

const build = <E, R>(
  args: Args,
  read: (query: ExecutionQuery) => Stream.Stream<WorkflowExecution, E, R>,
  details: ReadonlyArray<{ readonly label: string; readonly value: string }>,
  /** The period's step errors, when the source holds step executions. */
  errorsOf?: (query: ExecutionQuery) => Effect.Effect<Option.Option<ReadonlyArray<StepErrorRow>>>
) =>
  Effect.gen(function* () {
    const { Report } = yield* Effect.promise(() => import("@taskhistory/report"))
    const now = yield* Clock.currentTimeMillis
    const period = yield* periodOf(args.query, now)
    const names = Option.isSome(args.names) ? yield* Names.read(args.names.value) : undefined
    // One read covers the period and the previous one (the comparison); the report splits them.
    const query: ExecutionQuery = {
      ...args.query,
      afterDate: Report.previousPeriod(period).start,
      beforeDate: period.end
    }
    const errors =
      errorsOf === undefined
        ? Option.none()
        : yield* errorsOf({ ...args.query, afterDate: period.start, beforeDate: period.end })
    const data = yield* Report.fromStream(read(query), {
      period,
      top: args.top,
      errors: Option.match(errors, { onNone: () => undefined, onSome: (rows) => Stream.fromIterable(rows) })
    })
    const filters = (["workflowId", "userId", "status"] as const)
      .filter((k) => args.query[k] !== undefined)
      .map((k) => `${k}=${args.query[k]}`)
    const html = Report.render(data, {
      generatedAt: new Date(now),
      names,
      title: Option.getOrUndefined(args.title),
      details: [
        ...details,
        ...(filters.length === 0 ? [] : [{ label: "Filters", value: filters.join(", ") }])
      ]
    })
    yield* Effect.mapError(
      Report.writeFile(args.output, html),
      (e) =>
        new Main.CliError({
          exitCode: 2,
          text: `invalid --output ${JSON.stringify(args.output)}: ${e.message}`
        })
    )
    yield* Out.notice(
      `wrote ${args.output} (${Math.ceil(Buffer.byteLength(html) / 1024)} kB): ${data.headline.current.executions} executions from ${period.start} to ${period.end}`
    )
  })

/** @internal */
export const report = Command.make(
  "report",
  {
    connection: ConnectionOptions.options,
    query: FilterOptions.unorderedOptions,
    source: Source.sourceOption,
    output: Options.text("output").pipe(
      Options.withAlias("o"),
      Options.withPseudoName("FILE.html"),
      Options.withDescription("The HTML file to write (replaced atomically).")
    ),
    top: Options.integer("top").pipe(
      Options.withPseudoName("N"),
      Options.withDescription(
        'Rows in each ranked table (workflows, users, error messages); the rest form an "other" row.'
      ),
      Options.withDefault(15)
    ),
    names: Names.option,
    title: Options.text("title").pipe(Options.withDescription("The report's title."), Options.optional),
    umask: FileMode.umaskOption,
    common: Main.commonOptions
  },
  ({ connection, names, output, query, source: sourceText, title, top, umask }) =>
    Effect.gen(function* () {
      yield* FileMode.apply(umask)
      if (top < 1) return yield* usageError(`invalid --top ${top}: expected a whole number >= 1`)
      if (query.integration !== undefined && sourceText.trim().toLowerCase() !== "api") {
        return yield* usageError(
          "--integration cannot be read from an export: exported records do not carry their integration; use --source api"
        )
      }
      const source = yield* Source.parse(sourceText)
      const args: Args = { query, output, top, names, title }
      if (source._tag === "Sink") {
        return yield* Effect.gen(function* () {
          const reader = yield* ExportReader
          const freshness = yield* reader.freshness
          const stepFailures = reader.stepFailures
          // The export's failed steps, read whole (failed steps only: few beside the executions).
          // An export without the step tables (written before `--steps` existed, or a file sink)
          // gives a report that says no step errors were available, not a failure.
          const errorsOf =
            stepFailures === undefined
              ? undefined
              : (q: ExecutionQuery) =>
                  stepFailures(q).pipe(
                    Stream.map(
                      (f): StepErrorRow => ({
                        executionId: f.executionId,
                        workflowId: f.workflowId,
                        errorMessage: f.message ?? null
                      })
                    ),
                    Stream.runCollect,
                    Effect.map((rows) => Option.some(Chunk.toReadonlyArray(rows))),
                    Effect.catchAll(() => Effect.succeed(Option.none()))
                  )
          yield* build(
            args,
            reader.executions,
            [
              {
                label: "Source",
                value: Source.describeFreshness(reader.name, freshness).replace(/^source /, "")
              }
            ],
            errorsOf
          )
        }).pipe(Source.provideReader(source.spec))
      }
      return yield* Effect.gen(function* () {
        const client = yield* TaskHistoryClient
        yield* build(args, (q) => client.executions(q), [{ label: "Source", value: "the Task History API" }])
      }).pipe(provideConnection(connection))
    })
).pipe(
  Command.withDescription(
    examples(
      "A usage report of a period as one self-contained HTML file: headline figures against the previous period, executions and failures per day, failure rate by workflow, tasks by user, run-duration percentiles, the busiest hours (UTC). Charts are SVG with a table of their numbers; the file needs no network.",
      [
        "taskhistory report --output report.html",
        "taskhistory report --source sqlite:./taskhistory.db --after 2026-09-01 --before 2026-12-01 --output q3.html",
        "taskhistory report --source sqlite:./taskhistory.db --names names.yaml --top 25 -o report.html"
      ],
      [
        "The period is --after to --before (default: the 30 days before now), compared with the period of the same length before it. With --source SINK no API request is made."
      ]
    )
  )
)
