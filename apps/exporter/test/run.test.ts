import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, readSqlite, runBin, simEnv, tempDir } from "./utils/harness.js"

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 1500, seed: 7, churn: { lateArrivals: 10, revealPerRequest: 0 } })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  dir.remove()
})

describe("taskhistory-exporter run --once (SQLite)", () => {
  const db = join(dir.path, "once.db")
  const sink = `sqlite:${db}`

  it("exports the whole dataset exactly, then reruns incrementally and stays exact under churn", async () => {
    const first = await runBin(["run", "--once", "--sink", sink], simEnv(sim))
    expect(first.stderr).not.toContain(sim.apiKey)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe("")
    expect(first.stderr).toMatch(/run complete: 1500 seen, 1500 inserted/)
    const afterFirst = await readSqlite(db)
    expect(diff(afterFirst.rows, sim.dataset())).toEqual([])
    expect(afterFirst.count).toBe(1500)

    // A rerun with nothing new reads only the look-back range: a few requests, not 15+.
    const before = sim.stats().requests
    const second = await runBin(["run", "--sink", sink], simEnv(sim))
    expect(second.code, second.stderr).toBe(0)
    const rerunRequests = sim.stats().requests - before
    expect(rerunRequests).toBeGreaterThan(0)
    expect(rerunRequests).toBeLessThanOrEqual(5)
    expect(second.stderr).toMatch(/0 inserted/)

    // The server inserts new executions, expires old ones and reveals late ones.
    sim.insert(120)
    const expired = sim.expire(40)
    sim.reveal(5)
    // The revealed late arrivals start anywhere in the last 60 days: the default look-back does not
    // reach them, the engine's per-day ledger check does.
    const third = await runBin(["run", "--once", "--sink", sink], simEnv(sim))
    expect(third.code, third.stderr).toBe(0)
    const afterThird = await readSqlite(db)
    expect(diff(afterThird.rows, sim.dataset(), new Set(expired))).toEqual([])
    expect(afterThird.count).toBe(sim.dataset().length + expired.length)
  })

  it("status shows freshness, the last run, the longest execution and counts, as a table or JSON", async () => {
    const json = await runBin(["status", "--sink", sink, "--format", "json"], {})
    expect(json.code, json.stderr).toBe(0)
    const status = JSON.parse(json.stdout) as {
      sink: string
      rows: number
      rejects: number
      streams: Array<{
        streamKey: string
        readThrough: string | null
        inFlight: number | null
        inFlightSince: string | null
        highWaterMark: string | null
        lastRunAt: string | null
        longestExecutionMs: number
      }>
    }
    const stored = await readSqlite(db)
    expect(status.rows).toBe(stored.count)
    expect(status.rejects).toBe(0)
    expect(status.streams).toHaveLength(1)
    const stream = status.streams[0]!
    expect(stream.highWaterMark).not.toBeNull()
    expect(stream.lastRunAt).not.toBeNull()
    // Read through the start of the last run; the executions still running hold the high-water
    // mark back, and are counted apart.
    const running = sim.dataset().filter((r) => r.status === "EXECUTING" || r.status === "DELAYED")
    expect(stream.inFlight).toBe(running.length)
    expect(running.length).toBeGreaterThan(0)
    expect(stream.inFlightSince).toBe(stream.highWaterMark)
    expect(Date.parse(stream.readThrough ?? "")).toBeGreaterThan(Date.parse(stream.highWaterMark ?? ""))
    expect(Date.parse(stream.readThrough ?? "")).toBeLessThanOrEqual(Date.parse(stream.lastRunAt ?? ""))
    expect(stream.longestExecutionMs).toBeGreaterThan(0)

    const table = await runBin(["status", "--sink", sink], {})
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toContain(`rows      ${stored.count}`)
    expect(table.stdout).toMatch(/read through {7}\S+Z \(\d+s ago\)/)
    expect(table.stdout).toContain(`in flight          ${running.length} executions still running`)
    expect(table.stdout).toContain("high-water mark")
    expect(table.stdout).toContain("last run")
    expect(table.stdout).toContain("longest execution")
    expect(table.stdout).not.toContain("longest run")
  })

  it("status of a database that does not exist exits 2 naming it", async () => {
    const missing = join(dir.path, "nothing-here.db")
    const r = await runBin(["status", "--sink", `sqlite:${missing}`], {})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(missing)
  })
})

describe("taskhistory-exporter run --once (NDJSON files)", () => {
  it("exports the matching executions exactly once into day files, and status reads them", async () => {
    const out = join(dir.path, "ndjson-out")
    const failed = sim.dataset().filter((r) => r.status === "FAILED")
    expect(failed.length).toBeGreaterThan(0)
    const r = await runBin(["run", "--status", "failed", "--sink", `ndjson:${out}`], simEnv(sim))
    expect(r.code, r.stderr).toBe(0)
    const rows = new Map<string, unknown>()
    let lines = 0
    for (const day of readdirSync(out).filter((d) => d.startsWith("date="))) {
      for (const line of readFileSync(join(out, day, "part.ndjson"), "utf8").split("\n")) {
        if (line === "") continue
        lines++
        const record = JSON.parse(line) as { id: string }
        rows.set(record.id, record)
      }
    }
    expect(diff(rows, failed)).toEqual([])
    expect(lines).toBe(failed.length)

    const status = await runBin(["status", "--sink", `ndjson:${out}`, "--format", "json"], {})
    expect(status.code, status.stderr).toBe(0)
    const parsed = JSON.parse(status.stdout) as { rows: number; streams: Array<{ streamKey: string }> }
    expect(parsed.rows).toBe(failed.length)
    expect(parsed.streams[0]?.streamKey).toContain("FAILED")
  })
})

