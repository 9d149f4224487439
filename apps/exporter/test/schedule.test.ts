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

/** The value of the sample `series` (`name` or `name{labels}` exactly as rendered). */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** The sum of every sample of `name` (all its label sets). */
const total = (text: string, name: string): number =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)

const metricsAddress = (running: { stderr: () => string }) =>
  /metrics on (http:\/\/[^\s"/]+)\/metrics/.exec(running.stderr())?.[1]

describe("taskhistory-exporter run --every with --metrics-port", () => {
  it("runs repeatedly, serves /metrics and /healthz, and stops on SIGINT with exit 0", async () => {
    const db = join(dir.path, "every.db")
    // An execution that started 10 h ago and is still DELAYED: it holds the high-water mark back,
    // not the lag.
    const now = Date.now()
    const old = sim
      .dataset()
      .filter((e) => e.status === "SUCCEEDED" && Date.parse(String(e.dateStarted)) < now - 10 * 3600_000)
      .sort((a, b) => Date.parse(String(b.dateStarted)) - Date.parse(String(a.dateStarted)))[0]!
    expect(sim.setStatus(String(old.id), "DELAYED")).toBe(true)
    const running = spawnBin(
      ["run", "--every", "1s", "--metrics-port", "0", "--sink", `sqlite:${db}`],
      simEnv(sim)
    )
    expect(await waitFor(() => metricsAddress(running) !== undefined, 30_000, 20), running.stderr()).toBe(
      true
    )
    const address = metricsAddress(running) ?? ""

    let text = ""
    const scrape = async () => {
      text = await (await fetch(`${address}/metrics`)).text()
      return sample(text, 'taskhistory_export_runs_total{result="success"}') ?? 0
    }
    const deadline = Date.now() + 30_000
    while ((await scrape()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(sample(text, 'taskhistory_export_runs_total{result="success"}')).toBeGreaterThanOrEqual(2)
    expect(total(text, "taskhistory_export_runs_total")).toBe(
      sample(text, 'taskhistory_export_runs_total{result="success"}')
    )
    expect(sample(text, 'taskhistory_export_records_total{outcome="inserted"}')).toBe(800)
    expect(total(text, "taskhistory_api_requests_total")).toBeGreaterThanOrEqual(8)
    expect(
      sample(text, 'taskhistory_api_requests_total{operation="list",code="200"}')
    ).toBeGreaterThanOrEqual(8)
    // Up to date: the lag is under one run interval (plus a run), although the high-water mark
    // is 10 h behind.
    expect(sample(text, "taskhistory_export_lag_seconds")).toBeLessThan(5)
    expect(sample(text, "taskhistory_export_inflight_executions")).toBeGreaterThanOrEqual(1)
    expect(sample(text, "taskhistory_export_last_success_timestamp_seconds")).toBeGreaterThan(1_700_000_000)
    expect(sample(text, "taskhistory_rate_limit_remaining")).toBeGreaterThan(0)
    // Executions that reached a final status, each once, however many runs read them again.
    const finished = sim.dataset().filter((e) => e.status === "SUCCEEDED" || e.status === "FAILED").length
    expect(total(text, "taskhistory_executions_total")).toBe(finished)
    expect(text).toMatch(/^taskhistory_build_info\{version="[^"]+",nodejs_version="[^"]+"\} 1$/m)
    expect(text).toContain("process_cpu_seconds_total")

    const health = await fetch(`${address}/healthz`)
    expect(health.status).toBe(200)

    running.child.kill("SIGINT")
    const result = await running.done
    expect(result.code, result.stderr).toBe(0)
    expect((result.stderr.match(/run complete/g) ?? []).length).toBeGreaterThanOrEqual(2)
    const stored = await readSqlite(db)
    expect(diff(stored.rows, sim.dataset())).toEqual([])
    sim.setStatus(String(old.id), "SUCCEEDED")
  })

  it("a transient failure keeps it running with /healthz at 503 and the reason, until the next success", async () => {
    const db = join(dir.path, "transient.db")
    await sim.configure({ faults: { errorRate: 1 } })
    const running = spawnBin(["run", "--every", "1s", "--metrics-port", "0", "--sink", `sqlite:${db}`], {
      ...simEnv(sim),
      TASKHISTORY_MAX_RETRIES: "0"
    })
    try {
      expect(await waitFor(() => metricsAddress(running) !== undefined, 30_000, 20), running.stderr()).toBe(
        true
      )
      const address = metricsAddress(running) ?? ""
      let status = 0
      let body = ""
      const failing = await waitFor(
        async () => {
          const res = await fetch(`${address}/healthz`)
          status = res.status
          body = await res.text()
          return status === 503
        },
        30_000,
        100
      )
      expect(failing, running.stderr()).toBe(true)
      expect(body).toMatch(/^failing since \S+: .+\n$/)
      expect(body.trim().split("\n")).toHaveLength(1)
      const text = await (await fetch(`${address}/metrics`)).text()
      expect(
        sample(text, 'taskhistory_export_runs_total{result="failure",reason="server_error"}')
      ).toBeGreaterThanOrEqual(1)
      expect(total(text, "taskhistory_api_requests_total")).toBeGreaterThanOrEqual(1)
      expect(text).toMatch(/^taskhistory_api_requests_total\{operation="list",code="50\d"\} \d+$/m)
      await sim.configure({ faults: { errorRate: 0 } })
      expect(
        await waitFor(async () => (await fetch(`${address}/healthz`)).status === 200, 30_000, 100),
        running.stderr()
      ).toBe(true)
      expect(running.child.exitCode).toBeNull()
    } finally {
      await sim.configure({ faults: { errorRate: 0 } })
    }
    running.child.kill("SIGTERM")
    const result = await running.done
    expect(result.code, result.stderr).toBe(0)
  })

  it("a wrong key (401, permanent) ends a scheduled exporter with exit 3 after logging it", async () => {
    const db = join(dir.path, "wrong-key.db")
    const running = spawnBin(["run", "--every", "1s", "--sink", `sqlite:${db}`], {
      ...simEnv(sim),
      PARAGON_API_KEY: "not-the-right-key-123"
    })
    const result = await running.done
    expect(result.code, result.stderr).toBe(3)
    expect(result.stderr).toContain("stopping the schedule")
    expect(result.stderr).toMatch(/PARAGON_API_KEY/)
    expect(result.stderr).not.toContain("not-the-right-key-123")
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
