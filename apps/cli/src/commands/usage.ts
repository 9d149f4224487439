/**
 * `taskhistory usage`: executions, tasks, failures, failure rate and run-duration percentiles per
 * group, from one read of the matching executions (or one query per integration with
 * `--by integration`).
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
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
import * as Names from "../internal/names.js"
import { choiceOption, examples, formatOption, rawCsv, usageError } from "../internal/options.js"
import * as Progress from "../internal/progress.js"
import * as Source from "../internal/source.js"
import * as Out from "../internal/stdout.js"
import * as UsageFormat from "../internal/usageFormat.js"
import * as UsageErrors from "./usageErrors.js"

const usageFormats: ReadonlyArray<Format.Format> = ["table", "json", "csv"]

/** How the groups are shown: `--sort`, `--top`, `--names`, `--format`. */
interface Shape {
  readonly format: Format.Format
  readonly rawCsv: boolean
  readonly sort: Option.Option<UsageFormat.SortKey>
  readonly top: Option.Option<number>
  readonly names: Option.Option<string>
}

/** Prints a usage report, sorted, cut and labelled; from an export, with how fresh it is. */
const print = (
  full: Usage.UsageReport,
  shape: Shape,
  source?: { readonly name: string; readonly freshness: Freshness }
) =>
  Effect.gen(function* () {
    const names = Option.isSome(shape.names) ? yield* Names.read(shape.names.value) : undefined
    const label = UsageFormat.labeller(full.by, names)
    const sorted = Option.isSome(shape.sort) ? UsageFormat.sort(full.groups, shape.sort.value) : full.groups
    const groups = Option.isSome(shape.top) ? sorted.slice(0, shape.top.value) : sorted
    const omitted = sorted.length - groups.length
    const report: Usage.UsageReport = { ...full, groups }
    switch (shape.format) {
      case "json": {
        const document = {
          by: report.by,
          ...(Option.isSome(shape.sort) ? { sort: shape.sort.value } : {}),
          groups:
            label === undefined
              ? groups
              : groups.map((g) => {
                  const name = label(g.group)
                  return name === undefined ? g : { ...g, label: name }
                }),
          ...(Option.isSome(shape.top) ? { omittedGroups: omitted } : {}),
          total: report.total,
          ...(source === undefined ? {} : { source: { sink: source.name, ...source.freshness } })
        }
        yield* Out.line(JSON.stringify(document, null, 2))
        break
      }
      case "csv":
        yield* Out.write(UsageFormat.csv(report, shape.rawCsv, { label }))
        if (source !== undefined) yield* Out.notice(Source.describeFreshness(source.name, source.freshness))
        break
      default:
        yield* Out.write(
          full.groups.length === 0 ? "no executions match\n" : UsageFormat.table(report, { label, omitted })
        )
        if (source !== undefined) yield* Out.line(Source.describeFreshness(source.name, source.freshness))
    }
  })

/** The report from the API. */
const fromApi = (
  by: Usage.GroupBy,
  quiet: boolean,
  shape: Shape,
  integrations: Option.Option<string>,
  query: ExecutionQuery
) =>
  Effect.gen(function* () {
    const client = yield* TaskHistoryClient
    const progress = Progress.make(quiet)
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
      const plan = yield* costNotice(query, quiet)
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
    yield* print(report, shape)
  })

/** The report from an exporter's sink: zero API requests. */
const fromExport = (by: Usage.GroupBy, query: ExecutionQuery, shape: Shape, integrations: boolean) =>
  Effect.gen(function* () {
    if (by === "integration" || integrations) {
      return yield* usageError(
        "--by integration reads the API (one query per integration): exported records do not carry their integration; use --source api"
      )
    }
    const reader = yield* ExportReader
    const freshness = yield* reader.freshness
    const report = yield* Usage.fromStream(reader.executions(query), by)
    yield* print(report, shape, { name: reader.name, freshness })
  })

