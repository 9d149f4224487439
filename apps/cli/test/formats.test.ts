/**
 * End to end on the BUILT binary (dist/bin.js, run `pnpm build` first) against a simulator:
 * `--format` on every command that prints data, `executions get` as a table with the failed
 * step's error, relative dates, and `usage --sort/--top/--names`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Usage from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { Effect, Stream } from "effect"
import { lines, type Result, run as runBin, simEnv } from "./utils/bin.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-cli-formats-"))

let sim: RunningSimulator
let writes: RunningSimulator

const run = (args: ReadonlyArray<string>, on: RunningSimulator = sim): Promise<Result> =>
  runBin(args, simEnv(on))

const dataset = (s: RunningSimulator) => s.dataset() as unknown as ReadonlyArray<WorkflowExecution>

beforeAll(async () => {
  sim = await startSimulator({ records: 300, seed: 21 })
  writes = await startSimulator({ records: 150, seed: 22 })
})

afterAll(async () => {
  await sim?.close()
  await writes?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("count --format", () => {
  it('prints N as a table and {"count": N} as json; --sort is refused (it means nothing)', async () => {
    const [table, json, sort] = await Promise.all([
      run(["executions", "count", "--status", "failed"]),
      run(["executions", "count", "--status", "failed", "--format", "json"]),
      run(["executions", "count", "--sort", "asc"])
    ])
    const failed = dataset(sim).filter((r) => r.status === "FAILED").length
    expect(table.code).toBe(0)
    expect(table.stdout).toBe(`${failed}\n`)
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ count: failed })
    expect(sort.code).toBe(2)
    expect(sort.stderr).toContain("--sort")
  })
})

/** The shapes of a failed step's output the simulator serves. */
type Output =
  | string
  | {
      readonly error?: { readonly message?: string; readonly code?: string }
      readonly response?: {
        readonly body?: { readonly errors?: ReadonlyArray<{ readonly message?: string }> }
      }
    }
  | undefined

/** What the table's error line says of a failed step, for each shape the simulator serves. */
const expectedError = (step: { output?: unknown; isLargeOutput?: boolean }): string => {
  const o = step.output as Output
  if (step.isLargeOutput === true) return `not in the step's output, which is stored apart: ${String(o)}`
  if (typeof o === "string") return o
  if (o?.error?.message !== undefined) return `${o.error.message}${o.error.code ? ` (${o.error.code})` : ""}`
  if (o?.response?.body?.errors?.[0]?.message !== undefined) return o.response.body.errors[0].message
  throw new Error(`a step output of a shape this test does not know: ${JSON.stringify(o)}`)
}

