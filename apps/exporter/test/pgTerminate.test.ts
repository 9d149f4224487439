/**
 * The Postgres sink when its connections are terminated (`pg_terminate_backend`) at random points
 * of a run, on the BUILT `taskhistory-exporter` and a real Postgres: each run ends with 0 (it was
 * done, or the kill fell between statements it no longer needed) or 6 (a typed sink failure: one
 * line naming the sink, never "unexpected failure"), and a rerun makes the rows exact.
 */
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, prng, simEnv, spawnBin, waitFor } from "./utils/harness.js"
import { pgUrl, withPg } from "./utils/pg.js"

const url = pgUrl

if (url === undefined || url === "") {
  describe("taskhistory-exporter when Postgres terminates its connections", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("exporter pg_terminate_backend tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  const tag = `th_kill_${process.pid}_${Date.now().toString(36)}`
  // Our own schema and application name: only this suite's backends are terminated.
  const sinkUrl = `${url}${url.includes("?") ? "&" : "?"}schema=${tag}&application_name=${tag}`
  let sim: RunningSimulator

  beforeAll(async () => {
    sim = await startSimulator({ records: 4000, seed: 33 })
  })
  afterEach(killAll)
  afterAll(async () => {
    await sim.close()
    await withPg((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS ${tag} CASCADE`))
  })

  const backends = () =>
    withPg((sql) =>
      sql.unsafe<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [tag])
    )
  const terminate = () =>
    withPg((sql) =>
      sql.unsafe<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1",
        [tag]
      )
    )

  describe("taskhistory-exporter when Postgres terminates its connections", () => {
    it("each run ends 0 or 6 (a typed sink error, never a bug), and a rerun is exact", async () => {
      const random = prng(4242)
      const outcomes: Array<string> = []
      for (let attempt = 0; attempt < 8; attempt++) {
        sim.insert(1000)
        const running = spawnBin(["run", "--once", "--batch-size", "50", "--sink", sinkUrl], simEnv(sim), {
          timeoutMs: 120_000
        })
        // Wait until it holds a connection, then terminate them all at a random moment.
        let exited = false
        void running.done.then(() => {
          exited = true
        })
        await waitFor(async () => exited || (await backends()).length > 0, 60_000, 20)
        await new Promise((r) => setTimeout(r, Math.floor(random() * 700)))
        const killed = exited ? 0 : (await terminate()).length
        const result = await running.done
        outcomes.push(`${killed} killed -> ${result.code}`)
        expect([0, 6], `${outcomes.join(", ")}\n${result.stderr}`).toContain(result.code)
        expect(result.stderr).not.toContain("unexpected failure")
        if (result.code === 6) {
          const errors = result.stderr.split("\n").filter((l) => l.startsWith("error:"))
          expect(errors, result.stderr).toHaveLength(1)
          expect(errors[0]).toMatch(new RegExp(`^error: postgres://.*${tag}: [a-z ]+ failed: `))
        }
      }
      // The kills landed while the exporter held its connections (the waits are short).
      expect(outcomes.filter((o) => !o.startsWith("0 ")).length, outcomes.join(", ")).toBeGreaterThan(0)
      // A run after a failed one first finishes the interrupted range (up to its end); what was
      // inserted after that end is read by the run after it, as without any failure.
      for (let rerun = 0; rerun < 2; rerun++) {
        const final = await spawnBin(["run", "--once", "--sink", sinkUrl], simEnv(sim), {
          timeoutMs: 120_000
        }).done
        expect(final.code, final.stderr).toBe(0)
      }
      const rows = await withPg((sql) =>
        sql.unsafe<{ id: string; raw: string }>(`SELECT id, raw FROM ${tag}.workflow_executions`)
      )
      const stored = new Map(rows.map((r) => [r.id, JSON.parse(r.raw) as unknown]))
      expect(rows.length).toBe(stored.size)
      expect(diff(stored, sim.dataset())).toEqual([])
      console.info(`pg_terminate_backend outcomes: ${outcomes.join(", ")}`)
    }, 600_000)
  })
}
