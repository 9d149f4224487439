// Postgres credentials as libpq takes them, on the built binaries: the password from PGPASSWORD,
// from a password file (PGPASSFILE, ignored when others can read it), from --sink-file, or in
// the URL; host, port, database and user from PGHOST, PGPORT, PGDATABASE, PGUSER. The real
// Postgres of the tests trusts local connections, so it sits behind a gate that asks for a
// password (./utils/pgGate.ts) and hands the connection over only for the right one. A password
// never shows in anything printed.
import { chmodSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { killAll, type Result, runBin, simEnv, tempDir } from "./utils/harness.js"
import { pgUrl, withPg } from "./utils/pg.js"
import { type Gate, startGate } from "./utils/pgGate.js"

const url = pgUrl
const cliBin = fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url))

if (url === undefined || url === "") {
  describe("Postgres credentials from libpq's environment", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("exporter Postgres credential tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  const real = new URL(url)
  const user = decodeURIComponent(real.username) || "postgres"
  const database = decodeURIComponent(real.pathname.slice(1)) || user
  const password = "gate-s3cr3t-Pw"
  const schema = `th_creds_${process.pid}_${Date.now().toString(36)}`
  const dir = tempDir()
  let sim: RunningSimulator
  let gate: Gate

  beforeAll(async () => {
    sim = await startSimulator({ records: 300, seed: 31 })
    gate = await startGate({
      user,
      password,
      upstream: { host: real.hostname || "127.0.0.1", port: Number(real.port || 5432) }
    })
  })
  afterEach(killAll)
  afterAll(async () => {
    await gate.close()
    await sim.close()
    await withPg((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
    dir.remove()
  })

  /** No libpq variable from the test's own environment, and no ~/.pgpass of the machine. */
  const pgEnv = (extra: Record<string, string> = {}) =>
    simEnv(sim, { HOME: dir.path, PGPASSFILE: join(dir.path, "none"), ...extra })
  const gateUrl = (auth = "") => `postgres://${auth}127.0.0.1:${gate.port}/${database}?schema=${schema}`

  const expectClean = (result: Result, ...secrets: Array<string>) => {
    for (const secret of [password, ...secrets]) {
      expect(result.stdout).not.toContain(secret)
      expect(result.stderr).not.toContain(secret)
    }
  }

  const rows = () =>
    withPg((sql) =>
      sql.unsafe<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.workflow_executions`)
    ).then((r) => Number(r[0]?.n))

  describe("Postgres credentials from libpq's environment", () => {
    it("takes the password from PGPASSWORD and the user from PGUSER", async () => {
      const before = gate.attempts.length
      const result = await runBin(
        ["run", "--once", "--sink", gateUrl()],
        pgEnv({ PGUSER: user, PGPASSWORD: password }),
        { timeoutMs: 120_000 }
      )
      expect(result.code, result.stderr).toBe(0)
      expectClean(result)
      expect(await rows()).toBe(300)
      const sent = gate.attempts.slice(before)
      expect(sent.length).toBeGreaterThan(0)
      expect(sent.every((a) => a.password === password && a.user === user && a.database === database)).toBe(
        true
      )
    }, 150_000)

    it("takes host, port, database, user and password from PG* when the URL is just postgres://", async () => {
      const result = await runBin(
        ["status", "--sink", `postgres://?schema=${schema}`, "--format", "json"],
        pgEnv({
          PGHOST: "127.0.0.1",
          PGPORT: String(gate.port),
          PGDATABASE: database,
          PGUSER: user,
          PGPASSWORD: password
        })
      )
      expect(result.code, result.stderr).toBe(0)
      expectClean(result)
      expect((JSON.parse(result.stdout) as { rows: number }).rows).toBe(300)
    }, 60_000)

    it("reads the password from PGPASSFILE (0600), and ignores one that others can read", async () => {
      const file = join(dir.path, "pgpass")
      writeFileSync(
        file,
        `# host:port:database:user:password\nother.host:5432:*:*:wrong\n127.0.0.1:${gate.port}:*:${user}:${password.replace(/:/g, "\\:")}\n`
      )
      chmodSync(file, 0o600)
      const ok = await runBin(["status", "--sink", gateUrl(`${user}@`)], pgEnv({ PGPASSFILE: file }))
      expect(ok.code, ok.stderr).toBe(0)
      expectClean(ok)
      expect(ok.stdout).toMatch(/300/)

      chmodSync(file, 0o644)
      const ignored = await runBin(["status", "--sink", gateUrl(`${user}@`)], pgEnv({ PGPASSFILE: file }))
      expect(ignored.code).toBe(6)
      expectClean(ignored)
      expect(ignored.stderr).toContain(`password file ${file} has group or world access: ignored`)
      expect(ignored.stderr).toMatch(/^error: .*no password was given: set PGPASSWORD/m)
    }, 60_000)

    it("reads the sink from --sink-file, and never prints its password", async () => {
      const file = join(dir.path, "sink")
      writeFileSync(file, `# the exporter's sink\n${gateUrl(`${user}:${encodeURIComponent(password)}@`)}\n`)
      const run = await runBin(["run", "--once", "--sink-file", file, "--verbose"], pgEnv(), {
        timeoutMs: 120_000
      })
      expect(run.code, run.stderr).toBe(0)
      expectClean(run)
      expect(run.stderr).toMatch(/exporting to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/)
      const status = await runBin(["status", "--sink-file", file], pgEnv())
      expect(status.code, status.stderr).toBe(0)
      expectClean(status)
      expect(status.stdout).toContain(`postgres://${user}:***@127.0.0.1:${gate.port}`)

      // alerts check reads the same file (the gate lets it in with the file's password only).
      const rules = join(dir.path, "alerts.yml")
      writeFileSync(
        rules,
        "webhooks:\n  - name: ops\n    url: http://127.0.0.1:9/hook\nrules:\n  - name: any-failure\n    by: all\n    failures: 0\n    window: 100d\n    notify: [ops]\n"
      )
      const check = await runBin(
        ["alerts", "check", "--alerts", rules, "--sink-file", file, "--verbose"],
        pgEnv()
      )
      expect(check.code, check.stderr).toBe(0)
      expectClean(check)
      expect(check.stdout).toContain("Rules evaluated up to")
      const checkBoth = await runBin(
        ["alerts", "check", "--alerts", rules, "--sink-file", file, "--sink", "sqlite:x.db"],
        pgEnv()
      )
      expect(checkBoth.code).toBe(2)
      expect(checkBoth.stderr).toMatch(/^error: .*--sink-file/m)

      const both = await runBin(["status", "--sink-file", file, "--sink", "sqlite:x.db"], pgEnv())
      expect(both.code).toBe(2)
      expect(both.stderr).toMatch(/^error: .*--sink-file/m)
      const two = join(dir.path, "two")
      writeFileSync(two, "sqlite:a.db\nsqlite:b.db\n")
      const twoLines = await runBin(["status", "--sink-file", two], pgEnv())
      expect(twoLines.code).toBe(2)
      expect(twoLines.stderr).toContain("one sink on one line")
      const missing = await runBin(["status", "--sink-file", join(dir.path, "nope")], pgEnv())
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("--sink-file")
    }, 200_000)

    it("a wrong password is exit 6 saying where it came from, never what it was", async () => {
      const wrong = "Wr0ng-Pa55word-xyz"
      const fromUrl = await runBin(
        ["status", "--sink", gateUrl(`${user}:${wrong}@`), "--verbose"],
        pgEnv({ PGPASSWORD: "not-this-one-either" })
      )
      expect(fromUrl.code).toBe(6)
      expectClean(fromUrl, wrong, "not-this-one-either")
      expect(fromUrl.stderr).toContain(`password authentication failed for user "${user}"`)
      expect(fromUrl.stderr).toContain("the password came from the URL")

      const fromEnv = await runBin(["status", "--sink", gateUrl(`${user}@`)], pgEnv({ PGPASSWORD: wrong }))
      expect(fromEnv.code).toBe(6)
      expectClean(fromEnv, wrong)
      expect(fromEnv.stderr).toContain("the password came from PGPASSWORD")
    }, 60_000)

    it("taskhistory usage --source postgres://... reads the export with PGPASSWORD", async () => {
      const result = await runBin(
        ["usage", "--by", "status", "--source", gateUrl(`${user}@`), "--format", "json"],
        pgEnv({ PGPASSWORD: password }),
        { bin: cliBin }
      )
      expect(result.code, result.stderr).toBe(0)
      expectClean(result)
      expect(result.stdout).toMatch(/SUCCEEDED/)
    }, 60_000)
  })
}
