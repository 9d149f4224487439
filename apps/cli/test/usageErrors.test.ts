/**
 * `usage --by error`, end to end on the BUILT binary: from the API (a small range) and from a
 * SQLite or NDJSON export made with `steps: "failed"`, the same ranking; an export without steps
 * and a large range are refused with exit 2.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as FileSink from "@taskhistory/export/FileSink"
import * as SqliteSink from "@taskhistory/export/SqliteSink"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { cleanEnv, run } from "./utils/bin.js"
import { exportInto } from "./utils/export.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-cli-errors-"))
const db = join(dir, "th.db")
const noStepsDb = join(dir, "no-steps.db")
const ndjsonDir = join(dir, "nd")
const ndjsonSteps = join(dir, "nd-steps")
const NOW = "2026-11-30T00:00:00.000Z"
let sim: RunningSimulator

const apiEnv = () =>
  cleanEnv({
    PARAGON_BASE_URL: sim.url,
    PARAGON_PROJECT_ID: sim.projectId,
    PARAGON_API_KEY: sim.apiKey,
    PARAGON_RATE_LIMIT: "10000/1s"
  })

beforeAll(async () => {
  sim = await startSimulator({ records: 2000, seed: 41, now: NOW, span: 30 })
  await exportInto(
    sim,
    [
      SqliteSink.layer({ path: db }),
      SqliteSink.layer({ path: noStepsDb }),
      FileSink.layerNdjson({ dir: ndjsonDir })
    ],
    { since: "2026-10-01" }
  )
  await exportInto(sim, [SqliteSink.layer({ path: db }), FileSink.layerNdjson({ dir: ndjsonSteps })], {
    since: "2026-10-01",
    steps: "failed"
  })
}, 120_000)

afterAll(async () => {
  await sim?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("usage --by error", () => {
  it("steps turned on after a first export: the executions exported before get their steps", async () => {
    const fromExport = await run(
      ["usage", "--by", "error", "--format", "json", "--source", `sqlite:${db}`],
      cleanEnv()
    )
    expect(fromExport.code, fromExport.stderr).toBe(0)
    const failed = sim.dataset().filter((r) => r.status === "FAILED" && String(r.dateStarted) >= "2026-10-01")
    expect(JSON.parse(fromExport.stdout).executions).toBe(failed.length)
  })

  it("the export gives the same ranking as the API, at zero API requests", async () => {
    const filters = ["--after", "2026-11-20", "--before", "2026-11-25T00:00:00Z"]
    const before = sim.stats().requests
    const fromExport = await run(
      ["usage", "--by", "error", "--format", "json", "--source", `sqlite:${db}`, ...filters],
      cleanEnv()
    )
    expect(fromExport.code, fromExport.stderr).toBe(0)
    expect(sim.stats().requests).toBe(before)
    const fromApi = await run(["usage", "--by", "error", "--format", "json", ...filters], apiEnv())
    expect(fromApi.code, fromApi.stderr).toBe(0)
    const { source, ...report } = JSON.parse(fromExport.stdout)
    expect(report).toEqual(JSON.parse(fromApi.stdout))
    expect(source.sink).toBe(`sqlite:${db}`)
    // The same from an NDJSON export's step_executions/ partitions.
    const fromFiles = await run(
      ["usage", "--by", "error", "--format", "json", "--source", `ndjson:${ndjsonSteps}`, ...filters],
      cleanEnv()
    )
    expect(fromFiles.code, fromFiles.stderr).toBe(0)
    const { source: _files, ...fileReport } = JSON.parse(fromFiles.stdout)
    expect(fileReport).toEqual(report)
    expect(report.failures).toBeGreaterThan(5)
    // Ranked by failures, each message with the workflows it hit.
    const counts = report.groups.map((g: { failures: number }) => g.failures)
    expect(counts).toEqual([...counts].sort((a, b) => b - a))
    for (const g of report.groups) {
      expect(g.workflows.reduce((n: number, w: { failures: number }) => n + w.failures, 0)).toBe(g.failures)
    }
    const table = await run(["usage", "--by", "error", "--source", `sqlite:${db}`, ...filters], cleanEnv())
    expect(table.stdout).toMatch(/^ERROR\s+FAILURES\s+EXECUTIONS\s+WORKFLOWS/)
    expect(table.stdout).toMatch(/TOTAL\s+\d+\s+\d+/)
  })

  it("refuses a sink without step executions and a range too large for the API (exit 2)", async () => {
    const files = await run(["usage", "--by", "error", "--source", `ndjson:${ndjsonDir}`], cleanEnv())
    expect(files.code).toBe(2)
    expect(files.stderr).toContain("--steps failed")
    const big = await startSimulator({ records: 8000, seed: 42, now: NOW, span: 30 })
    try {
      const before = big.stats().requests
      const large = await run(
        ["usage", "--by", "error"],
        cleanEnv({
          PARAGON_BASE_URL: big.url,
          PARAGON_PROJECT_ID: big.projectId,
          PARAGON_API_KEY: big.apiKey
        })
      )
      expect(large.code).toBe(2)
      expect(large.stderr).toMatch(/failed executions match, more than 250/)
      // One request: the first page's total.
      expect(big.stats().requests - before).toBe(1)
    } finally {
      await big.close()
    }
  })
})

describe("report from an export with step executions", () => {
  it("shows the top error messages by workflow; a sink without steps says they were not available", async () => {
    const period = ["--after", "2026-11-01", "--before", "2026-11-30T00:00:00Z"]
    const ranking = await run(
      ["usage", "--by", "error", "--format", "json", "--source", `sqlite:${db}`, ...period],
      cleanEnv()
    )
    expect(ranking.code, ranking.stderr).toBe(0)
    const messages: Array<string> = JSON.parse(ranking.stdout)
      .groups.map((g: { message: string | null }) => g.message)
      .filter((m: string | null): m is string => m !== null && /^[\w .:,()-]+$/.test(m))
    expect(messages.length).toBeGreaterThan(0)
    const before = sim.stats().requests
    const html = join(dir, "errors.html")
    const made = await run(["report", "--source", `sqlite:${db}`, ...period, "-o", html], cleanEnv())
    expect(made.code, made.stderr).toBe(0)
    expect(sim.stats().requests).toBe(before)
    const page = readFileSync(html, "utf8")
    expect(page).toContain("Top error messages by workflow")
    expect(page).not.toContain("Step errors were not available")
    // The most frequent plain message of the export is in the report's table.
    expect(page).toContain(messages[0])
    // The same section from an NDJSON export's step_executions/ partitions.
    const fromStepFiles = join(dir, "step-files.html")
    const madeFromFiles = await run(
      ["report", "--source", `ndjson:${ndjsonSteps}`, ...period, "-o", fromStepFiles],
      cleanEnv()
    )
    expect(madeFromFiles.code, madeFromFiles.stderr).toBe(0)
    const filePage = readFileSync(fromStepFiles, "utf8")
    expect(filePage).toContain("Top error messages by workflow")
    expect(filePage).toContain(messages[0])

    const files = join(dir, "files.html")
    const fromFiles = await run(
      ["report", "--source", `ndjson:${ndjsonDir}`, ...period, "-o", files],
      cleanEnv()
    )
    expect(fromFiles.code, fromFiles.stderr).toBe(0)
    expect(readFileSync(files, "utf8")).toContain("Step errors were not available")
  })

  it("a SQLite export made without --steps has the tables but no step data: not available, not 'none failed'", async () => {
    const period = ["--after", "2026-11-01", "--before", "2026-11-30T00:00:00Z"]
    const html = join(dir, "no-steps.html")
    const made = await run(["report", "--source", `sqlite:${noStepsDb}`, ...period, "-o", html], cleanEnv())
    expect(made.code, made.stderr).toBe(0)
    const page = readFileSync(html, "utf8")
    expect(page).toContain("Step errors were not available")
    expect(page).not.toContain("No step errors in this period")
    const ranking = await run(
      ["usage", "--by", "error", "--format", "json", "--source", `sqlite:${noStepsDb}`, ...period],
      cleanEnv()
    )
    expect(ranking.code).toBe(2)
    expect(ranking.stdout).toBe("")
    expect(ranking.stderr).toMatch(/^error: .*no run of this export fetched step executions.*--steps failed/)
    expect(ranking.stderr.trim().split("\n")).toHaveLength(1)
  })
})
