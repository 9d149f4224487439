/**
 * Private files: what the BUILT `taskhistory` creates (the `report --output` HTML, the bulk
 * replay `--log`) is owner-only (0600) whatever the umask it was started with; `--umask 027` (or
 * `TASKHISTORY_UMASK`) gives the group read (0640). The real files are stat'ed.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { run as runBin, simEnv } from "./utils/bin.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-cli-files-"))
let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ records: 120, seed: 8 })
})
afterAll(async () => {
  await sim.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Runs the binary under umask 000 (the child inherits it), as from a permissive shell. */
const run = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) => {
  const previous = process.umask(0)
  try {
    return runBin(args, simEnv(sim, extra), { timeoutMs: 120_000 })
  } finally {
    process.umask(previous)
  }
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8)

describe("taskhistory: the files it creates are private", () => {
  it("report --output and replay --log are 0600; --umask 027 or TASKHISTORY_UMASK make them 0640", async () => {
    const report = join(dir, "report.html")
    const r = await run(["report", "--output", report])
    expect(r.code, r.stderr).toBe(0)
    expect(mode(report)).toBe("600")
    const log = join(dir, "replay.log")
    const l = await run(["executions", "replay", "--status", "FAILED", "--yes", "--log", log])
    expect(l.code, l.stderr).toBe(0)
    expect(mode(log)).toBe("600")

    const shared = join(dir, "shared.html")
    const s = await run(["report", "--output", shared, "--umask", "027"])
    expect(s.code, s.stderr).toBe(0)
    expect(mode(shared)).toBe("640")
    const sharedLog = join(dir, "shared.log")
    const sl = await run(["executions", "replay", "--status", "FAILED", "--yes", "--log", sharedLog], {
      TASKHISTORY_UMASK: "027"
    })
    expect(sl.code, sl.stderr).toBe(0)
    expect(mode(sharedLog)).toBe("640")
  })

  it("a bad --umask is exit 2 naming it, and writes nothing", async () => {
    const out = join(dir, "never.html")
    const r = await run(["report", "--output", out, "--umask", "0700"])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('invalid --umask "0700"')
    expect(() => statSync(out)).toThrow()
  })
})
