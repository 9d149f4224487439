/**
 * The regression suite of hostile servers and bad inputs on the BUILT `taskhistory-exporter`
 * (`run --once`): the right exit code within a generous time bound, one clear line on stderr,
 * a handful of requests rather than the key's budget, no form of the key in any output.
 */
import { existsSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { afterAll, afterEach, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import type { FaultMode } from "@taskhistory/simulator/Simulator"
import { killAll, type Result, runBin, simEnv, tempDir } from "./utils/harness.js"

const KEY = 'sk_live_"exporter\\key/+=%41'
const tmp = tempDir()
const sims: Array<RunningSimulator> = []
afterEach(killAll)
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()))
  tmp.remove()
})

let n = 0
const sink = () => `sqlite:${join(tmp.path, `hostile-${++n}.db`)}`

const simulator = async (fault: FaultMode | undefined, extra: Parameters<typeof startSimulator>[0] = {}) => {
  const sim = await startSimulator({ records: 600, seed: 9, apiKey: KEY, ...extra })
  if (fault !== undefined) await sim.configure({ fault })
  sims.push(sim)
  return sim
}

const timed = async (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const started = Date.now()
  const result = await runBin(args, env, { timeoutMs: 120_000 })
  return { ...result, ms: Date.now() - started }
}

const expectClean = (result: Result) => {
  for (const text of [result.stdout, result.stderr]) {
    for (const form of [
      KEY,
      JSON.stringify(KEY).slice(1, -1),
      encodeURIComponent(KEY),
      Buffer.from(`Bearer ${KEY}`).toString("base64")
    ]) {
      expect(text).not.toContain(form)
    }
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters must not reach stderr
  expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
}

const errorLine = (result: Result) => {
  const errors = result.stderr.split("\n").filter((l) => l.startsWith("error:"))
  expect(errors).toHaveLength(1)
  return errors[0] as string
}

describe("taskhistory-exporter run --once against hostile servers", () => {
  it("ignore-offset while one instant holds more than a page: exit 6, not the key's budget", async () => {
    const at = new Date(Date.now() - 2 * 86_400_000).toISOString()
    const sim = await simulator("ignore-offset", { churn: { sameStartDate: { count: 250, date: at } } })
    const r = await timed(["run", "--once", "--sink", sink()], simEnv(sim))
    expect(r.code).toBe(6)
    expect(errorLine(r)).toContain("the server's answers bring nothing new")
    expect(sim.stats().requests).toBeLessThan(40)
    expect(r.ms).toBeLessThan(60_000)
    expectClean(r)
  })

  it("ignore-dates: exit 6 after a handful of wasted requests", async () => {
    const sim = await simulator("ignore-dates", { records: 3000 })
    const r = await timed(["run", "--once", "--sink", sink()], simEnv(sim))
    expect(r.code).toBe(6)
    expect(sim.stats().requests).toBeLessThan(40)
    expectClean(r)
  })

  it("Retry-After 999999: exit 5 quoting it; a 600 MB page: exit 6 'response too large'", async () => {
    const huge = await simulator("retry-after-huge")
    const r5 = await timed(["run", "--once", "--sink", sink()], simEnv(huge))
    expect(r5.code).toBe(5)
    expect(errorLine(r5)).toContain('Retry-After: "999999"')
    expectClean(r5)
    const page = await simulator("huge-page")
    const r6 = await timed(["run", "--once", "--sink", sink()], simEnv(page))
    expect(r6.code).toBe(6)
    expect(errorLine(r6)).toContain("response too large")
    expect(r6.ms).toBeLessThan(60_000)
    expectClean(r6)
  })

  it("headers that never come: exit 6 at --timeout", async () => {
    const sim = await simulator("slow-headers")
    const r = await timed(
      ["run", "--once", "--sink", sink(), "--timeout", "1s", "--max-retries", "0"],
      simEnv(sim)
    )
    expect(r.code).toBe(6)
    expect(errorLine(r)).toContain("no answer (status and headers) within 1s")
    expect(r.ms).toBeLessThan(60_000)
    expectClean(r)
  })

  it("a server that echoes the key: exit 6, the key in no form on any output", async () => {
    const sim = await simulator("echo-key")
    const r = await timed(["run", "--once", "--sink", sink(), "--verbose"], simEnv(sim))
    expect(r.code).toBe(6)
    expect(r.stderr).toContain("<redacted>")
    expectClean(r)
  })

  it("connection refused: exit 6 within about 15 s, naming the origin", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer()
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
      })
    })
    const r = await timed(["run", "--once", "--sink", sink()], {
      PARAGON_BASE_URL: `http://127.0.0.1:${port}`,
      PARAGON_PROJECT_ID: "p",
      PARAGON_API_KEY: KEY
    })
    expect(r.code).toBe(6)
    expect(errorLine(r)).toContain(`connection refused to http://127.0.0.1:${port}`)
    expect(r.ms).toBeLessThan(45_000)
    expectClean(r)
  })
})

