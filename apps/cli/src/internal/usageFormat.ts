/**
 * Renderers of a usage report: a table for people and CSV (no TOTAL row). JSON is the report
 * itself. Also the order (`--sort`), the cut (`--top`) and the labels (`--names`) of its groups.
 *
 * @internal
 */
import type * as Usage from "@taskhistory/core/Usage"
import type { Names } from "@taskhistory/report/Names"
import * as Format from "./format.js"

const pct = (rate: number) => `${(rate * 100).toFixed(1)}%`

/** What `--sort` orders the groups by (descending). @internal */
export type SortKey = "executions" | "tasks" | "failures" | "failure-rate" | "p95"

/** @internal */
export const sortKeys: ReadonlyArray<SortKey> = ["executions", "tasks", "failures", "failure-rate", "p95"]

const figure = (key: SortKey, row: Usage.UsageRow): number => {
  switch (key) {
    case "executions":
      return row.executions
    case "tasks":
      return row.tasks
    case "failures":
      return row.failures
    case "failure-rate":
      return row.failureRate
    case "p95":
      // groups without a duration last
      return row.p95RunDuration ?? Number.NEGATIVE_INFINITY
  }
}

/**
 * The groups by `key`, descending; ties by executions (descending), then by key. @internal
 */
export const sort = (groups: ReadonlyArray<Usage.UsageRow>, key: SortKey): ReadonlyArray<Usage.UsageRow> =>
  [...groups].sort(
    (a, b) =>
      figure(key, b) - figure(key, a) ||
      b.executions - a.executions ||
      (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)
  )

/** The label of a group's id in `names`, for the groupings that have ids (workflow, user). @internal */
export const labeller = (
  by: Usage.GroupBy,
  names: Names | undefined
): ((group: string) => string | undefined) | undefined => {
  const labels =
    names === undefined
      ? undefined
      : by === "workflow"
        ? names.workflows
        : by === "user"
          ? names.users
          : undefined
  if (labels === undefined) return undefined
  return (group) => (Object.hasOwn(labels, group) ? labels[group] : undefined)
}

/** How the groups are shown: their labels, and how many were cut by `--top`. @internal */
export interface View {
  readonly label?: ((group: string) => string | undefined) | undefined
  readonly omitted?: number | undefined
}

/** @internal */
export const table = (report: Usage.UsageReport, view: View = {}): string => {
  const label = view.label
  const header = [
    report.by.toUpperCase(),
    ...(label === undefined ? [] : ["NAME"]),
    "EXECUTIONS",
    "TASKS",
    "FAILURES",
    "FAILURE RATE",
    "P50",
    "P95"
  ]
  const cells = (r: Usage.UsageRow, name?: string) => [
    Format.cell(r.group),
    ...(label === undefined ? [] : [Format.cell(name ?? "-")]),
    String(r.executions),
    String(r.tasks),
    String(r.failures),
    pct(r.failureRate),
    Format.humanMs(r.p50RunDuration),
    Format.humanMs(r.p95RunDuration)
  ]
  const rows = [
    header,
    ...report.groups.map((r) => cells(r, label?.(r.group))),
    ...(view.omitted !== undefined && view.omitted > 0
      ? [[`(${view.omitted} more ${view.omitted === 1 ? "group" : "groups"})`]]
      : []),
    cells({ ...report.total, group: "TOTAL" }, "")
  ]
  const widths = header.map((_, i) =>
    Math.max(...rows.filter((r) => r.length > 1).map((r) => (r[i] ?? "").length))
  )
  const right = header.map((_, i) => i > (label === undefined ? 0 : 1))
  return Format.align(rows, widths, right)
}

/** @internal */
export const csv = (report: Usage.UsageReport, raw = false, view: View = {}): string => {
  const label = view.label
  const header = [
    report.by,
    ...(label === undefined ? [] : ["name"]),
    "executions",
    "tasks",
    "failures",
    "failure_rate",
    "p50_run_duration_ms",
    "p95_run_duration_ms"
  ]
  const row = (r: Usage.UsageRow) =>
    Format.csvRow(
      [
        r.group,
        ...(label === undefined ? [] : [label(r.group) ?? null]),
        r.executions,
        r.tasks,
        r.failures,
        r.failureRate,
        r.p50RunDuration,
        r.p95RunDuration
      ],
      raw
    )
  return [Format.csvRow(header), ...report.groups.map(row)].map((l) => `${l}\n`).join("")
}
