/**
 * `taskhistory usage --by error`: the error messages of failed steps ranked by count, with the
 * workflows they hit. From the API (two requests per failed execution: for a small range) or from
 * an export made with `taskhistory-exporter run --steps failed|all` (zero requests).
 *
 * @internal
 */
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import * as StepErrors from "@taskhistory/core/StepErrors"
import { ExportReader, type Freshness } from "@taskhistory/export/ExportReader"
import { Effect, Stream } from "effect"
import { costNotice } from "../internal/connection.js"
import * as Format from "../internal/format.js"
import { usageError } from "../internal/options.js"
import * as Progress from "../internal/progress.js"
import * as Source from "../internal/source.js"
import * as Out from "../internal/stdout.js"

/** Failed executions one `usage --by error` reads from the API at most (2 requests each). */
export const API_MAX_FAILED = 250

const NO_MESSAGE = "(no message found in the output)"

const workflowsText = (g: StepErrors.ErrorGroup, top = 3) => {
  const shown = g.workflows.slice(0, top).map((w) => `${w.workflowId} (${w.failures})`)
  const more = g.workflows.length - top
  return more > 0 ? `${shown.join(", ")} +${more} more` : shown.join(", ")
}

/** @internal */
export const table = (report: StepErrors.ErrorReport): string => {
  const header = ["ERROR", "FAILURES", "EXECUTIONS", "WORKFLOWS"]
  const rows = [
    header,
    ...report.groups.map((g) => [
      Format.cell((g.message ?? NO_MESSAGE).replace(/\s+/g, " ").slice(0, 120)),
      String(g.failures),
      String(g.executions),
      Format.cell(workflowsText(g))
    ]),
    ["TOTAL", String(report.failures), String(report.executions), ""]
  ]
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)))
  return Format.align(rows, widths, [false, true, true, false])
}

/** @internal */
export const csv = (report: StepErrors.ErrorReport, raw = false): string =>
  [
    Format.csvRow(["error", "failures", "executions", "workflows"]),
    ...report.groups.map((g) =>
      Format.csvRow(
        [
          g.message ?? "",
          g.failures,
          g.executions,
          g.workflows.map((w) => `${w.workflowId}:${w.failures}`).join(";")
        ],
        raw
      )
    )
  ]
    .map((l) => `${l}\n`)
    .join("")

const print = (
  report: StepErrors.ErrorReport,
  format: Format.Format,
  rawCsv: boolean,
  source?: { readonly name: string; readonly freshness: Freshness }
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
        yield* Out.write(csv(report, rawCsv))
        if (source !== undefined) yield* Out.notice(Source.describeFreshness(source.name, source.freshness))
        break
      default:
        yield* Out.write(report.groups.length === 0 ? "no failed steps match\n" : table(report))
        if (source !== undefined) yield* Out.line(Source.describeFreshness(source.name, source.freshness))
    }
  })

/** From the API: the failed executions of the range (at most {@link API_MAX_FAILED}), their steps and outputs. */
export const fromApi = (query: ExecutionQuery, format: Format.Format, quiet: boolean, rawCsv: boolean) =>
  Effect.gen(function* () {
    const failed = { ...query, status: "FAILED" as const }
    // Counts the step requests (an estimate) in the notice and in the progress' time left.
    const plan = yield* costNotice(failed, quiet, { steps: "failed" })
    const total = plan.total
    if (total !== undefined && total > API_MAX_FAILED) {
      return yield* usageError(
        `--by error reads each failed execution's steps from the API (2 requests each): ${total} failed executions match, more than ${API_MAX_FAILED}; narrow the range (--after, --before, --workflow-id) or read an export made with \`taskhistory-exporter run --steps failed\` (--source SINK)`
      )
    }
    const progress = Progress.make(quiet)
    progress.setTotal(total, plan.estimatedDuration)
    const report = yield* StepErrors.fromFailures(
      StepErrors.failuresFromApi(failed).pipe(Stream.tap(() => Effect.sync(() => progress.add(1))))
    )
    progress.done()
    yield* print(report, format, rawCsv)
  })

/** From an export's `step_executions`: zero API requests. */
export const fromExport = (query: ExecutionQuery, format: Format.Format, rawCsv: boolean) =>
  Effect.gen(function* () {
    const reader = yield* ExportReader
    if (reader.stepFailures === undefined) {
      return yield* usageError(
        `--by error reads table step_executions, which ${reader.name} does not have: export step executions with \`taskhistory-exporter run --steps failed\`, or use --source api`
      )
    }
    const freshness = yield* reader.freshness
    const report = yield* StepErrors.fromFailures(reader.stepFailures(query))
    yield* print(report, format, rawCsv, { name: reader.name, freshness })
  })
