import { readdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { killAll, runBin, simEnv, tempDir } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 2000, seed: 13, span: 45 })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

/** The headline figures in a report: the `data-value` of each card. */
const headline = (html: string) =>
  Object.fromEntries(
    [
      ...html.matchAll(/data-metric="([a-z-]+)"><dt>[^<]*<\/dt><dd><span class="value" data-value="([^"]*)"/g)
    ].map((m) => [m[1], Number(m[2])])
  )

describe("taskhistory-exporter run --report", () => {
  it("writes the report of the last N days from the sink after every run, replacing it atomically", async () => {
    const db = join(dir.path, "r.db")
    const file = join(dir.path, "report.html")
    const first = await runBin(
      ["run", "--once", "--sink", `sqlite:${db}`, "--report", file, "--report-days", "20"],
      simEnv(sim)
    )
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).toMatch(/report written to .*report\.html \(\d+ executions in the last 20 days\)/)
    const html = readFileSync(file, "utf8")
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true)
    expect(html).toContain("last successful export run")
    // The headline equals SQL over the export, for the period of the report.
    const Database = createRequire(import.meta.url)("better-sqlite3") as new (
      path: string,
      options: { readonly: boolean }
    ) => {
      prepare(sql: string): { get(...p: ReadonlyArray<unknown>): Record<string, number> }
      close(): void
    }
    // The exact bounds of the period are in the page's metadata.
    const bounds = /<meta name="taskhistory-period" content="([^"/]+)\/([^"]+)">/.exec(html)!
    const sqlite = new Database(db, { readonly: true })
    const sql = sqlite
      .prepare(
        `SELECT COUNT(*) AS executions, COALESCE(SUM(task_count), 0) AS tasks, SUM(status = 'FAILED') AS failures FROM workflow_executions
         WHERE julianday(date_started) >= julianday(?) AND julianday(date_started) < julianday(?)`
      )
      .get(bounds[1], bounds[2])
    sqlite.close()
    const figures = headline(html)
    expect(sql.executions).toBeGreaterThan(100)
    expect(figures).toEqual({
      executions: sql.executions,
      tasks: sql.tasks,
      failures: sql.failures,
      "failure-rate": sql.failures! / sql.executions!
    })

    const second = await runBin(["run", "--once", "--sink", `sqlite:${db}`, "--report", file], simEnv(sim))
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toMatch(/in the last 30 days/)
    // Replaced by a rename: no temporary file is left beside it.
    expect(readdirSync(dir.path).filter((f) => f.includes("report.html"))).toEqual(["report.html"])
  })

  it("writes the report from a file sink too, and refuses a bad --report-days with exit 2", async () => {
    const file = join(dir.path, "csv-report.html")
    const csv = await runBin(
      ["run", "--once", "--sink", `csv:${join(dir.path, "csv")}`, "--report", file],
      simEnv(sim)
    )
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stderr).toMatch(/report written to .*csv-report\.html/)
    expect(readFileSync(file, "utf8")).toContain("csv:")
    const days = await runBin(
      [
        "run",
        "--once",
        "--sink",
        `sqlite:${join(dir.path, "d.db")}`,
        "--report",
        "x.html",
        "--report-days",
        "0"
      ],
      simEnv(sim)
    )
    expect(days.code).toBe(2)
    expect(days.stderr).toContain("--report-days")
  })
})