describe("taskhistory-exporter: bad inputs fail early, with a line", () => {
  it("a key file that is /dev/zero, too big, or holds a newline inside: exit 2 and one line", async () => {
    const sim = await simulator(undefined, { records: 10 })
    const bad = join(tmp.path, "bad-key")
    writeFileSync(bad, "abc-123\ndef-456\n")
    for (const [path, text] of [
      ["/dev/zero", "at most 4 KiB"],
      [bad, "contains a newline"]
    ] as const) {
      const r = await timed(["run", "--once", "--sink", sink(), "--api-key-file", path], simEnv(sim))
      expect(r.code).toBe(2)
      expect(errorLine(r)).toContain(text)
      expect(r.stderr).not.toContain("abc-123")
    }
    expect(sim.stats().requests).toBe(0)
  })

  it("validation gaps: exit 2 naming the value, before any request or file", async () => {
    const sim = await simulator(undefined, { records: 10 })
    const missing = join(tmp.path, "no-such-dir", "x.db")
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, Record<string, string>?]> = [
      [["--sink", "sqlite:"], 'invalid --sink "sqlite:"'],
      [["--sink", `sqlite:${missing}`], `${join(tmp.path, "no-such-dir")} does not exist`],
      [["--sink", "sqlite::memory:", "--every", "1h"], 'invalid --sink "sqlite::memory:"'],
      [["--sink", "sqlite::memory:", "--schedule", "0 * * * *"], "a --schedule run would read everything"],
      [["--since", "2999-01-01"], 'invalid --since "2999-01-01": expected a date in the past'],
      [["--since", "2026-01-01T00:00:00+99:99"], 'invalid --since "2026-01-01T00:00:00+99:99"'],
      [
        ["--every", "1ms"],
        'invalid --every "1ms": expected a duration of at least 10s',
        { TASKHISTORY_MIN_EVERY: "" }
      ],
      [["--every", "9s"], "at least 10s", { TASKHISTORY_MIN_EVERY: "" }],
      [["--every", "99999999999d"], 'invalid --every "99999999999d": expected a duration of at most'],
      [["--every", "1"], "a bare number has none"],
      [["--every", "50ms", "--min-every", "100ms"], "at least 100ms"]
    ]
    for (const [args, text, env] of cases) {
      const r = await timed(
        ["run", ...(args.includes("--sink") ? [] : ["--sink", sink()]), ...args],
        simEnv(sim, env)
      )
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2)
      expect(errorLine(r)).toContain(text)
    }
    expect(sim.stats().requests).toBe(0)
    expect(existsSync(join(tmp.path, "no-such-dir"))).toBe(false)
  })

  it("sqlite::memory: --once exports with a warning that nothing is kept", async () => {
    const sim = await simulator(undefined, { records: 10 })
    const r = await timed(["run", "--once", "--sink", "sqlite::memory:"], simEnv(sim))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/level=WARN .*sqlite::memory: keeps nothing/)
  })
})
