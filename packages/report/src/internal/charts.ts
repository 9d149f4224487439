/**
 * The report's charts, drawn by Observable Plot into SVG over a linkedom document (no browser).
 * Every mark that stands for data carries a `th-*` class, so tests can count its elements.
 */
import * as Plot from "@observablehq/plot"
import type { UsageRow } from "@taskhistory/core/Usage"
import { parseHTML } from "linkedom"
import type { CountRow, DurationRow, ErrorRow, Hours } from "../Report.js"
import * as Format from "./format.js"

export const COLORS = {
  executions: "#7fa6cf",
  failures: "#c8374a",
  tasks: "#4e79a7",
  p50: "#4e79a7",
  p95: "#e08a1e",
  p99: "#c8374a"
} as const

const WIDTH = 900
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

/** A fresh linkedom document per chart: nothing is shared between renders. */
const newDocument = (): Document =>
  parseHTML("<!DOCTYPE html><html><body></body></html>").document as unknown as Document

const draw = (
  options: Plot.PlotOptions & { readonly ariaLabel: string; readonly ariaDescription: string }
) => {
  const chart = Plot.plot({
    ...options,
    document: newDocument(),
    width: WIDTH,
    style: { fontFamily: FONT, fontSize: "11px", background: "transparent" }
  })
  chart.setAttribute("role", "img")
  return chart.outerHTML
}

/** A horizontal bar chart's height for `n` bars. */
const barsHeight = (n: number) => 40 + Math.max(n, 1) * 24

/** Tick labels of a categorical axis: cut to fit the left margin. */
const categoryAxis = (tickFormat: (key: string) => string) =>
  Plot.axisY({
    tickFormat,
    textOverflow: "ellipsis-middle",
    lineWidth: 20,
    tickSize: 0,
    label: null,
    fontSize: 11
  })

/** Executions (and failures over them) per UTC day: one bar of each per day. */
export const days = (rows: ReadonlyArray<CountRow>): string => {
  const step = Math.max(1, Math.ceil(rows.length / 12))
  return draw({
    ariaLabel: "Executions and failures per day",
    ariaDescription: `Bars per UTC day: executions, with the day's failures over them. ${rows.length} days.`,
    height: 260,
    marginLeft: 56,
    marginBottom: 34,
    x: {
      type: "band",
      domain: rows.map((r) => r.group),
      ticks: rows.filter((_, i) => i % step === 0).map((r) => r.group),
      tickFormat: (day: string) => day.slice(5),
      label: "Day (UTC)",
      labelAnchor: "center",
      labelArrow: "none",
      padding: 0.15
    },
    y: { grid: true, label: "Executions", labelArrow: "none" },
    marks: [
      Plot.barY(rows, {
        x: "group",
        y: "executions",
        fill: COLORS.executions,
        className: "th-day-executions",
        title: (r: CountRow) => `${r.group}: ${Format.count(r.executions)} executions`
      }),
      Plot.barY(rows, {
        x: "group",
        y: "failures",
        fill: COLORS.failures,
        className: "th-day-failures",
        title: (r: CountRow) => `${r.group}: ${Format.count(r.failures)} failures`
      }),
      Plot.ruleY([0])
    ]
  })
}

/** Failure rate of the top workflows: one bar per workflow. */
export const failureRate = (rows: ReadonlyArray<UsageRow>, label: (id: string) => string): string => {
  const max = Math.max(0.01, ...rows.map((r) => r.failureRate))
  return draw({
    ariaLabel: "Failure rate by workflow",
    ariaDescription: `One bar per workflow: failures divided by executions. ${rows.length} workflows.`,
    height: barsHeight(rows.length),
    marginLeft: 240,
    marginRight: 110,
    x: {
      domain: [0, Math.min(1, max * 1.05)],
      tickFormat: ".0%",
      grid: true,
      label: "Failure rate",
      labelArrow: "none"
    },
    y: { domain: rows.map((r) => r.group), axis: null, padding: 0.2 },
    marks: [
      categoryAxis(label),
      Plot.barX(rows, {
        y: "group",
        x: "failureRate",
        fill: COLORS.failures,
        className: "th-workflow-failure-rate",
        title: (r: UsageRow) =>
          `${label(r.group)}: ${Format.percent(r.failureRate)} (${Format.count(r.failures)} of ${Format.count(r.executions)})`
      }),
      Plot.text(rows, {
        y: "group",
        x: "failureRate",
        text: (r: UsageRow) =>
          `${Format.percent(r.failureRate)} (${Format.count(r.failures)}/${Format.count(r.executions)})`,
        textAnchor: "start",
        dx: 4,
        fontSize: 10
      }),
      Plot.ruleX([0])
    ]
  })
}

/** Tasks of the top users: one bar per user. */
export const tasks = (rows: ReadonlyArray<CountRow>, label: (id: string) => string): string =>
  draw({
    ariaLabel: "Tasks by user",
    ariaDescription: `One bar per user: the sum of task counts. ${rows.length} users.`,
    height: barsHeight(rows.length),
    marginLeft: 240,
    marginRight: 70,
    x: { grid: true, label: "Tasks", labelArrow: "none", nice: true },
    y: { domain: rows.map((r) => r.group), axis: null, padding: 0.2 },
    marks: [
      categoryAxis(label),
      Plot.barX(rows, {
        y: "group",
        x: "tasks",
        fill: COLORS.tasks,
        className: "th-user-tasks",
        title: (r: CountRow) => `${label(r.group)}: ${Format.count(r.tasks)} tasks`
      }),
      Plot.text(rows, {
        y: "group",
        x: "tasks",
        text: (r: CountRow) => Format.count(r.tasks),
        textAnchor: "start",
        dx: 4,
        fontSize: 10
      }),
      Plot.ruleX([0])
    ]
  })