/** @internal */
export const usage = Command.make(
  "usage",
  {
    connection: ConnectionOptions.options,
    query: FilterOptions.unorderedOptions,
    by: choiceOption<Usage.GroupBy | "error">(
      "by",
      [...Usage.groupings, "error"],
      "workflow",
      "Group by integration, workflow, user, status or day (UTC); or rank the error messages of failed steps (error)."
    ),
    integrations: Options.text("integrations").pipe(
      Options.withPseudoName("a,b,c"),
      Options.withDescription(
        "With --by integration: the integrations to report on. Records do not carry their integration, so this runs one query per integration (using the --integration filter)."
      ),
      Options.optional
    ),
    sort: Options.text("sort").pipe(
      Options.withPseudoName(UsageFormat.sortKeys.join("|")),
      Options.withDescription(
        "Order the groups by this figure, largest first (ties: most executions, then by key). Default: most executions first (--by day: by day)."
      ),
      Options.optional,
      Options.mapEffect(
        Option.match({
          onNone: () => Effect.succeed(Option.none<UsageFormat.SortKey>()),
          onSome: (value) => {
            const found = UsageFormat.sortKeys.find((k) => k === value.toLowerCase())
            return found === undefined
              ? Effect.fail(
                  ValidationError.invalidValue(
                    HelpDoc.p(
                      `invalid --sort ${JSON.stringify(value)}: expected one of ${UsageFormat.sortKeys.join(", ")}`
                    )
                  )
                )
              : Effect.succeed(Option.some(found))
          }
        })
      )
    ),
    top: Options.integer("top").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Show the first N groups only (after --sort); TOTAL still counts every group."),
      Options.optional
    ),
    names: Names.option,
    format: formatOption(usageFormats, "table", "table, json or csv (csv has no TOTAL row)."),
    source: Source.sourceOption,
    rawCsv,
    common: Main.commonOptions
  },
  ({ by, common, connection, format, integrations, names, query, rawCsv, sort, source: sourceText, top }) =>
    Effect.gen(function* () {
      if (Option.isSome(top) && top.value < 1) {
        return yield* usageError(`invalid --top ${top.value}: expected a whole number >= 1`)
      }
      const shape: Shape = { format, rawCsv, sort, top, names }
      const source = yield* Source.parse(sourceText)
      if (by === "error") {
        if (Option.isSome(integrations))
          return yield* usageError("--integrations only goes with --by integration")
        return yield* source._tag === "Sink"
          ? UsageErrors.fromExport(query, format, rawCsv).pipe(Source.provideReader(source.spec))
          : UsageErrors.fromApi(query, format, common.quiet, rawCsv).pipe(provideConnection(connection))
      }
      if (source._tag === "Sink") {
        return yield* fromExport(by, query, shape, Option.isSome(integrations)).pipe(
          Source.provideReader(source.spec)
        )
      }
      return yield* fromApi(by, common.quiet, shape, integrations, query).pipe(provideConnection(connection))
    })
).pipe(
  Command.withDescription(
    examples(
      "Executions, tasks (sum of taskCount), failures, failure rate and p50/p95 run duration per group.",
      [
        "taskhistory usage --by workflow --after 2023-02-01",
        "taskhistory usage --by day --status failed --format csv",
        "taskhistory usage --by integration --integrations salesforce,hubspot,slack",
        "taskhistory usage --by workflow --after 7d --sort failures --top 10 --names names.yaml",
        "taskhistory usage --by error --source sqlite:./taskhistory.db --after 7d"
      ],
      [
        "--by integration runs one query per integration named in --integrations, since records do not say which integration they belong to.",
        "--by error ranks the error messages of failed steps with the workflows they hit: from the API it reads each failed execution's steps (2 requests each, at most 250 failed executions); --source SINK reads an export made with `taskhistory-exporter run --steps failed`."
      ]
    )
  )
)
