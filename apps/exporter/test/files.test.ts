/**
 * Private files: what the BUILT `taskhistory-exporter` creates (the SQLite database with its
 * `-wal`, `-shm` and `.lock`, file-sink directories, day files, `_state.json`, `_rejects.ndjson`,
 * the `--report` HTML) is owner-only by default (files 0600, directories 0700), whatever
 * the umask it was started with; `--umask 027` (or `TASKHISTORY_UMASK`) gives the group read.
 * The real files are stat'ed.
 */
import { mkdirSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { killAll, runBin, simEnv, spawnBin, tempDir, waitFor } from "./utils/harness.js"

const tmp = tempDir()
let sim: RunningSimulator

beforeAll(async () => {
  // Malformed records, so that the rejects are written too.
  sim = await startSimulator({ records: 300, seed: 5, malformed: 3 })
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  tmp.remove()
})

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(3, "0")

/** Every path under `dir` (itself included) with its mode, directories marked with a `/`. */
const modes = (dir: string): Record<string, string> => {
  const out: Record<string, string> = { "./": mode(dir) }
  const walk = (at: string, rel: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      const name = `${rel}${entry.name}${entry.isDirectory() ? "/" : ""}`
      out[name] = mode(path)
      if (entry.isDirectory()) walk(path, name)
    }
  }
  walk(dir, "")
  return out
}

const expectModes = (found: Record<string, string>, file: string, directory: string) => {
  for (const [name, m] of Object.entries(found)) {
    expect(`${name} ${m}`).toBe(`${name} ${name.endsWith("/") ? directory : file}`)
  }
}

describe("taskhistory-exporter: the files it creates are private", () => {
  it("SQLite: the database, -wal, -shm, .lock and the report are 0600 while it runs", async () => {
    const dir = join(tmp.path, "sqlite-default")
    mkdirSync(dir, { mode: 0o755 })
    // Started under a permissive umask (the child inherits it), as from a shell with `umask 000`.
    const previous = process.umask(0)
    let running: ReturnType<typeof spawnBin>
    try {
      running = spawnBin(
        ["run", "--every", "1h", "--sink", `sqlite:${dir}/x.db`, "--report", `${dir}/report.html`],
        simEnv(sim)
      )
    } finally {
      process.umask(previous)
    }
    expect(
      await waitFor(() => running.stderr().includes("report written"), 60_000, 50),
      running.stderr()
    ).toBe(true)
    const found = modes(dir)
    expect(Object.keys(found).sort()).toEqual(
      ["./", "report.html", "x.db", "x.db-shm", "x.db-wal", "x.db.lock"].sort()
    )
    // The directory was made by the test (0755); everything in it by the exporter.
    delete found["./"]
    expectModes(found, "600", "700")
    running.child.kill("SIGTERM")
    expect((await running.done).code).toBe(0)
  })

  it("file sinks: directories 0700; day files, _state.json and _rejects.ndjson 0600", async () => {
    for (const format of ["ndjson", "csv", "parquet"]) {
      const dir = join(tmp.path, `files-${format}`, "nested")
      const r = await runBin(["run", "--once", "--sink", `${format}:${dir}`], simEnv(sim))
      expect(r.code, r.stderr).toBe(0)
      const found = { ...modes(join(tmp.path, `files-${format}`)) }
      expect(Object.keys(found)).toContain("nested/_state.json")
      expect(Object.keys(found)).toContain("nested/_rejects.ndjson")
      expect(Object.keys(found).some((k) => /^nested\/date=[0-9-]+\/$/.test(k))).toBe(true)
      expectModes(found, "600", "700")
    }
  })

  it("--umask 027 (or TASKHISTORY_UMASK) gives the group read: files 0640, directories 0750", async () => {
    const flag = join(tmp.path, "umask-flag")
    const r = await runBin(["run", "--once", "--umask", "027", "--sink", `ndjson:${flag}`], simEnv(sim))
    expect(r.code, r.stderr).toBe(0)
    expectModes(modes(flag), "640", "750")
    const env = join(tmp.path, "umask-env")
    mkdirSync(env)
    const e = await runBin(
      ["run", "--once", "--sink", `sqlite:${env}/x.db`, "--report", `${env}/r.html`],
      simEnv(sim, { TASKHISTORY_UMASK: "0027" })
    )
    expect(e.code, e.stderr).toBe(0)
    const found = modes(env)
    delete found["./"]
    expect(Object.keys(found).sort()).toEqual(["r.html", "x.db"])
    expectModes(found, "640", "750")
  })

  it("a bad --umask is exit 2 naming it, before any file", async () => {
    for (const [value, text] of [
      ["rw", "an octal umask"],
      ["888", "an octal umask"],
      ["0777", "a umask that leaves the owner"]
    ] as const) {
      const dir = join(tmp.path, `bad-umask-${value}`)
      const r = await runBin(["run", "--once", "--umask", value, "--sink", `ndjson:${dir}`], simEnv(sim))
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(`invalid --umask ${JSON.stringify(value)}: expected ${text}`)
      expect(() => statSync(dir)).toThrow()
    }
  })
})