type Point = { readonly group: string; readonly value: number }

const points = (rows: ReadonlyArray<DurationRow>, pick: (r: DurationRow) => number | undefined) =>
  rows.flatMap((r): Array<Point> => {
    const value = pick(r)
    return value === undefined ? [] : [{ group: r.group, value }]
  })

/** p50, p95 and p99 of run durations of the top workflows: a dot per percentile per workflow. */
export const durations = (rows: ReadonlyArray<DurationRow>, label: (id: string) => string): string => {
  const p50 = points(rows, (r) => r.p50)
  const p95 = points(rows, (r) => r.p95)
  const p99 = points(rows, (r) => r.p99)
  const all = [...p50, ...p95, ...p99].map((p) => p.value)
  // Durations are skewed (log-normal): a log scale keeps p50 readable next to p99, when all are > 0.
  const log = all.length > 0 && Math.min(...all) > 0
  const dot = (data: ReadonlyArray<Point>, fill: string, name: string) =>
    Plot.dot(data, {
      y: "group",
      x: "value",
      fill,
      r: 4.5,
      className: `th-duration-${name}`,
      title: (p: Point) => `${label(p.group)}: ${name} ${Format.ms(p.value)} ms`
    })
  return draw({
    ariaLabel: "Run-duration percentiles by workflow",
    ariaDescription: `Per workflow, dots at the 50th, 95th and 99th percentile of run duration in milliseconds. ${rows.length} workflows.`,
    height: barsHeight(rows.length),
    marginLeft: 240,
    marginRight: 30,
    x: {
      type: log ? "log" : "linear",
      grid: true,
      label: `Run duration (ms${log ? ", log scale" : ""})`,
      labelArrow: "none"
    },
    y: { domain: rows.map((r) => r.group), axis: null, padding: 0.2 },
    marks: [
      categoryAxis(label),
      Plot.ruleY(
        rows.filter((r) => r.p50 !== undefined && r.p99 !== undefined),
        { y: "group", x1: "p50", x2: "p99", stroke: "#999", strokeWidth: 1.5 }
      ),
      dot(p50, COLORS.p50, "p50"),
      dot(p95, COLORS.p95, "p95"),
      dot(p99, COLORS.p99, "p99")
    ]
  })
}

/** Executions by hour of day and weekday (UTC): one cell per hour of the week. */
export const hours = (data: Hours): string => {
  const cells = data.executions.flatMap((row, weekday) =>
    row.map((executions, hour) => ({ weekday: Format.WEEKDAYS[weekday]!, hour, executions }))
  )
  const counts = cells.map((c) => c.executions)
  const min = Math.min(...counts)
  // From the quietest to the busiest cell: the contrast is in the differences between hours.
  const max = Math.max(min + 1, ...counts)
  return draw({
    ariaLabel: "Executions by hour of day and weekday (UTC)",
    ariaDescription: "A grid of 7 weekdays by 24 hours (UTC); darker cells had more executions.",
    height: 250,
    marginLeft: 44,
    marginBottom: 36,
    padding: 0.06,
    x: {
      type: "band",
      domain: Array.from({ length: 24 }, (_, h) => h),
      tickFormat: (h: number) => String(h).padStart(2, "0"),
      label: "Hour of day (UTC)",
      labelAnchor: "center",
      labelArrow: "none"
    },
    y: { type: "band", domain: [...Format.WEEKDAYS], label: null },
    color: { type: "linear", domain: [min, max], range: ["#f1f5fa", "#1f4e85"] },
    marks: [
      Plot.cell(cells, {
        x: "hour",
        y: "weekday",
        fill: "executions",
        className: "th-hours",
        title: (c: { weekday: string; hour: number; executions: number }) =>
          `${c.weekday} ${Format.hour(c.hour)} UTC: ${Format.count(c.executions)} executions`
      })
    ]
  })
}

/** The top error messages: one bar per (workflow, message), its length the executions it hit. */
export const errors = (rows: ReadonlyArray<ErrorRow>, label: (row: ErrorRow) => string): string => {
  const keyed = rows.map((r, i) => ({ ...r, key: String(i) }))
  const byKey = new Map(keyed.map((r) => [r.key, r]))
  return draw({
    ariaLabel: "Top error messages by workflow",
    ariaDescription: `One bar per error message and workflow: the executions whose steps failed with it. ${rows.length} messages.`,
    height: barsHeight(rows.length),
    marginLeft: 320,
    marginRight: 60,
    x: { grid: true, label: "Executions", labelArrow: "none", nice: true },
    y: { domain: keyed.map((r) => r.key), axis: null, padding: 0.2 },
    marks: [
      Plot.axisY({
        tickFormat: (key: string) => label(byKey.get(key)!),
        textOverflow: "ellipsis-middle",
        lineWidth: 27,
        tickSize: 0,
        label: null,
        fontSize: 11
      }),
      Plot.barX(keyed, {
        y: "key",
        x: "executions",
        fill: COLORS.failures,
        className: "th-error-executions",
        title: (r: ErrorRow) =>
          `${label(r)}: ${Format.count(r.executions)} executions, ${Format.count(r.steps)} steps`
      }),
      Plot.text(keyed, {
        y: "key",
        x: "executions",
        text: (r: ErrorRow) => Format.count(r.executions),
        textAnchor: "start",
        dx: 4,
        fontSize: 10
      }),
      Plot.ruleX([0])
    ]
  })
}
