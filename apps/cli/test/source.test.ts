/**
 * `usage --source SINK` and `report`, end to end: the BUILT binary (dist/bin.js, run `pnpm build`
 * first) reads a SQLite export of a simulator and the simulator itself; both must agree, and the
 * report's headline must equal SQL over the same export file.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as FileSink from "@taskhistory/export/FileSink"
import * as SqliteSink from "@taskhistory/export/SqliteSink"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { cleanEnv, run } from "./utils/bin.js"
import { exportInto } from "./utils/export.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-cli-source-"))
const db = join(dir, "th.db")
const parquetDir = join(dir, "parquet")
const NOW = "2026-11-30T00:00:00.000Z"
let sim: RunningSimulator

const apiEnv = () =>
  cleanEnv({ PARAGON_BASE_URL: sim.url, PARAGON_PROJECT_ID: sim.projectId, PARAGON_API_KEY: sim.apiKey })

beforeAll(async () => {
  sim = await startSimulator({ records: 4000, seed: 29, now: NOW, span: 90 })
  await exportInto(sim, [SqliteSink.layer({ path: db }), FileSink.layerParquet({ dir: parquetDir })], {
    since: "2026-01-01"
  })
}, 120_000)

afterAll(async () => {
  await sim?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("usage --source", () => {
  for (const by of ["workflow", "user", "status", "day"] as const) {
    it(`--by ${by}: the export gives the same report as the API, at zero API requests`, async () => {
      const filters = ["--after", "2026-10-01", "--before", "2026-11-15T12:00:00Z"]
      const before = sim.stats().requests
      // No PARAGON_ variable at all: reading the export needs no key and makes no request.
      const fromExport = await run(
        ["usage", "--by", by, "--format", "json", "--source", `sqlite:${db}`, ...filters],
        cleanEnv()
      )
      expect(fromExport.stderr).toBe("")
      expect(fromExport.code).toBe(0)
      expect(sim.stats().requests).toBe(before)
      const fromApi = await run(["usage", "--by", by, "--format", "json", ...filters], apiEnv())
      expect(fromApi.code).toBe(0)
      const { source, ...report } = JSON.parse(fromExport.stdout)
      expect(report).toEqual(JSON.parse(fromApi.stdout))
      expect(report.total.executions).toBeGreaterThan(100)
      expect(source.sink).toBe(`sqlite:${db}`)
      expect(Date.parse(source.lastRunAt)).toBeGreaterThan(0)
    })
  }

  it("a file sink's directory (parquet:DIR) gives the same report as the API", async () => {
    const filters = ["--after", "2026-09-01", "--status", "failed"]
    const fromFiles = await run(
      ["usage", "--by", "user", "--format", "json", "--source", `parquet:${parquetDir}`, ...filters],
      cleanEnv()
    )
    expect(fromFiles.code, fromFiles.stderr).toBe(0)
    const fromApi = await run(["usage", "--by", "user", "--format", "json", ...filters], apiEnv())
    const { source, ...report } = JSON.parse(fromFiles.stdout)
    expect(report).toEqual(JSON.parse(fromApi.stdout))
    expect(report.total.executions).toBeGreaterThan(10)
    expect(source.sink).toBe(`parquet:${parquetDir}`)
  })

  it("says how fresh the export is under the table", async () => {
    const table = await run(["usage", "--source", `sqlite:${db}`], cleanEnv())
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(
      /source sqlite:.* last successful export run \d{4}-\d\d-\d\dT.*, complete up to /
    )
  })

  it("refuses what an export cannot answer, and bad sources, with exit 2", async () => {
    const integration = await run(
      ["usage", "--by", "integration", "--integrations", "slack", "--source", `sqlite:${db}`],
      cleanEnv()
    )
    expect(integration.code).toBe(2)
    expect(integration.stderr).toContain("--source api")
    const filter = await run(["usage", "--integration", "slack", "--source", `sqlite:${db}`], cleanEnv())
    expect(filter.code).toBe(2)
    expect(filter.stderr).toContain("--integration")
    const missing = await run(["usage", "--source", `sqlite:${join(dir, "none.db")}`], cleanEnv())
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("none.db")
    const bad = await run(["usage", "--source", "mysql://x"], cleanEnv())
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--source")
  })
})

describe("report", () => {
  const headline = (html: string) => {
    const value = (metric: string) => {
      const m = new RegExp(
        `data-metric="${metric}"><dt>[^<]*</dt><dd><span class="value" data-value="([^"]*)"`
      ).exec(html)
      return m === null ? undefined : Number(m[1])
    }
    return {
      executions: value("executions"),
      tasks: value("tasks"),
      failures: value("failures"),
      failureRate: value("failure-rate")
    }
  }

  it("from the export: the headline equals SQL over the same SQLite file", async () => {
    const output = join(dir, "report.html")
    const before = sim.stats().requests
    const result = await run(
      [
        "report",
        "--source",
        `sqlite:${db}`,
        "--after",
        "2026-10-01",
        "--before",
        "2026-11-01",
        "--output",
        output
      ],
      cleanEnv()
    )
    expect(result.code).toBe(0)
    expect(result.stderr).toContain(`wrote ${output}`)
    expect(sim.stats().requests).toBe(before)
    const html = readFileSync(output, "utf8")
    // better-sqlite3, as the binary would load it.
    const Database = createRequire(import.meta.url)("better-sqlite3") as new (
      path: string,
      options: { readonly: boolean }
    ) => {
      prepare(sql: string): { get(...p: ReadonlyArray<unknown>): Record<string, number> }
      close(): void
    }
    const sqlite = new Database(db, { readonly: true })
    const sql = sqlite
      .prepare(
        `SELECT COUNT(*) AS executions, COALESCE(SUM(task_count), 0) AS tasks, SUM(status = 'FAILED') AS failures
         FROM workflow_executions WHERE julianday(date_started) >= julianday(?) AND julianday(date_started) < julianday(?)`
      )
      .get("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z")
    sqlite.close()
    expect(sql.executions).toBeGreaterThan(100)
    expect(headline(html)).toEqual({
      executions: sql.executions,
      tasks: sql.tasks,
      failures: sql.failures,
      failureRate: sql.failures! / sql.executions!
    })
    expect(html).toContain("last successful export run")
  })

  it("from the API: the same headline", async () => {
    const fromExport = join(dir, "export.html")
    const fromApi = join(dir, "api.html")
    const period = ["--after", "2026-10-15", "--before", "2026-11-15"]
    expect(
      (await run(["report", "--source", `sqlite:${db}`, ...period, "-o", fromExport], cleanEnv())).code
    ).toBe(0)
    expect((await run(["report", ...period, "-o", fromApi], apiEnv())).code).toBe(0)
    expect(headline(readFileSync(fromApi, "utf8"))).toEqual(headline(readFileSync(fromExport, "utf8")))
  })

  it("refuses a bad --names file and a bad --top with exit 2", async () => {
    const names = await run(
      ["report", "--source", `sqlite:${db}`, "--names", join(dir, "th.db"), "-o", join(dir, "x.html")],
      cleanEnv()
    )
    expect(names.code).toBe(2)
    expect(names.stderr).toContain("--names")
    const top = await run(
      ["report", "--source", `sqlite:${db}`, "--top", "0", "-o", join(dir, "x.html")],
      cleanEnv()
    )
    expect(top.code).toBe(2)
  })
})
