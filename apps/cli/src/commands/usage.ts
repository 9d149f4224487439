/**
 * `taskhistory usage`: executions, tasks, failures, failure rate and run-duration percentiles per
 * group, from one read of the matching executions (or one query per integration with
 * `--by integration`).
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Main from "@taskhistory/app-kit/Main"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import * as Usage from "@taskhistory/core/Usage"
import { ExportReader, type Freshness } from "@taskhistory/export/ExportReader"
import { Effect, Option, Stream } from "effect"
import { costNotice, provideConnection } from "../internal/connection.js"
import type * as Format from "../internal/format.js"
import { choiceOption, examples, formatOption, rawCsv, usageError } from "../internal/options.js"
import * as Progress from "../internal/progress.js"
import * as Source from "../internal/source.js"
import * as Out from "../internal/stdout.js"
import * as UsageFormat from "../internal/usageFormat.js"

const usageFormats: ReadonlyArray<Format.Format> = ["table", "json", "csv"]

/** Prints a usage report; from an export, with how fresh the export is. */
const print = (
  report: Usage.UsageReport,
  format: Format.Format,
  source?: { readonly name: string; readonly freshness: Freshness },
  rawCsv = false
) =>
  Effect.gen(function* () {
    switch (format) {
      case "json":
        yield* Out.line(
          JSON.stringify(
            source === undefined ? report : { ...report, source: { sink: source.name, ...source.freshness } },
            null,
            2
          )
        )
        break
      case "csv":
        yield* Out.write(UsageFormat.csv(report, rawCsv))
        if (source !== undefined) yield* Out.notice(Source.describeFreshness(source.name, source.freshness))
        break
      default:
        yield* Out.write(report.groups.length === 0 ? "no executions match\n" : UsageFormat.table(report))
        if (source !== undefined) yield* Out.line(Source.describeFreshness(source.name, source.freshness))
    }
  })

/** The report from the API. */
const fromApi = (
  by: Usage.GroupBy,
  common: { readonly quiet: boolean; readonly rawCsv: boolean },
  format: Format.Format,
  integrations: Option.Option<string>,
  query: ExecutionQuery
) =>
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
    yield* print(report, format, undefined, common.rawCsv)
  })

/** The report from an exporter's sink: zero API requests. */
const fromExport = (
  by: Usage.GroupBy,
  query: ExecutionQuery,
  format: Format.Format,
  integrations: boolean,
  rawCsv: boolean
) =>
  Effect.gen(function* () {
    if (by === "integration" || integrations) {
      return yield* usageError(
        "--by integration reads the API (one query per integration): exported records do not carry their integration; use --source api"
      )
    }
    const reader = yield* ExportReader
    const freshness = yield* reader.freshness
    const report = yield* Usage.fromStream(reader.executions(query), by)
    yield* print(report, format, { name: reader.name, freshness }, rawCsv)
  })

/** @internal */
export const usage = Command.make(
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
    source: Source.sourceOption,
    rawCsv,
    common: Main.commonOptions
  },
  ({ by, common, connection, format, integrations, query, rawCsv, source: sourceText }) =>
    Effect.gen(function* () {
      const source = yield* Source.parse(sourceText)
      if (source._tag === "Sink") {
        return yield* fromExport(by, query, format, Option.isSome(integrations), rawCsv).pipe(
          Source.provideReader(source.spec)
        )
      }
      return yield* fromApi(by, { ...common, rawCsv }, format, integrations, query).pipe(
        provideConnection(connection)
      )
    })
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
