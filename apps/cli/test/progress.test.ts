/**
 * End to end: the progress bar of the BUILT binary (dist/bin.js, run `pnpm build` first) on a real
 * terminal. util-linux `script` gives the command a pseudo-terminal (`script -qefc CMD /dev/null`):
 * stdout and stderr both go to it, so the cases that only want stderr on the terminal redirect
 * stdout to a file inside the command. The simulator answers with some latency so that a read
 * lasts about a second and the bar is drawn while it runs.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { bin, lines, simEnv } from "./utils/bin.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-progress-"))

const total = 1500
const clearLine = "\r\u001b[2K"
/** One drawing of the bar, with its count and total. */
const bar = /\[[#-]{24}\] (\d+)\/(\d+) executions, \d+\/s, ETA [^\r\n]+/g
/** Any progress text (with or without a total) or line clearing. */
const hasProgress = (text: string) => /executions, \d+\/s|ETA/.test(text) || text.includes("\u001b[2K")

let sim: RunningSimulator
const outputs: Array<string> = []

// `script` runs its command with $SHELL -c.
const envOf = (extra: Record<string, string> = {}) => simEnv(sim, { SHELL: "/bin/sh", ...extra })

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`

const dataset = () => sim.dataset() as unknown as ReadonlyArray<WorkflowExecution>

/** The dataset as `--all` prints it (newest first). */
const records = () => [...dataset()].reverse().map((r) => JSON.stringify(r))

const sortedIds = (ndjson: string) =>
  lines(ndjson)
    .map((l) => (JSON.parse(l) as { id: string }).id)
    .sort()

/** What a terminal shows for this output: `\r` returns to the start of the line, ESC[2K clears it. */
const screen = (pty: string): Array<string> =>
  pty.split("\n").map((line) => {
    let visible = ""
    for (const part of line.split("\r")) {
      const cleared = part.startsWith("\u001b[2K")
      const text = cleared ? part.slice(4) : part
      if (cleared) visible = ""
      visible = text + visible.slice(text.length)
    }
    return visible
  })

/** The drawings of the bar, in order. */
const bars = (pty: string) =>
  [...pty.matchAll(bar)].map((m) => ({ count: Number(m[1]), total: Number(m[2]) }))

interface PtyResult {
  readonly code: number | null
  /** Everything written to the terminal. */
  readonly pty: string
}

/**
 * Runs the binary with a pseudo-terminal, stdout redirected to `stdoutFile` when given.
 * `onOutput` sees the terminal output so far and may type into the terminal.
 */
const inPty = (
  args: ReadonlyArray<string>,
  options: {
    readonly stdoutFile?: string
    readonly onOutput?: (pty: string, type: (keys: string) => void) => void
  } = {}
): Promise<PtyResult> =>
  new Promise((resolve) => {
    const command = [process.execPath, bin, ...args].map(quote).join(" ")
    const child = spawn(
      "script",
      [
        "-qefc",
        options.stdoutFile === undefined ? command : `${command} > ${quote(options.stdoutFile)}`,
        "/dev/null"
      ],
      { env: envOf(), stdio: ["pipe", "pipe", "pipe"] }
    )
    let pty = ""
    const type = (keys: string) => child.stdin.write(keys)
    child.stdout.on("data", (b: Buffer) => {
      pty += b.toString("utf8")
      options.onOutput?.(pty, type)
    })
    child.stderr.on("data", (b: Buffer) => {
      pty += b.toString("utf8")
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      child.stdin.destroy()
      outputs.push(pty)
      resolve({ code, pty })
    })
  })

/** Runs the binary with plain pipes (no terminal anywhere). */
const piped = (
  args: ReadonlyArray<string>
): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: envOf(), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString("utf8")
    })
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString("utf8")
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      outputs.push(stdout, stderr)
      resolve({ code, stdout, stderr })
    })
  })

const scriptCheck = spawnSync("script", ["--version"], { encoding: "utf8" })
const hasScript = scriptCheck.status === 0 && /util-linux/.test(`${scriptCheck.stdout}${scriptCheck.stderr}`)

describe("progress bar", () => {
  if (!hasScript) {
    it("is skipped: these tests need util-linux `script` on PATH (e.g. apt-get install bsdutils) for a pseudo-terminal", () => {
      console.warn("cli progress tests skipped: util-linux `script` is not on PATH")
    })
    return
  }

  beforeAll(async () => {
    sim = await startSimulator({ records: total, seed: 31, latency: 150 })
    expect(dataset().length).toBe(total)
  })

  afterAll(async () => {
    await sim?.close()
    // The API key never reaches the terminal, stdout or stderr.
    for (const text of outputs) expect(text).not.toContain(sim.apiKey)
    rmSync(dir, { recursive: true, force: true })
  })

  it("draws count/total, rate and ETA on a terminal while reading, and clears the bar at the end", async () => {
    const file = join(dir, "tty.ndjson")
    const { code, pty } = await inPty(["executions", "list", "--all", "--format", "ndjson"], {
      stdoutFile: file
    })
    expect(code).toBe(0)
    const drawn = bars(pty)
    expect(drawn.length).toBeGreaterThanOrEqual(1)
    expect(pty).toContain(`/${total} executions`)
    expect(pty).toContain("ETA")
    expect(pty).toContain(clearLine)
    for (const d of drawn) {
      expect(d.total).toBe(total)
      expect(d.count).toBeLessThanOrEqual(total)
    }
    // Drawn during the read, not only at its end, and never going back.
    expect(drawn[0]!.count).toBeLessThan(total)
    expect(drawn.map((d) => d.count)).toEqual([...drawn.map((d) => d.count)].sort((a, b) => a - b))
    // Every drawing starts by clearing the line, and the last thing written is a clear.
    expect(
      pty
        .split(clearLine)
        .slice(1)
        .every((s) => s === "" || s.startsWith("["))
    ).toBe(true)
    expect(pty.endsWith(clearLine)).toBe(true)
    expect(screen(pty).at(-1)).toBe("")
    // The records are all in the file, once each.
    const ndjson = readFileSync(file, "utf8")
    expect(lines(ndjson)).toEqual(records())
    expect(sortedIds(ndjson)).toEqual(
      dataset()
        .map((r) => r.id)
        .sort()
    )
  })

  it("draws nothing with --quiet, even on a terminal", async () => {
    const file = join(dir, "quiet.ndjson")
    const { code, pty } = await inPty(["executions", "list", "--all", "--quiet", "--format", "ndjson"], {
      stdoutFile: file
    })
    expect(code).toBe(0)
    expect(hasProgress(pty)).toBe(false)
    expect(pty).not.toContain("executions")
    expect(pty.trim()).toBe("")
    expect(lines(readFileSync(file, "utf8"))).toEqual(records())
  })

  it("draws nothing when stderr is not a terminal", async () => {
    const { code, stdout, stderr } = await piped(["executions", "list", "--all", "--format", "ndjson"])
    expect(code).toBe(0)
    expect(hasProgress(stderr)).toBe(false)
    expect(stderr).toBe("")
    expect(lines(stdout)).toEqual(records())
  })

  it("keeps the bar off the rows when stdout is the same terminal", async () => {
    // ndjson: each write ends a line, the bar is cleared before it and drawn again below it.
    const ndjson = await inPty(["executions", "list", "--all", "--format", "ndjson"])
    expect(ndjson.code).toBe(0)
    expect(bars(ndjson.pty).length).toBeGreaterThanOrEqual(1)
    expect(screen(ndjson.pty)).toEqual([...records(), ""])
    // json: writes leave the last record's line open; the bar must not erase it.
    const json = await inPty(["executions", "list", "--all", "--format", "json"])
    expect(json.code).toBe(0)
    expect(json.pty).toContain(`/${total} executions`)
    const shown = screen(json.pty)
    expect(shown.at(-1)).toBe("")
    expect(JSON.parse(shown.join("\n"))).toEqual(JSON.parse(JSON.stringify([...dataset()].reverse())))
  })

  it("clears the bar when Ctrl-C stops a read (usage)", async () => {
    let typed = false
    // The rate limit lets the first page through, then the rest would wait 10 minutes.
    const { code, pty } = await inPty(["usage", "--by", "status", "--rate-limit", "2/10m"], {
      onOutput: (text, type) => {
        if (!typed && bars(text).length > 0) {
          typed = true
          type("\u0003")
        }
      }
    })
    expect(typed).toBe(true)
    expect(code).toBe(130)
    const first = bars(pty)[0]!
    expect(first.total).toBe(total)
    expect(first.count).toBeGreaterThan(0)
    expect(first.count).toBeLessThan(total)
    // The terminal echoes ^C after the bar; then the bar is cleared.
    expect(pty.endsWith(clearLine)).toBe(true)
    expect(screen(pty).at(-1)).toBe("")
  })
})
