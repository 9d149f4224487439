/**
 * `status --config FILE` through the built binary: every stream of the file the exporter runs
 * (`run --config`), on a real SQLite file and a real Postgres schema written by a running
 * replica, one block (table) or one object (json) per stream with its sink's counts, its state
 * and its leader; streams whose sink does not exist yet shown as not exported (and their sinks
 * not created); the keys not needed, an inline key refused, an unreachable database the exit
 * code of `status --sink`, and `--config` beside `--sink`/`--sink-file` refused naming both.
 */
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { diff, killAll, readSqlite, runBin, spawnBin, tempDir, waitFor, writeIn } from "./utils/harness.js"
import { pgUrl, schemas, sinkOf, withPg } from "./utils/pg.js"

const dir = tempDir()
afterEach(killAll)
afterAll(() => dir.remove())

const file = writeIn(dir.path)

/** A port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

interface StreamDoc {
  name: string
  projectId: string
  exported: boolean
  sink: string
  rows: number
  rejects: number
  streams: Array<{
    streamKey: string
    lastRunAt: string | null
    highWaterMark: string | null
    leaders: Array<{ leader: string | null; expiresAt: string }>
  }>
  leases: Array<{ stream: string; leader: string | null; expiresAt: string; expired: boolean }>
}

describe("taskhistory-exporter status --config: checked as run --config checks it", () => {
  it("--config with --sink or --sink-file is exit 2 naming both; an inline key is refused; no key is needed", async () => {
    const config = file(
      "plain.yaml",
      `streams:
  - name: prod
    projectId: project-prod
    apiKeyEnv: PROD_KEY_NOT_SET
    sink: sqlite:./never.db
    every: 1m
  - name: eu
    projectId: project-eu
    apiKeyFile: ./no-such.key
    sink: ndjson:./never-dir
    schedule: "0 * * * *"
`
    )
    for (const [flags, named] of [
      [["--sink", "sqlite:./x.db"], "--config and --sink"],
      [["--sink-file", join(dir.path, "sink.txt")], "--config and --sink-file"]
    ] as const) {
      const result = await runBin(["status", "--config", config, ...flags], {}, { cwd: dir.path })
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).toContain(`${named} cannot be given together`)
    }
    // Neither key variable nor key file exists: status reads no key.
    const shown = await runBin(["status", "--config", config, "--format", "json"], {}, { cwd: dir.path })
    expect(shown.code, shown.stderr).toBe(0)
    const parsed = JSON.parse(shown.stdout) as { streams: Array<StreamDoc> }
    expect(parsed.streams.map((s) => [s.name, s.exported, s.rows])).toEqual([
      ["prod", false, 0],
      ["eu", false, 0]
    ])

    const inline = file(
      "inline.yaml",
      `streams:
  - name: prod
    projectId: project-prod
    apiKey: prod-key-0123456789
    sink: sqlite:./never.db
    every: 1m
`
    )
    for (const command of ["run", "status"]) {
      const result = await runBin([command, "--config", inline], {}, { cwd: dir.path })
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).toContain(`${inline}:4 streams[0].apiKey holds an API key inline`)
      expect(result.stderr).not.toContain("prod-key-0123456789")
    }
    // A bad field: the same one-line error as run --config.
    const bad = file("bad.yaml", readFileSync(config, "utf8").replace("every: 1m", "every: 1"))
    const run = await runBin(
      ["run", "--config", bad],
      { PROD_KEY_NOT_SET: "k-0123456789" },
      { cwd: dir.path }
    )
    const status = await runBin(["status", "--config", bad], {}, { cwd: dir.path })
    expect(status.code).toBe(2)
    expect(run.code).toBe(2)
    expect(status.stderr).toContain(`${bad}:6 streams[0].every`)
    expect(status.stderr).toBe(run.stderr)
  })
})

if (pgUrl === undefined) {
  describe("taskhistory-exporter status --config on Postgres", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("exporter status --config Postgres tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  const url: string = pgUrl
  const made = schemas("cfgstatus")
  let alpha: RunningSimulator
  let beta: RunningSimulator
  beforeAll(async () => {
    alpha = await startSimulator({
      records: 300,
      seed: 71,
      projectId: "project-alpha",
      apiKey: "alpha-key-0123456789"
    })
    beta = await startSimulator({
      records: 250,
      seed: 72,
      projectId: "project-beta",
      apiKey: "beta-key-0123456789"
    })
  })
  afterAll(async () => {
    await alpha.close()
    await beta.close()
    await made.dropAll()
  })

  describe("taskhistory-exporter status --config on SQLite and Postgres", () => {
    it("one block per stream: counts, state, leader of the Postgres streams; sinks not there yet shown, not created", async () => {
      const betaSchema = made.next()
      const missingSchema = made.next()
      // A password in the URL (the test database trusts local connections): never printed.
      const withPassword = new URL(url)
      withPassword.username = withPassword.username || "postgres"
      withPassword.password = "pw-never-shown-42"
      const betaSink = sinkOf(betaSchema, withPassword.toString())
      const streams = `streams:
  - name: alpha
    projectId: project-alpha
    apiKeyEnv: ALPHA_KEY
    baseUrl: ${alpha.url}
    rateLimit: 100000/1s
    sink: sqlite:./alpha.db
    every: 1s
  - name: beta
    projectId: project-beta
    apiKeyEnv: BETA_KEY
    baseUrl: ${beta.url}
    rateLimit: 100000/1s
    sink: ${betaSink}
    every: 1s
  - name: beta-failed
    projectId: project-beta
    apiKeyEnv: BETA_KEY
    baseUrl: ${beta.url}
    rateLimit: 100000/1s
    sink: ${betaSink}
    every: 1s
    filters: { status: FAILED }
`
      const running = file("running.yaml", streams)
      // The same streams and two more, whose sinks nobody wrote yet.
      const all = file(
        "all.yaml",
        `${streams}  - name: later
    projectId: project-later
    apiKeyFile: ./later.key
    sink: sqlite:./later.db
    every: 1h
  - name: eu-later
    projectId: project-eu
    apiKeyEnv: EU_KEY
    sink: ${sinkOf(missingSchema, withPassword.toString())}
    schedule: "0 * * * *"
`
      )
      const run = spawnBin(
        ["run", "--config", running, "--lease", "3s", "--lease-check", "1s", "--batch-size", "100"],
        { ALPHA_KEY: "alpha-key-0123456789", BETA_KEY: "beta-key-0123456789" },
        { cwd: dir.path, timeoutMs: 240_000 }
      )
      const betaRows = () =>
        withPg((sql) =>
          sql.unsafe<{ id: string; raw: string }>(`SELECT id, raw FROM ${betaSchema}.workflow_executions`)
        )
          .then((rows) => new Map(rows.map((r) => [r.id, JSON.parse(r.raw) as unknown])))
          .catch(() => new Map<string, unknown>())
      const leases = () =>
        withPg((sql) =>
          sql.unsafe<{ stream: string; holder: string | null }>(
            `SELECT stream, holder FROM ${betaSchema}.export_leases ORDER BY stream`
          )
        ).catch(() => [])
      const done = async () => {
        const a = await readSqlite(join(dir.path, "alpha.db")).catch(() => undefined)
        const b = await betaRows()
        const held = await leases()
        const states = await withPg((sql) =>
          sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${betaSchema}.export_state`)
        ).catch(() => [{ n: 0 }])
        return (
          a !== undefined &&
          a.count === alpha.dataset().length &&
          diff(a.rows, alpha.dataset()).length === 0 &&
          b.size === beta.dataset().length &&
          diff(b, beta.dataset()).length === 0 &&
          held.length === 2 &&
          held.every((l) => l.holder !== null) &&
          (states[0]?.n ?? 0) === 2
        )
      }
      expect(await waitFor(done, 150_000, 200), run.stderr()).toBe(true)
      const held = new Map((await leases()).map((l) => [l.stream, l.holder]))

      // No key in the environment of status.
      const json = await runBin(["status", "--config", all, "--format", "json"], {}, { cwd: dir.path })
      expect(json.code, json.stderr).toBe(0)
      const parsed = JSON.parse(json.stdout) as { streams: Array<StreamDoc> }
      expect(parsed.streams.map((s) => s.name)).toEqual(["alpha", "beta", "beta-failed", "later", "eu-later"])
      const [a, b, bf, later, eu] = parsed.streams as [StreamDoc, StreamDoc, StreamDoc, StreamDoc, StreamDoc]
      expect(a).toMatchObject({
        projectId: "project-alpha",
        exported: true,
        sink: `sqlite:${join(dir.path, "alpha.db")}`,
        rows: alpha.dataset().length,
        rejects: 0,
        leases: []
      })
      expect(a.streams.map((s) => s.streamKey)).toEqual(["all"])
      expect(a.streams[0]?.highWaterMark).not.toBeNull()
      expect(a.streams[0]?.lastRunAt).not.toBeNull()
      // Rows and rejects are the sink's (shared by the two beta streams); states and leases each stream's own.
      for (const [doc, key] of [
        [b, "all"],
        [bf, "status=FAILED"]
      ] as const) {
        expect(doc.exported).toBe(true)
        expect(doc.rows).toBe(beta.dataset().length)
        expect(doc.rejects).toBe(0)
        expect(doc.sink).toContain(`(schema ${betaSchema})`)
        expect(doc.streams.map((s) => s.streamKey)).toEqual([key])
        expect(doc.streams[0]?.lastRunAt).not.toBeNull()
        expect(doc.leases.map((l) => l.stream)).toEqual([`project-beta/${key}`])
        expect(doc.leases[0]?.leader).toBe(held.get(`project-beta/${key}`))
        expect(doc.streams[0]?.leaders.map((l) => l.leader)).toEqual([held.get(`project-beta/${key}`)])
        expect(Date.parse(doc.leases[0]!.expiresAt)).toBeGreaterThan(0)
      }
      for (const doc of [later, eu]) {
        expect(doc).toMatchObject({ exported: false, rows: 0, rejects: 0, streams: [], leases: [] })
      }
      expect(eu.sink).toContain(`(schema ${missingSchema})`)

      const table = await runBin(["status", "--config", all], {}, { cwd: dir.path })
      expect(table.code, table.stderr).toBe(0)
      const blocks = table.stdout.trimEnd().split("\n\n")
      expect(blocks.map((block) => block.split("\n")[0])).toEqual([
        "stream alpha",
        "stream beta",
        "stream beta-failed",
        "stream later",
        "stream eu-later"
      ])
      expect(blocks[0]).toContain(`  rows               ${alpha.dataset().length}\n`)
      expect(blocks[0]).toMatch(/ {2}last run {11}20\d\d-/)
      expect(blocks[0]).toMatch(/ {2}high-water mark {4}20\d\d-/)
      expect(blocks[1]).toContain(
        `  rows               ${beta.dataset().length} (the sink's, shared with beta-failed)`
      )
      expect(blocks[1]).toContain(`  leader             ${held.get("project-beta/all")} (lease token`)
      expect(blocks[2]).toContain(
        `  leader             ${held.get("project-beta/status=FAILED")} (lease token`
      )
      expect(blocks[2]).toContain("  filters            status=FAILED")
      expect(blocks[3]).toContain("not exported yet")
      expect(blocks[4]).toContain("not exported yet")
      for (const text of [json.stdout, json.stderr, table.stdout, table.stderr]) {
        expect(text).not.toContain("pw-never-shown-42")
      }
      // Looking did not create the sinks that were not there.
      const created = await withPg((sql) =>
        sql.unsafe<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = '${missingSchema}'`
        )
      )
      expect(created[0]?.n).toBe(0)
      expect(existsSync(join(dir.path, "later.db"))).toBe(false)

      run.child.kill("SIGTERM")
      expect((await run.done).code).toBe(0)
    }, 240_000)

    it("an unreachable database is the exit code of status --sink, naming the stream", async () => {
      const port = await closedPort()
      const unreachable = `postgres://postgres@127.0.0.1:${port}/test`
      const config = file(
        "unreachable.yaml",
        `streams:
  - name: down
    projectId: project-down
    apiKeyEnv: DOWN_KEY
    sink: ${unreachable}?schema=anything
    every: 1m
`
      )
      const single = await runBin(["status", "--sink", unreachable], {}, { cwd: dir.path })
      const result = await runBin(["status", "--config", config], {}, { cwd: dir.path })
      expect(single.code).toBe(6)
      expect(result.code, result.stderr).toBe(single.code)
      expect(result.stderr).toContain("stream down: ")
      expect(result.stderr).toContain(`127.0.0.1:${port}`)
      expect(result.stdout).toBe("")
    }, 60_000)
  })
}