describe("executions get", () => {
  it("finds the error of every shape of failed step output the simulator serves", async () => {
    const failed = [...dataset(sim)].filter((r) => r.status === "FAILED")
    const byShape = new Map<string, { id: string; step: { output?: unknown; isLargeOutput?: boolean } }>()
    for (const r of failed) {
      const steps = sim.steps(r.id) ?? []
      const f = steps.find((s) => s.summary.status === "FAILED")
      if (f === undefined) continue
      const o = f.detail.output as Output
      const shape =
        f.detail.isLargeOutput === true
          ? "large"
          : typeof o === "string"
            ? "string"
            : o?.response !== undefined
              ? "nested"
              : "object"
      if (!byShape.has(shape)) byShape.set(shape, { id: r.id, step: f.detail })
    }
    expect(byShape.has("object")).toBe(true)
    expect(byShape.has("string")).toBe(true)
    const results = await Promise.all([...byShape.values()].map(({ id }) => run(["executions", "get", id])))
    for (const [i, { step }] of [...byShape.values()].entries()) {
      const r = results[i]!
      expect(r.code).toBe(0)
      expect(lines(r.stdout).find((l) => l.startsWith("error  "))).toBe(`error        ${expectedError(step)}`)
    }
  })

  it("as a table: the execution, its steps and the failed step's error (one more request)", async () => {
    const target = [...dataset(sim)].reverse().find((r) => r.status === "FAILED")!
    const json = await run(["executions", "get", target.id, "--format", "json"])
    expect(json.code).toBe(0)
    const detail = JSON.parse(json.stdout)
    expect(detail).toMatchObject(target)
    const steps: ReadonlyArray<{ id: string; status: string; name?: string }> = detail.stepExecutions
    const failedStep = steps.find((s) => s.status === "FAILED")!
    expect(failedStep).toBeDefined()
    const stepJson = await run(["executions", "step", target.id, failedStep.id, "--format", "json"])
    expect(stepJson.code).toBe(0)
    const step = JSON.parse(stepJson.stdout)
    expect(step.id).toBe(failedStep.id)

    const before = sim.stats().byRoute.step ?? 0
    const table = await run(["executions", "get", target.id])
    expect(table.code).toBe(0)
    expect(sim.stats().byRoute.step).toBe(before + 1)
    const out = lines(table.stdout)
    expect(out).toContain(`execution    ${target.id}`)
    expect(out).toContain("status       FAILED")
    expect(out).toContain(`failed step  ${failedStep.id}`)
    expect(out.find((l) => l.startsWith("error  "))).toBe(`error        ${expectedError(step)}`)
    const header = out.findIndex((l) => /^#\s+STEP\s+NAME\s+STATUS\s+STARTED\s+DURATION$/.test(l))
    expect(header).toBeGreaterThan(0)
    const rows = out.slice(header + 1)
    expect(rows.map((l) => l.trim().split(/\s+/)[1])).toEqual(steps.map((s) => s.id))
    for (const [i, s] of steps.entries()) expect(rows[i]).toContain(s.status)

    // A succeeded execution: no extra request, no error line.
    const ok = [...dataset(sim)].reverse().find((r) => r.status === "SUCCEEDED")!
    const mid = sim.stats().byRoute.step ?? 0
    const okTable = await run(["executions", "get", ok.id])
    expect(okTable.code).toBe(0)
    expect(okTable.stdout).toContain("status       SUCCEEDED")
    expect(okTable.stdout).not.toMatch(/^error /m)
    expect(sim.stats().byRoute.step ?? 0).toBe(mid)
  })

  it("step as a table shows the error, input and output; json is the step as served", async () => {
    // a failed step whose output is an object with an error in it
    const target = [...dataset(sim)].find(
      (r) =>
        r.status === "FAILED" &&
        (sim.steps(r.id) ?? []).some(
          (s) => s.summary.status === "FAILED" && (s.detail.output as Output & object)?.error !== undefined
        )
    )!
    const detail = JSON.parse((await run(["executions", "get", target.id, "--format", "json"])).stdout)
    const failedStep = detail.stepExecutions.find((s: { status: string }) => s.status === "FAILED")
    const [table, json] = await Promise.all([
      run(["executions", "step", target.id, failedStep.id]),
      run(["executions", "step", target.id, failedStep.id, "--format", "json"])
    ])
    expect(table.code).toBe(0)
    const step = JSON.parse(json.stdout)
    expect(table.stdout).toContain(`step       ${failedStep.id}`)
    expect(table.stdout).toContain(`error      ${expectedError(step)}`)
    expect(table.stdout).toMatch(/^input$/m)
    expect(table.stdout).toMatch(/^output$/m)
    // the JSON's layout, indented, never escaped newlines
    expect(table.stdout).not.toContain("\\x0a")
    const bad = await run(["executions", "get", target.id, "--format", "ndjson"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--format "ndjson"')
  })
})

describe("executions replay --format", () => {
  it("one id: json as served, a table row as the list prints it", async () => {
    const [first, second] = dataset(writes)
    const [json, table] = await Promise.all([
      run(["executions", "replay", first!.id, "--format", "json"], writes),
      run(["executions", "replay", second!.id], writes)
    ])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "EXECUTING" })
    expect(table.code).toBe(0)
    expect(lines(table.stdout)[0]).toMatch(/^ID\s+STATUS\s+WORKFLOW/)
    expect(lines(table.stdout)).toHaveLength(2)
  })

  it("bulk: ndjson and csv rows, json one document with the summary", async () => {
    const failed = dataset(writes)
      .filter((r) => r.status === "FAILED")
      .reverse()
      .map((r) => r.id)
    expect(failed.length).toBeGreaterThanOrEqual(2)
    const dry = await run(
      ["executions", "replay", "--status", "failed", "--dry-run", "--format", "json"],
      writes
    )
    expect(dry.code).toBe(0)
    expect(JSON.parse(dry.stdout)).toEqual({
      results: failed.map((executionId) => ({ outcome: "dry-run", executionId })),
      summary: { dryRun: true, wouldReplay: failed.length, skipped: 0, refused: 0 }
    })
    const log = join(dir, "bulk.log")
    const ndjson = await run(
      ["executions", "replay", "--status", "failed", "--yes", "--log", log, "--format", "ndjson"],
      writes
    )
    expect(ndjson.code).toBe(0)
    const rows = lines(ndjson.stdout).map((l) => JSON.parse(l))
    expect(rows.map((r) => [r.outcome, r.executionId])).toEqual(failed.map((id) => ["replayed", id]))
    for (const r of rows) expect(typeof r.newExecutionId).toBe("string")
    // everything is in the log now: a csv run sends nothing and prints the header alone
    const csv = await run(
      ["executions", "replay", "--status", "failed", "--yes", "--log", log, "--format", "csv"],
      writes
    )
    expect(csv.code).toBe(0)
    expect(csv.stdout).toBe("outcome,executionId,newExecutionId,error,message\n")
    const json = await run(
      ["executions", "replay", "--status", "failed", "--yes", "--log", log, "--format", "json"],
      writes
    )
    expect(JSON.parse(json.stdout)).toEqual({
      results: [],
      summary: {
        dryRun: false,
        replayed: 0,
        failed: 0,
        unknown: 0,
        skipped: failed.length,
        refused: 0,
        notSent: 0
      }
    })
  })
})

describe("relative dates", () => {
  it("--after 7d and --before 24h are that long before now; a bare number is exit 2", async () => {
    const DAY = 86_400_000
    const starts = dataset(sim).map((r) => Date.parse(r.dateStarted))
    const between = (lo: number, hi: number) => starts.filter((t) => t >= lo && t <= hi).length
    const t0 = Date.now()
    const [week, bare, since] = await Promise.all([
      run(["executions", "count", "--after", "7d", "--before", "24h"]),
      run(["executions", "list", "--after", "7"]),
      run(["executions", "list", "--after", "2023-02-16", "--before", "1w", "--format", "json"])
    ])
    const t1 = Date.now()
    expect(week.code).toBe(0)
    const n = Number(week.stdout)
    // the binary's now is between t0 and t1: its window holds at least the common part
    expect(n).toBeGreaterThanOrEqual(between(t1 - 7 * DAY, t0 - DAY))
    expect(n).toBeLessThanOrEqual(between(t0 - 7 * DAY, t1 - DAY))
    expect(n).toBeGreaterThan(0)
    expect(bare.code).toBe(2)
    expect(bare.stderr).toContain('--after "7"')
    expect(bare.stderr).toContain("7d")
    expect(since.code).toBe(0)
    for (const r of JSON.parse(since.stdout) as ReadonlyArray<WorkflowExecution>) {
      expect(Date.parse(r.dateStarted)).toBeLessThanOrEqual(t1 - 7 * DAY)
    }
  })

  it("report takes relative dates for its period", async () => {
    const DAY = 86_400_000
    const output = join(dir, "week.html")
    const t0 = Date.now()
    const report = await run(["report", "--after", "7d", "--before", "1d", "--output", output])
    const t1 = Date.now()
    expect(report.code, report.stderr).toBe(0)
    const m = /from (\S+) to (\S+)/.exec(report.stderr)
    expect(m).not.toBeNull()
    const [start, end] = [Date.parse(m![1]!), Date.parse(m![2]!)]
    expect(start).toBeGreaterThanOrEqual(t0 - 7 * DAY)
    expect(start).toBeLessThanOrEqual(t1 - 7 * DAY)
    expect(end - start).toBe(6 * DAY)
  })
})

describe("usage --sort, --top, --names", () => {
  const expected = (by: "workflow" | "user") =>
    Effect.runPromise(Usage.fromStream(Stream.fromIterable(dataset(sim)), by))
  const order =
    (value: (r: Usage.UsageRow) => number) =>
    (a: Usage.UsageRow, b: Usage.UsageRow): number =>
      value(b) - value(a) ||
      b.executions - a.executions ||
      (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)

  it("orders groups by failures, failure rate, tasks or p95 (descending) and keeps the first N", async () => {
    const report = await expected("workflow")
    const [failures, rate, p95, tasks] = await Promise.all([
      run(["usage", "--by", "workflow", "--sort", "failures", "--top", "3", "--format", "json"]),
      run(["usage", "--by", "workflow", "--sort", "failure-rate", "--format", "csv"]),
      run(["usage", "--by", "user", "--sort", "p95", "--top", "5", "--format", "json"]),
      run(["usage", "--by", "workflow", "--sort", "TASKS", "--top", "2"])
    ])
    expect(failures.code).toBe(0)
    const doc = JSON.parse(failures.stdout)
    const byFailures = [...report.groups].sort(order((r) => r.failures))
    expect(doc.sort).toBe("failures")
    expect(doc.groups).toEqual(JSON.parse(JSON.stringify(byFailures.slice(0, 3))))
    expect(doc.omittedGroups).toBe(report.groups.length - 3)
    expect(doc.total).toEqual(JSON.parse(JSON.stringify(report.total)))

    expect(rate.code).toBe(0)
    const byRate = [...report.groups].sort(order((r) => r.failureRate))
    expect(
      lines(rate.stdout)
        .slice(1)
        .map((l) => l.split(",")[0])
    ).toEqual(byRate.map((r) => r.group))

    const users = await expected("user")
    const byP95 = [...users.groups].sort(order((r) => r.p95RunDuration ?? Number.NEGATIVE_INFINITY))
    expect(JSON.parse(p95.stdout).groups.map((g: Usage.UsageRow) => g.group)).toEqual(
      byP95.slice(0, 5).map((r) => r.group)
    )

    expect(tasks.code).toBe(0)
    const rows = lines(tasks.stdout)
    const byTasks = [...report.groups].sort(order((r) => r.tasks))
    expect(rows.slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual(byTasks.slice(0, 2).map((r) => r.group))
    expect(rows[3]).toBe(`(${report.groups.length - 2} more groups)`)
    expect(rows[4]).toMatch(new RegExp(`^TOTAL\\s+${report.total.executions}\\s`))
  })

  it("shows labels from a YAML or JSON --names file beside the ids; bad values are exit 2", async () => {
    const report = await expected("workflow")
    const [first, second] = [...report.groups].sort(order((r) => r.executions))
    const yaml = join(dir, "names.yaml")
    writeFileSync(yaml, `workflows:\n  "${first!.group}": Sync contacts\nusers:\n  someone: Alice\n`)
    const json = join(dir, "names.json")
    writeFileSync(json, JSON.stringify({ workflows: { [second!.group]: "Send, invoices" } }))
    const [table, doc, csv, badSort, oldSort, badTop, badNames, endless] = await Promise.all([
      run(["usage", "--by", "workflow", "--names", yaml]),
      run(["usage", "--by", "workflow", "--names", json, "--format", "json"]),
      run(["usage", "--by", "workflow", "--names", json, "--format", "csv", "--top", "2"]),
      run(["usage", "--sort", "name"]),
      run(["usage", "--sort", "asc"]),
      run(["usage", "--top", "0"]),
      run(["usage", "--names", join(dir, "missing.yaml")]),
      run(["usage", "--names", "/dev/zero"])
    ])
    expect(table.code).toBe(0)
    const out = lines(table.stdout)
    expect(out[0]).toMatch(/^WORKFLOW\s+NAME\s+EXECUTIONS/)
    expect(out[1]).toMatch(new RegExp(`^${first!.group}\\s+Sync contacts\\s+${first!.executions}\\s`))
    expect(out[2]).toMatch(new RegExp(`^${second!.group}\\s+-\\s+${second!.executions}\\s`))
    expect(doc.code).toBe(0)
    const groups: ReadonlyArray<Usage.UsageRow & { label?: string }> = JSON.parse(doc.stdout).groups
    expect(groups.find((g) => g.group === second!.group)?.label).toBe("Send, invoices")
    expect(groups.find((g) => g.group === first!.group)).not.toHaveProperty("label")
    expect(lines(csv.stdout)[0]).toBe(
      "workflow,name,executions,tasks,failures,failure_rate,p50_run_duration_ms,p95_run_duration_ms"
    )
    expect(lines(csv.stdout)[2]).toContain(`${second!.group},"Send, invoices",${second!.executions},`)
    for (const r of [badSort, oldSort, badTop, badNames, endless]) expect(r.code).toBe(2)
    // Bounded: /dev/zero is refused after 32 MiB, not read until memory runs out.
    expect(endless.stderr).toMatch(/--names.*\/dev\/zero.*at most 32 MiB/)
    expect(badSort.stderr).toContain('--sort "name"')
    expect(badSort.stderr).toContain("failure-rate")
    expect(oldSort.stderr).toContain('--sort "asc"')
    expect(badTop.stderr).toContain("--top 0")
    expect(badNames.stderr).toContain("--names")
  })
})
