/**
 * The shipped Prometheus rules and Grafana dashboard (deploy/): the rules pass `promtool check
 * rules` and their unit tests (`promtool test rules`); the dashboard is valid JSON and every
 * expression of both names only metrics that `/metrics` has.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as TaskHistoryMetrics from "@taskhistory/core/TaskHistoryMetrics"
import * as ExportMetrics from "@taskhistory/export/ExportMetrics"
import { Effect, Metric } from "effect"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import * as ExporterMetrics from "../src/ExporterMetrics.js"
import { promtool, runPromtool } from "./utils/promtool.js"

const deploy = (path: string) => fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url))
const rulesFile = deploy("prometheus/taskhistory-rules.yml")
const rulesTests = [
  deploy("prometheus/taskhistory-rules.test.yml"),
  deploy("prometheus/taskhistory-rules-silent.test.yml")
]
const dashboardFile = deploy("grafana/taskhistory.json")

/** The metric names on a live /metrics, every series of it exercised once. */
const exposedNames = async (): Promise<Set<string>> => {
  const text = await Effect.runPromise(
    Effect.gen(function* () {
      const metrics = yield* ExporterMetrics.make({ rateLimitRemaining: Effect.succeed(10) })
      yield* Metric.increment(TaskHistoryMetrics.requestCounter("list", "200"))
      yield* Metric.increment(TaskHistoryMetrics.retries)
      yield* Metric.increment(TaskHistoryMetrics.rateLimited)
      yield* TaskHistoryMetrics.recordLimiterWait(5)
      yield* ExportMetrics.recordFinished([
        { workflowId: "wf", status: "FAILED", taskCount: 1, runDurationMs: 5 }
      ])
      yield* metrics.runSucceeded({
        seen: 1,
        inserted: 1,
        updated: 0,
        unchanged: 0,
        rejected: 0,
        finished: 1,
        requests: 1,
        rateLimited: 0,
        durationMs: 5,
        highWaterMark: "2026-01-01T00:00:00.000Z",
        readThrough: "2026-01-01T00:00:00.000Z",
        inFlight: 0,
        inFlightSince: undefined,
        streamKey: "all",
        checked: 0,
        reread: 0
      })
      yield* metrics.runFailed({ reason: "transport", message: "x", durationMs: 1 })
      return yield* metrics.text
    })
  )
  const names = new Set<string>()
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)
    if (match !== null && !line.startsWith("#")) names.add(match[1]!)
  }
  return names
}

const METRIC = /\b((?:taskhistory|process|nodejs)_[a-z0-9_]+)\b/g

const metricNames = (expr: string): Array<string> => [...expr.matchAll(METRIC)].map((m) => m[1]!)

interface Panel {
  readonly title?: string
  readonly type: string
  readonly targets?: ReadonlyArray<{ readonly expr: string }>
  readonly panels?: ReadonlyArray<Panel>
}

const allPanels = (panels: ReadonlyArray<Panel>): Array<Panel> =>
  panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])

describe("deploy/prometheus/taskhistory-rules.yml", () => {
  it.skipIf(promtool === undefined)("passes promtool check rules", () => {
    const result = runPromtool(["check", "rules", rulesFile])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain("SUCCESS: 5 rules found")
  })

  it.skipIf(promtool === undefined)("passes its unit tests (promtool test rules)", () => {
    const result = runPromtool(["test", "rules", ...rulesTests])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain("SUCCESS")
  })

  it("has the five alerts, each over metrics that /metrics has", async () => {
    const names = await exposedNames()
    const doc = parse(readFileSync(rulesFile, "utf8")) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>
    }
    const rules = doc.groups.flatMap((g) => g.rules)
    expect(rules.map((r) => r.alert).sort()).toEqual([
      "TaskHistoryExporterFailing",
      "TaskHistoryExporterStale",
      "TaskHistoryRateLimited",
      "TaskHistoryWorkflowFailureRateHigh",
      "TaskHistoryWorkflowSilent"
    ])
    for (const rule of rules) {
      const used = metricNames(rule.expr)
      expect(used.length, rule.alert).toBeGreaterThan(0)
      for (const name of used) expect(names.has(name), `${rule.alert}: ${name}`).toBe(true)
    }
  })
})

describe("deploy/grafana/taskhistory.json", () => {
  it("is a dashboard whose every panel's expressions name metrics that exist", async () => {
    const names = await exposedNames()
    const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as {
      uid: string
      title: string
      panels: ReadonlyArray<Panel>
      templating: { list: ReadonlyArray<{ name: string; query?: unknown; definition?: string }> }
    }
    expect(dashboard.uid).toBe("taskhistory")
    const variables = new Set(dashboard.templating.list.map((v) => v.name))
    for (const v of dashboard.templating.list) {
      for (const name of metricNames(v.definition ?? ""))
        expect(names.has(name), `variable ${v.name}: ${name}`).toBe(true)
    }
    const panels = allPanels(dashboard.panels).filter((p) => p.type !== "row")
    expect(panels.length).toBeGreaterThanOrEqual(15)
    const used = new Set<string>()
    for (const panel of panels) {
      expect(panel.targets?.length ?? 0, `panel ${panel.title}`).toBeGreaterThan(0)
      for (const target of panel.targets ?? []) {
        const inExpr = metricNames(target.expr)
        expect(inExpr.length, `panel ${panel.title}: ${target.expr}`).toBeGreaterThan(0)
        for (const name of inExpr) {
          expect(names.has(name), `panel ${panel.title}: ${name}`).toBe(true)
          used.add(name)
        }
        for (const ref of target.expr.matchAll(/\$(\w+)/g)) {
          if (!ref[1]!.startsWith("__"))
            expect(variables.has(ref[1]!), `panel ${panel.title}: $${ref[1]}`).toBe(true)
        }
      }
    }
    // The contract's metrics are all on the dashboard.
    for (const name of [
      "taskhistory_export_last_success_timestamp_seconds",
      "taskhistory_export_lag_seconds",
      "taskhistory_export_runs_total",
      "taskhistory_api_requests_total",
      "taskhistory_executions_total",
      "taskhistory_build_info"
    ])
      expect(used.has(name), name).toBe(true)
  })
})
