import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, runBin, simEnv } from "./utils/harness.js"
import { pgUrl, withPg } from "./utils/pg.js"

const url = pgUrl

if (url === undefined || url === "") {
  describe("taskhistory-exporter with a Postgres sink", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("exporter Postgres tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  // A schema of our own (`?schema=` of the sink spec; the sink creates it).
  const schema = `th_exporter_${process.pid}_${Date.now().toString(36)}`
  const sinkUrl = `${url}${url.includes("?") ? "&" : "?"}schema=${schema}`
  let sim: RunningSimulator

  beforeAll(async () => {
    sim = await startSimulator({ records: 700, seed: 21 })
  })
  afterEach(killAll)
  afterAll(async () => {
    await sim.close()
    await withPg((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  })

  describe("taskhistory-exporter with a Postgres sink", () => {
    it("exports exactly into Postgres, reruns incrementally, and reports status", async () => {
      const first = await runBin(["run", "--once", "--sink", sinkUrl], simEnv(sim))
      expect(first.code, first.stderr).toBe(0)
      sim.insert(30)
      const second = await runBin(["run", "--once", "--sink", sinkUrl], simEnv(sim))
      expect(second.code, second.stderr).toBe(0)
      const rows = await withPg((sql) =>
        sql.unsafe<{ id: string; raw: string }>(`SELECT id, raw FROM ${schema}.workflow_executions`)
      )
      const stored = new Map(rows.map((r) => [r.id, JSON.parse(r.raw) as unknown]))
      expect(rows.length).toBe(730)
      expect(diff(stored, sim.dataset())).toEqual([])

      const status = await runBin(["status", "--sink", sinkUrl, "--format", "json"], {})
      expect(status.code, status.stderr).toBe(0)
      const parsed = JSON.parse(status.stdout) as { rows: number; streams: Array<unknown> }
      expect(parsed.rows).toBe(730)
      expect(parsed.streams).toHaveLength(1)
    })
  })
}