describe("taskhistory-exporter --on-invalid", () => {
  it("quarantines malformed records by default, and fails (exit 6, no state) with --on-invalid fail", async () => {
    const bad = await startSimulator({ records: 300, seed: 5, malformed: 3 })
    try {
      const failDb = join(dir.path, "invalid-fail.db")
      const failed = await runBin(["run", "--on-invalid", "fail", "--sink", `sqlite:${failDb}`], simEnv(bad))
      expect(failed.code, failed.stderr).toBe(6)
      expect(failed.stderr).toContain("invalid execution record")
      const failStatus = await runBin(["status", "--sink", `sqlite:${failDb}`, "--format", "json"], {})
      const afterFail = JSON.parse(failStatus.stdout) as { streams: Array<{ highWaterMark: string | null }> }
      expect(afterFail.streams.every((s) => s.highWaterMark === null)).toBe(true)

      const db = join(dir.path, "invalid-quarantine.db")
      const quarantined = await runBin(["run", "--sink", `sqlite:${db}`], simEnv(bad))
      expect(quarantined.code, quarantined.stderr).toBe(0)
      expect(quarantined.stderr).toMatch(/3 rejected/)
      const stored = await readSqlite(db)
      expect(stored.rejects).toBe(3)
      expect(stored.count).toBe(297)
      const status = await runBin(["status", "--sink", `sqlite:${db}`], {})
      expect(status.stdout).toContain("rejects   3")
    } finally {
      await bad.close()
    }
  })
})

describe("taskhistory-exporter exit codes", () => {
  it("invalid input exits 2 with one or two lines naming the value", async () => {
    const db = `sqlite:${join(dir.path, "x.db")}`
    const [sink, since, cron, both, lookback] = await Promise.all([
      runBin(["run", "--sink", "mysql://db/x"], simEnv(sim)),
      runBin(["run", "--since", "2026-13-45", "--sink", db], simEnv(sim)),
      runBin(["run", "--schedule", "61 * * * *", "--sink", db], simEnv(sim)),
      runBin(["run", "--once", "--every", "1m", "--sink", db], simEnv(sim)),
      runBin(["run", "--lookback", "a while", "--sink", db], simEnv(sim))
    ])
    for (const [r, value] of [
      [sink, "mysql://db/x"],
      [since, "2026-13-45"],
      [cron, "61 * * * *"],
      [both, "at most one"],
      [lookback, "a while"]
    ] as const) {
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(value)
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2)
      expect(r.stdout).toBe("")
    }
  })

  it("a refused key exits 3 and points at PARAGON_API_KEY, without printing the key", async () => {
    const wrongKey = "wrong-key-0123456789"
    const r = await runBin(
      ["run", "--once", "--sink", `sqlite:${join(dir.path, "auth.db")}`],
      simEnv(sim, { PARAGON_API_KEY: wrongKey })
    )
    expect(r.code).toBe(3)
    expect(r.stderr).toContain("PARAGON_API_KEY")
    expect(r.stderr).not.toContain(wrongKey)
  })

  it("an unreachable API or a sink that cannot be opened exits 6; a path under a file exits 2", async () => {
    const notADir = join(dir.path, "plain-file")
    writeFileSync(notADir, "")
    const [api, sink, under] = await Promise.all([
      runBin(
        ["run", "--max-retries", "0", "--sink", `sqlite:${join(dir.path, "down.db")}`],
        simEnv(sim, { PARAGON_BASE_URL: "http://127.0.0.1:9" })
      ),
      // The database path is a directory: SQLite cannot open it.
      runBin(["run", "--sink", `sqlite:${dir.path}`], simEnv(sim)),
      runBin(["run", "--sink", `sqlite:${join(notADir, "x.db")}`], simEnv(sim))
    ])
    expect(api.code, api.stderr).toBe(6)
    expect(api.stderr).toMatch(/connection refused|network/)
    expect(sink.code, sink.stderr).toBe(6)
    expect(sink.stderr).toContain(`sqlite:${dir.path}`)
    expect(sink.stderr).not.toContain("bug")
    expect(under.code, under.stderr).toBe(2)
    expect(under.stderr).toContain(`${notADir} is not a directory`)
  })

  it("--verbose logs debug lines on stderr, never the API key", async () => {
    const r = await runBin(
      ["run", "--verbose", "--status", "DELAYED", "--sink", `sqlite:${join(dir.path, "verbose.db")}`],
      simEnv(sim)
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain("level=DEBUG")
    expect(r.stderr + r.stdout).not.toContain(sim.apiKey)
  })

  it("--help exits 0 and says --once is the default", async () => {
    const r = await runBin(["run", "--help"], {})
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("--once")
    // Help is wrapped at 100 columns: read it as one line.
    expect(r.stdout.replace(/\s+/g, " ")).toMatch(/default when neither --schedule nor --every/)
  })
})
