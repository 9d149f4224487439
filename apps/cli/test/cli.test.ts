/**
 * End to end: the BUILT binary (dist/bin.js, run `pnpm build` first) against simulators started
 * in this process, for every command, format and exit code of the contract.
 */
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Usage from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { Effect, Stream } from "effect"
import { bin, lines, type Result, run as runBin, simEnv } from "./utils/bin.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-cli-"))

let reads: RunningSimulator
let writes: RunningSimulator
const outputs: Array<string> = []

const envOf = simEnv

/** Runs the binary (on `reads` by default) and keeps its output for the check that no key leaks. */
const run = async (
  args: ReadonlyArray<string>,
  env: Record<string, string> = envOf(reads)
): Promise<Result> => {
  const result = await runBin(args, env)
  outputs.push(result.stdout, result.stderr)
  return result
}

const dataset = (sim: RunningSimulator) => sim.dataset() as unknown as ReadonlyArray<WorkflowExecution>

const desc = (records: ReadonlyArray<WorkflowExecution>) => [...records].reverse()

const csvCell = (v: unknown) => {
  if (v === undefined || v === null) return ""
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}
const csvColumns = [
  "id",
  "status",
  "workflowId",
  "userId",
  "taskCount",
  "runDuration",
  "dateStarted",
  "dateEnded"
]

beforeAll(async () => {
  reads = await startSimulator({ records: 250, seed: 11 })
  writes = await startSimulator({ records: 120, seed: 12 })
})

afterAll(async () => {
  await reads?.close()
  await writes?.close()
  // The API keys never reach stdout or stderr, whatever the command did.
  for (const text of outputs) {
    expect(text).not.toContain(reads.apiKey)
    expect(text).not.toContain(writes.apiKey)
  }
  rmSync(dir, { recursive: true, force: true })
})

describe("help, version, completions", () => {
  it("answers --help at every level with examples, --version, --completions", async () => {
    const [root, executions, list, replay, usage, version, completions] = await Promise.all([
      run(["--help"]),
      run(["executions"]),
      run(["executions", "list", "--help"]),
      run(["executions", "replay", "--help"]),
      run(["usage", "--help"]),
      run(["--version"]),
      run(["--completions", "bash"])
    ])
    for (const r of [root, executions, list, replay, usage]) {
      expect(r.code).toBe(0)
      expect(r.stdout).toContain("EXAMPLES")
      // Not a TTY: no colour.
      expect(r.stdout).not.toContain("\u001b[")
    }
    expect(list.stdout).toContain("--format")
    expect(list.stdout).toContain("--api-key-file")
    expect(usage.stdout).toContain("one query per integration")
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(completions.code).toBe(0)
    expect(completions.stdout).toContain("taskhistory")
  })
})

