import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, readSqlite, simEnv, spawnBin, tempDir, waitFor } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 800, seed: 3 })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

const sample = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe("taskhistory-exporter run --every with --metrics-port", () => {
  it("runs repeatedly, serves /metrics and /healthz, and stops on SIGINT with exit 0", async () => {
    const db = join(dir.path, "every.db")
    const running = spawnBin(
      ["run", "--every", "1s", "--metrics-port", "0", "--sink", `sqlite:${db}`],
      simEnv(sim)
    )
    const addressOf = () => /metrics on (http:\/\/[^\s"/]+)\/metrics/.exec(running.stderr())?.[1]
    expect(await waitFor(() => addressOf() !== undefined, 30_000, 20), running.stderr()).toBe(true)
    const address = addressOf() ?? ""

    let text = ""
    const scrape = async () => {
      text = await (await fetch(`${address}/metrics`)).text()
      return sample(text, "taskhistory_exporter_runs_total") ?? 0
    }
    const deadline = Date.now() + 30_000
    while ((await scrape()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(sample(text, "taskhistory_exporter_runs_total")).toBeGreaterThanOrEqual(2)
    expect(sample(text, "taskhistory_exporter_runs_failed_total")).toBe(0)
    expect(sample(text, "taskhistory_exporter_records_seen_total")).toBeGreaterThanOrEqual(800)
    expect(sample(text, "taskhistory_exporter_records_upserted_total")).toBe(800)
    expect(sample(text, "taskhistory_exporter_requests_total")).toBeGreaterThanOrEqual(8)
    expect(sample(text, "taskhistory_exporter_rate_limited_total")).toBe(0)
    expect(sample(text, "taskhistory_exporter_high_water_mark_lag_seconds")).toBeGreaterThanOrEqual(0)
    expect(sample(text, "taskhistory_exporter_last_success_timestamp_seconds")).toBeGreaterThan(1_700_000_000)

    const health = await fetch(`${address}/healthz`)
    expect(health.status).toBe(200)

    running.child.kill("SIGINT")
    const result = await running.done
    expect(result.code, result.stderr).toBe(0)
    expect((result.stderr.match(/run complete/g) ?? []).length).toBeGreaterThanOrEqual(2)
    const stored = await readSqlite(db)
    expect(diff(stored.rows, sim.dataset())).toEqual([])
  })

  it("--schedule runs on a cron expression (6 fields: every second) until SIGTERM, exit 0", async () => {
    const db = join(dir.path, "cron.db")
    const running = spawnBin(["run", "--schedule", "* * * * * *", "--sink", `sqlite:${db}`], simEnv(sim))
    const runs = () => (running.stderr().match(/run complete/g) ?? []).length
    expect(await waitFor(() => runs() >= 2, 60_000, 50), running.stderr()).toBe(true)
    expect(running.stderr()).toContain('on cron \\"* * * * * *\\"')
    running.child.kill("SIGTERM")
    const result = await running.done
    expect(result.code, result.stderr).toBe(0)
    expect(diff((await readSqlite(db)).rows, sim.dataset())).toEqual([])
  })
})
