/**
 * Renderers of a usage report: a table for people and CSV (no TOTAL row). JSON is the report
 * itself.
 *
 * @internal
 */
import type * as Usage from "@taskhistory/core/Usage"
import * as Format from "./format.js"

const pct = (rate: number) => `${(rate * 100).toFixed(1)}%`

/** @internal */
export const table = (report: Usage.UsageReport): string => {
  const header = [report.by.toUpperCase(), "EXECUTIONS", "TASKS", "FAILURES", "FAILURE RATE", "P50", "P95"]
  const cells = (r: Usage.UsageRow) => [
    Format.cell(r.group),
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

/** @internal */
export const csv = (report: Usage.UsageReport, raw = false): string => {
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
    Format.csvRow(
      [r.group, r.executions, r.tasks, r.failures, r.failureRate, r.p50RunDuration, r.p95RunDuration],
      raw
    )
  return [Format.csvRow(header), ...report.groups.map(row)].map((l) => `${l}\n`).join("")
}