describe("executions list", () => {
  it("prints every record exactly as served, in each format", async () => {
    const expected = dataset(reads)
    expect(expected.length).toBe(250)
    const [ndjson, json, csv, ndjsonDesc] = await Promise.all([
      run(["executions", "list", "--all", "--sort", "asc", "--format", "ndjson"]),
      run(["executions", "list", "--all", "--sort", "asc", "--format", "json"]),
      run(["executions", "list", "--all", "--sort", "asc", "--format", "csv"]),
      run(["executions", "list", "--all", "--format", "ndjson"])
    ])
    expect(ndjson.code).toBe(0)
    expect(lines(ndjson.stdout)).toEqual(expected.map((r) => JSON.stringify(r)))
    expect(ndjson.stderr).toBe("")
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual(expected)
    expect(csv.code).toBe(0)
    expect(lines(csv.stdout)).toEqual([
      csvColumns.join(","),
      ...expected.map((r) => csvColumns.map((c) => csvCell(r[c])).join(","))
    ])
    expect(lines(ndjsonDesc.stdout)).toEqual(desc(expected).map((r) => JSON.stringify(r)))
  })

  it("prints the first page by default, --limit N records, and applies filters", async () => {
    const expected = desc(dataset(reads))
    const failed = expected.filter((r) => r.status === "FAILED")
    const [table, limited, filtered] = await Promise.all([
      run(["executions", "list"]),
      run(["executions", "list", "--limit", "150", "--format", "ndjson"]),
      run(["executions", "list", "--all", "--status", "failed", "--format", "ndjson"])
    ])
    expect(table.code).toBe(0)
    const rows = lines(table.stdout)
    expect(rows[0]).toMatch(/^ID\s+STATUS\s+WORKFLOW\s+USER\s+TASKS\s+DURATION\s+STARTED$/)
    expect(rows.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(expected.slice(0, 100).map((r) => r.id))
    expect(table.stderr).toContain("showing the first 100 of 250")
    expect(lines(limited.stdout)).toEqual(expected.slice(0, 150).map((r) => JSON.stringify(r)))
    expect(failed.length).toBeGreaterThan(0)
    expect(lines(filtered.stdout)).toEqual(failed.map((r) => JSON.stringify(r)))
  })
})

describe("long reads", () => {
  it("prints the cost plan on stderr, streams the first page before the rest, and stops on Ctrl-C", async () => {
    const expected = desc(dataset(reads)).slice(0, 100)
    const child = spawn(
      process.execPath,
      [bin, "executions", "list", "--all", "--format", "ndjson", "--rate-limit", "2/10m"],
      { env: envOf(reads), stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    let killed = false
    const maybeStop = () => {
      // The budget is spent after the first page: the rest would wait 10 minutes.
      if (!killed && stderr.includes("this read needs") && lines(stdout).length >= 100) {
        killed = true
        child.kill("SIGINT")
      }
    }
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString("utf8")
      maybeStop()
    })
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString("utf8")
      maybeStop()
    })
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 45_000)
      child.on("close", (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    outputs.push(stdout, stderr)
    expect(killed).toBe(true)
    expect(code).toBe(130)
    expect(stderr).toContain("this read needs 3 requests for 250 executions")
    expect(stderr).toContain("2/10m")
    // The first page, then (when its request was already answered as Ctrl-C came) the second:
    // the budget of 2 covers the plan's request and one more.
    const printed = lines(stdout)
    expect(printed.slice(0, 100)).toEqual(expected.map((r) => JSON.stringify(r)))
    expect([100, 200]).toContain(printed.length)
  })
})

describe("count, get, step", () => {
  it("counts, and prints one execution and one step", async () => {
    const records = dataset(reads)
    const target = records[17]!
    const [all, failed, get] = await Promise.all([
      run(["executions", "count"]),
      run(["executions", "count", "--status", "FAILED"]),
      run(["executions", "get", target.id, "--format", "json"])
    ])
    expect(all.code).toBe(0)
    expect(all.stdout).toBe("250\n")
    expect(failed.stdout).toBe(`${records.filter((r) => r.status === "FAILED").length}\n`)
    expect(get.code).toBe(0)
    const detail = JSON.parse(get.stdout)
    expect(detail).toMatchObject(target)
    expect(detail.stepExecutions.length).toBeGreaterThan(0)
    const stepId: string = detail.stepExecutions[0].id
    const step = await run(["executions", "step", target.id, stepId, "--format", "json"])
    expect(step.code).toBe(0)
    expect(JSON.parse(step.stdout)).toMatchObject({ id: stepId })
    expect(JSON.parse(step.stdout)).toHaveProperty("output")
  })
})

describe("usage", () => {
  it("reports per status, day and integration, checked against the dataset", async () => {
    const records = dataset(reads)
    const expectedBy = (by: "status" | "day") =>
      Effect.runPromise(Usage.fromStream(Stream.fromIterable(records), by))
    const [status, day, integration, table] = await Promise.all([
      run(["usage", "--by", "status", "--format", "json"]),
      run(["usage", "--by", "day", "--format", "csv"]),
      run([
        "usage",
        "--by",
        "integration",
        "--integrations",
        "salesforce,hubspot,nosuch",
        "--format",
        "json"
      ]),
      run(["usage", "--by", "workflow"])
    ])
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)).toEqual(JSON.parse(JSON.stringify(await expectedBy("status"))))
    const byDay = await expectedBy("day")
    expect(lines(day.stdout)).toEqual([
      "day,executions,tasks,failures,failure_rate,p50_run_duration_ms,p95_run_duration_ms",
      ...byDay.groups.map((r) =>
        [
          r.group,
          r.executions,
          r.tasks,
          r.failures,
          r.failureRate,
          r.p50RunDuration ?? "",
          r.p95RunDuration ?? ""
        ].join(",")
      )
    ])
    expect(integration.code).toBe(0)
    const report = JSON.parse(integration.stdout) as Usage.UsageReport
    const count = (name: string) => records.filter((r) => r.integration === name).length
    expect(Object.fromEntries(report.groups.map((g) => [g.group, g.executions]))).toEqual({
      salesforce: count("salesforce"),
      hubspot: count("hubspot"),
      nosuch: 0
    })
    expect(table.code).toBe(0)
    expect(lines(table.stdout)[0]).toMatch(
      /^WORKFLOW\s+EXECUTIONS\s+TASKS\s+FAILURES\s+FAILURE RATE\s+P50\s+P95$/
    )
    expect(lines(table.stdout).at(-1)).toMatch(/^TOTAL\s+250\s/)
  })
})

