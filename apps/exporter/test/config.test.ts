/**
 * `run --config FILE` through the built binary against simulators over HTTP: one process runs
 * every stream of the file on its own schedule with exact rows per project; streams of one key
 * share its budget (one limiter: no 429, never more than the limit in a window); an inline key,
 * an invalid field or a flag that conflicts with --config is exit 2 before any request.
 */
import { chmodSync } from "node:fs"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, readSqlite, runBin, spawnBin, tempDir, waitFor, writeIn } from "./utils/harness.js"

let alpha: RunningSimulator
let beta: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  alpha = await startSimulator({
    records: 400,
    seed: 51,
    projectId: "project-alpha",
    apiKey: "alpha-key-0123456789"
  })
  beta = await startSimulator({
    records: 300,
    seed: 52,
    projectId: "project-beta",
    apiKey: "beta-key-0123456789",
    rateLimit: "5/2s"
  })
})
afterEach(killAll)
afterAll(async () => {
  await alpha.close()
  await beta.close()
  dir.remove()
})

const file = writeIn(dir.path)

const env = { ALPHA_KEY: "alpha-key-0123456789" }

const exact = async (
  path: string,
  sim: RunningSimulator,
  filter?: (r: Record<string, unknown>) => boolean
) => {
  const expected = filter === undefined ? sim.dataset() : sim.dataset().filter(filter)
  const stored = await readSqlite(path).catch(() => undefined)
  return stored !== undefined && stored.count === expected.length && diff(stored.rows, expected).length === 0
}

describe("taskhistory-exporter run --config", () => {
  it("one process runs every stream on its own schedule; streams of one key share one limiter", async () => {
    const keyFile = file("beta.key", "beta-key-0123456789\n")
    chmodSync(keyFile, 0o600)
    const config = file(
      "streams.yaml",
      `streams:
  - name: alpha
    projectId: project-alpha
    apiKeyEnv: ALPHA_KEY
    baseUrl: ${alpha.url}
    rateLimit: 1000/1s
    sink: sqlite:./alpha.db
    every: 1s
  - name: beta-all
    projectId: project-beta
    apiKeyFile: ./beta.key
    baseUrl: ${beta.url}
    rateLimit: 5/2s
    sink: sqlite:./beta.db
    every: 1s
  - name: beta-failed
    projectId: project-beta
    apiKeyFile: beta.key
    baseUrl: ${beta.url}
    rateLimit: 5/2s
    sink: sqlite:./beta-failed.db
    schedule: "* * * * * *"
    filters: { status: FAILED }
`
    )
    const run = spawnBin(["run", "--config", config, "--metrics-port", "0", "--batch-size", "100"], env, {
      cwd: dir.path,
      timeoutMs: 180_000
    })
    const done = () =>
      Promise.all([
        exact(join(dir.path, "alpha.db"), alpha),
        exact(join(dir.path, "beta.db"), beta),
        exact(join(dir.path, "beta-failed.db"), beta, (r) => r.status === "FAILED")
      ]).then((all) => all.every(Boolean))
    expect(await waitFor(done, 150_000, 200), run.stderr()).toBe(true)
    // New executions reach every stream on its next run.
    alpha.insert(15)
    beta.insert(10)
    expect(await waitFor(done, 60_000, 200), run.stderr()).toBe(true)
    // One budget for the two streams of beta's key: never above it, never a 429.
    expect(beta.stats().rateLimited).toBe(0)
    expect(beta.stats().maxInWindow).toBeLessThanOrEqual(5)
    const address = /metrics on (http:\/\/\S+\/metrics)/.exec(run.stderr())?.[1]
    const metrics = await (await fetch(address!)).text()
    for (const name of ["alpha", "beta-all", "beta-failed"]) {
      expect(metrics).toMatch(
        new RegExp(`taskhistory_export_runs_total\\{stream="${name}",result="success"\\} [1-9]`)
      )
      expect(metrics).toMatch(new RegExp(`taskhistory_export_lag_seconds\\{stream="${name}"\\}`))
    }
    expect(metrics).toMatch(
      /taskhistory_api_requests_total\{operation="list",code="200",stream="beta-failed"\} [1-9]/
    )
    expect(run.stderr()).toMatch(/stream=beta-failed/)
    expect(run.stderr()).not.toContain("beta-key-0123456789")
    expect(run.stderr()).not.toContain("alpha-key-0123456789")
    run.child.kill("SIGTERM")
    expect((await run.done).code).toBe(0)
  }, 240_000)

  it("an inline key is refused (exit 2, one line naming file, line and field), nothing requested", async () => {
    const before = alpha.stats().requests
    const config = file(
      "inline.yaml",
      `streams:
  - name: alpha
    projectId: project-alpha
    apiKey: alpha-key-0123456789
    baseUrl: ${alpha.url}
    sink: sqlite:./inline.db
    every: 1s
`
    )
    const result = await runBin(["run", "--config", config], {}, { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain(`${config}:4 streams[0].apiKey holds an API key inline`)
    expect(result.stderr).not.toContain("alpha-key-0123456789")
    expect(alpha.stats().requests).toBe(before)
  })

  it("invalid fields and conflicting flags are exit 2 naming file, line and field, before any request", async () => {
    const before = alpha.stats().requests
    const base = `streams:
  - name: alpha
    projectId: project-alpha
    apiKeyEnv: ALPHA_KEY
    baseUrl: ${alpha.url}
    sink: sqlite:./bad.db
    every: 1s
`
    const cases: ReadonlyArray<[string, string]> = [
      [base.replace("every: 1s", "every: 1"), ":7 streams[0].every"],
      [base.replace("sink: sqlite:./bad.db", "sink: sqlite:./missing/bad.db"), ":6 streams[0].sink"],
      [base.replace("apiKeyEnv: ALPHA_KEY", "apiKeyEnv: NOT_SET_ANYWHERE"), ":4 streams[0].apiKeyEnv"],
      [base.replace("apiKeyEnv: ALPHA_KEY", "apiKeyFile: ./no-such.key"), ":4 streams[0].apiKeyFile"],
      [`${base}    colour: blue\n`, ":8 streams[0].colour"]
    ]
    for (const [i, [text, where]] of cases.entries()) {
      const config = file(`bad-${i}.yaml`, text)
      const result = await runBin(["run", "--config", config], env, { cwd: dir.path })
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toContain(`${config}${where}`)
    }
    const config = file("good.yaml", base)
    for (const flags of [
      ["--project-id", "x"],
      ["--sink", "sqlite:./other.db"],
      ["--every", "1m"],
      ["--status", "FAILED"]
    ]) {
      const result = await runBin(["run", "--config", config, ...flags], env, { cwd: dir.path })
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toContain(`${flags[0]} cannot be given with --config`)
    }
    expect(alpha.stats().requests).toBe(before)
  })
})