describe("exit codes", () => {
  it("2 for invalid input, naming the value; the key is never accepted as a flag", async () => {
    const [flag, date, status, apiKey, by, unknown, limitAll, noKey, badBy] = await Promise.all([
      run(["executions", "list", "--limit", "lots"]),
      run(["executions", "list", "--after", "2023-02-30"]),
      run(["executions", "count", "--status", "finished"]),
      run(["executions", "list", "--api-key", reads.apiKey]),
      run(["usage", "--by", "integration"]),
      run(["executions", "list", "--colour"]),
      run(["executions", "list", "--all", "--limit", "3"]),
      run(["executions", "count"], envOf(reads, { PARAGON_API_KEY: "" })),
      run(["usage", "--by", "team"])
    ])
    for (const r of [flag, date, status, apiKey, by, unknown, limitAll, noKey, badBy]) expect(r.code).toBe(2)
    expect(badBy.stderr).toContain('--by "team"')
    expect(flag.stderr).toContain("lots")
    expect(date.stderr).toContain('--after "2023-02-30"')
    expect(status.stderr).toContain('--status "finished"')
    expect(apiKey.stderr).toContain("--api-key-file")
    expect(apiKey.stderr).toContain("PARAGON_API_KEY")
    expect(by.stderr).toContain("--integrations")
    expect(noKey.stderr).toContain("PARAGON_API_KEY")
    for (const r of [date, status, apiKey, by]) expect(lines(r.stderr).length).toBeLessThanOrEqual(2)
  })

  it("3 for a wrong key, 4 for an unknown id, and the key file works", async () => {
    const keyFile = join(dir, "key")
    writeFileSync(keyFile, `${reads.apiKey}\n`)
    const [wrong, missing, fromFile] = await Promise.all([
      run(["executions", "count"], envOf(reads, { PARAGON_API_KEY: "definitely-not-the-key" })),
      run(["executions", "get", "no-such-execution"]),
      run(
        ["executions", "count", "--api-key-file", keyFile],
        envOf(reads, { PARAGON_API_KEY: "wrong-key-value" })
      )
    ])
    expect(wrong.code).toBe(3)
    expect(wrong.stderr).toContain("PARAGON_API_KEY")
    expect(lines(wrong.stderr).length).toBeLessThanOrEqual(2)
    expect(missing.code).toBe(4)
    expect(missing.stderr).toContain("no-such-execution")
    expect(fromFile.code).toBe(0)
    expect(fromFile.stdout).toBe("250\n")
    // A key from a secret manager through bash's process substitution: a pipe, not a file.
    const substituted = await new Promise<Pick<Result, "code" | "stdout" | "stderr">>((resolve) => {
      execFile(
        "bash",
        ["-c", `"$0" "$1" executions count --api-key-file <(printf '%s\\n' "$KEY")`, process.execPath, bin],
        {
          env: envOf(reads, { PARAGON_API_KEY: "wrong-key-value", KEY: reads.apiKey }),
          encoding: "utf8",
          timeout: 60_000
        },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
      )
    })
    expect(substituted.stderr).toBe("")
    expect(substituted.stdout).toBe("250\n")
  })

  it("5 when rate limited past the retry budget, 6 after server faults or an HTML answer", async () => {
    await writes.configure({ rateLimit: "1/10m" })
    const limited = await run(["executions", "list", "--all", "--max-retries", "0"], envOf(writes))
    await writes.configure({ rateLimit: null, faults: { failNext: 5 } })
    const faults = await run(["executions", "count"], envOf(writes, { TASKHISTORY_MAX_RETRIES: "1" }))
    await writes.configure({ faults: { failNext: 0, htmlRate: 1 } })
    const html = await run(["executions", "count", "--max-retries", "0"], envOf(writes))
    await writes.configure({ faults: { htmlRate: 0 } })
    expect(limited.code).toBe(5)
    expect(limited.stderr).toContain("429")
    expect(faults.code).toBe(6)
    expect(faults.stderr).toContain("503")
    expect(html.code).toBe(6)
    for (const r of [limited, faults, html]) expect(lines(r.stderr).length).toBeLessThanOrEqual(2)
  })
})

describe("executions replay", () => {
  it("replays one execution; an ambiguous replay exits 7 and is not re-sent", async () => {
    const [first, second] = dataset(writes)
    const one = await run(["executions", "replay", first!.id, "--format", "json"], envOf(writes))
    expect(one.code).toBe(0)
    const created = JSON.parse(one.stdout)
    expect(created.id).not.toBe(first!.id)
    expect(created.status).toBe("EXECUTING")
    await writes.configure({ replayFault: "apply-then-503", replayFaultTimes: 1 })
    const ambiguous = await run(["executions", "replay", second!.id], envOf(writes))
    expect(ambiguous.code).toBe(7)
    expect(ambiguous.stderr).toContain(second!.id)
    const stats = writes.stats()
    expect(stats.replays[first!.id]).toBe(1)
    expect(stats.replays[second!.id]).toBe(1)
  })

  it("bulk: --dry-run sends nothing, --yes replays each id once, --log resumes", async () => {
    const failed = dataset(writes)
      .filter((r) => r.status === "FAILED")
      .reverse()
      .map((r) => r.id)
    expect(failed.length).toBeGreaterThanOrEqual(3)
    const before = writes.stats().byRoute.replay
    const refused = await run(["executions", "replay", "--status", "failed"], envOf(writes))
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("--yes")
    const dry = await run(["executions", "replay", "--status", "failed", "--dry-run"], envOf(writes))
    expect(dry.code).toBe(0)
    expect(lines(dry.stdout)).toEqual(failed)
    expect(writes.stats().byRoute.replay).toBe(before)

    // A previous run stopped: one id replayed, one in flight when it died, one refused.
    const log = join(dir, "replay.log")
    const [done, inFlight, refusedBefore] = failed
    writeFileSync(
      log,
      [
        { id: done, event: "sending" },
        { id: done, event: "replayed", newId: "x" },
        { id: inFlight, event: "sending" },
        { id: refusedBefore, event: "sending" },
        { id: refusedBefore, event: "failed" }
      ]
        .map((e) => `${JSON.stringify(e)}\n`)
        .join("")
    )
    const yes = await run(
      ["executions", "replay", "--status", "FAILED", "--yes", "--log", log],
      envOf(writes)
    )
    expect(yes.code).toBe(0)
    const sent = failed.filter((id) => id !== done && id !== inFlight)
    expect(lines(yes.stdout).map((l) => l.split("\t").slice(0, 2).join(" "))).toEqual(
      sent.map((id) => `replayed ${id}`)
    )
    expect(yes.stderr).toContain(`replayed ${sent.length}, failed 0, unknown outcome 0, skipped 2`)
    const replays = writes.stats().replays
    for (const id of sent) expect(replays[id]).toBe(1)
    expect(replays[done!]).toBeUndefined()
    expect(replays[inFlight!]).toBeUndefined()
    expect(lines(readFileSync(log, "utf8")).length).toBe(5 + 2 * sent.length)

    // Running it again sends nothing.
    const again = await run(
      ["executions", "replay", "--status", "FAILED", "--yes", "--log", log],
      envOf(writes)
    )
    expect(again.code).toBe(0)
    expect(again.stdout).toBe("")
    expect(again.stderr).toContain(`replayed 0, failed 0, unknown outcome 0, skipped ${failed.length}`)
    expect(writes.stats().replays).toEqual(replays)
  })
})

const redisUrl = process.env.TASKHISTORY_TEST_REDIS_URL

describe("shared rate limit (Redis)", () => {
  if (redisUrl === undefined || redisUrl === "") {
    it("is skipped: set TASKHISTORY_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run it", () => {
      console.warn("cli Redis test skipped: TASKHISTORY_TEST_REDIS_URL is not set")
    })
    return
  }
  it("reads through the Redis limiter (--rate-limit-redis or PARAGON_RATE_LIMIT_REDIS); a bad URL exits 2", async () => {
    const [flag, env, bad] = await Promise.all([
      run(["executions", "count", "--rate-limit-redis", redisUrl]),
      run(
        ["executions", "list", "--limit", "120", "--format", "ndjson"],
        envOf(reads, { PARAGON_RATE_LIMIT_REDIS: redisUrl })
      ),
      run(["executions", "count", "--rate-limit-redis", "http://not-redis"])
    ])
    expect(flag.code).toBe(0)
    expect(flag.stdout).toBe("250\n")
    expect(env.code).toBe(0)
    expect(lines(env.stdout).length).toBe(120)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("Redis")
  })
})
