/**
 * `run --alerts`, `alerts check` and `alerts test` through the built binary, against the
 * simulator and a local webhook receiver: one "firing" per group on a failure spike, one
 * "resolved" on recovery, nothing repeated across runs, restarts or kill -9, retries of a
 * failing webhook with the export's rows exact, and a bad rules file refused before any request.
 */
import { createHmac } from "node:crypto"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { anyFailureRules as anyFailureRulesIn } from "./utils/alertRules.js"
import {
  diff,
  killAll,
  readSqlite,
  runBin,
  simEnv,
  spawnBin,
  tempDir,
  waitFor,
  writeIn
} from "./utils/harness.js"
import { type Receiver, startReceiver } from "./utils/receiver.js"

let sim: RunningSimulator
let json: Receiver
let slack: Receiver
const dir = tempDir()
const SECRET = "s3cret-signing-key"

beforeAll(async () => {
  sim = await startSimulator({ records: 200, seed: 11 })
  json = await startReceiver()
  slack = await startReceiver()
})
afterEach(killAll)
afterAll(async () => {
  await sim.close()
  await json.close()
  await slack.close()
  dir.remove()
})

const rulesFile = writeIn(dir.path)
const anyFailureRules = (name: string, more?: string) =>
  anyFailureRulesIn(rulesFile, name, more === undefined ? {} : { more })

const spikeRules = () =>
  rulesFile(
    "spike.yml",
    `webhooks:
  - name: ops
    urlEnv: OPS_HOOK
    format: json
    secretEnv: OPS_SECRET
  - name: chat
    urlEnv: CHAT_HOOK
    format: slack
rules:
  - name: workflow-failures
    by: workflow
    failures: 1
    minExecutions: 2
    window: 15m
    notify: [ops]
  - name: failure-rate
    by: all
    failureRate: 0.5
    minExecutions: 10
    window: 15m
    cooldown: 1h
    notify: [ops, chat]
`
  )

const hookEnv = () =>
  simEnv(sim, {
    OPS_HOOK: `${json.url}/hooks/ops-token-123`,
    OPS_SECRET: SECRET,
    CHAT_HOOK: `${slack.url}/services/T000/B000/chat-token-456`
  })

type Message = {
  rule: string
  state: string
  group: { workflowId?: string }
  failures: number
  executions: number
}

const messages = () => json.accepted() as unknown as ReadonlyArray<Message>

describe("taskhistory-exporter run --alerts", () => {
  const db = join(dir.path, "alerts.db")
  const sink = `sqlite:${db}`

  it("a failure spike fires one message per group, never repeated; recovery resolves each once", async () => {
    const rules = spikeRules()
    const first = await runBin(["run", "--once", "--sink", sink, "--alerts", rules], hookEnv())
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).toContain("alerts: 2 rule(s)")
    expect(json.requests()).toEqual([])

    // A spike: 60 new executions, all failed.
    const spike = sim.insert(60)
    for (const e of spike) sim.setStatus(String(e.id), "FAILED")
    const perWorkflow = new Map<string, number>()
    for (const e of spike)
      perWorkflow.set(String(e.workflowId), (perWorkflow.get(String(e.workflowId)) ?? 0) + 1)
    const groups = [...perWorkflow]
      .filter(([, n]) => n >= 2)
      .map(([w]) => w)
      .sort()
    expect(groups.length).toBeGreaterThan(0)

    const second = await runBin(["run", "--once", "--sink", sink, "--alerts", rules], hookEnv())
    expect(second.code, second.stderr).toBe(0)
    const fired = messages().filter((m) => m.rule === "workflow-failures")
    expect(fired.every((m) => m.state === "firing")).toBe(true)
    expect(fired.map((m) => m.group.workflowId).sort()).toEqual(groups)
    for (const m of fired) expect(m.failures).toBe(perWorkflow.get(m.group.workflowId!))
    const rate = messages().filter((m) => m.rule === "failure-rate")
    expect(rate).toHaveLength(1)
    expect(rate[0]).toMatchObject({
      state: "firing",
      group: {},
      failures: 60,
      executions: 60,
      failureRate: 1
    })
    expect(Object.keys(rate[0]!).sort()).toEqual(
      [
        "at",
        "deliveryId",
        "executions",
        "failureRate",
        "failures",
        "group",
        "rule",
        "state",
        "windowEnd",
        "windowStart"
      ].sort()
    )
    // Signed with the secret; the Slack webhook got its own format. Each message has a delivery
    // id of its own, in a header and (json) in the body.
    for (const r of json.requests()) {
      const expected = `sha256=${createHmac("sha256", SECRET).update(r.body).digest("hex")}`
      expect(r.headers["x-taskhistory-signature"]).toBe(expected)
      expect(r.path).toBe("/hooks/ops-token-123")
      expect(r.headers["x-taskhistory-delivery"]).toMatch(/^[0-9a-f]{32}$/)
      expect(JSON.parse(r.body).deliveryId).toBe(r.headers["x-taskhistory-delivery"])
    }
    expect(new Set(json.requests().map((r) => r.headers["x-taskhistory-delivery"])).size).toBe(
      json.requests().length
    )
    expect(slack.requests()[0]!.headers["x-taskhistory-delivery"]).toMatch(/^[0-9a-f]{32}$/)
    expect(slack.accepted()).toHaveLength(1)
    expect(String(slack.accepted()[0]!.text)).toContain("FIRING failure-rate")
    expect(slack.requests()[0]!.headers["x-taskhistory-signature"]).toBeUndefined()
    // The URLs and the secret are never printed.
    for (const text of [second.stderr, second.stdout]) {
      expect(text).not.toContain("ops-token-123")
      expect(text).not.toContain("chat-token-456")
      expect(text).not.toContain(SECRET)
    }
    expect(second.stderr).toMatch(/alert FIRING workflow-failures/)
    expect(second.stderr).toMatch(/webhook ops: delivered firing/)
    const afterSpike = json.requests().length

    // Runs again (a restart each time): nothing repeated.
    const third = await runBin(["run", "--once", "--sink", sink, "--alerts", rules], hookEnv())
    expect(third.code, third.stderr).toBe(0)
    expect(json.requests()).toHaveLength(afterSpike)
    expect(slack.requests()).toHaveLength(1)

    // A scheduled exporter killed with SIGKILL between runs: nothing repeated either.
    const scheduled = spawnBin(["run", "--every", "1s", "--sink", sink, "--alerts", rules], hookEnv())
    expect(await waitFor(() => (scheduled.stderr().match(/run complete/g) ?? []).length >= 2, 60_000)).toBe(
      true
    )
    scheduled.child.kill("SIGKILL")
    await scheduled.done
    expect(json.requests()).toHaveLength(afterSpike)

    // Recovery: the failed executions are replayed and succeed.
    for (const e of spike) sim.setStatus(String(e.id), "SUCCEEDED")
    const fourth = await runBin(["run", "--once", "--sink", sink, "--alerts", rules], hookEnv())
    expect(fourth.code, fourth.stderr).toBe(0)
    const resolved = messages().filter((m) => m.state === "resolved")
    expect(
      resolved
        .filter((m) => m.rule === "workflow-failures")
        .map((m) => m.group.workflowId)
        .sort()
    ).toEqual(groups)
    expect(resolved.filter((m) => m.rule === "failure-rate")).toHaveLength(1)
    expect(String(slack.accepted()[1]!.text)).toContain("RESOLVED failure-rate")
    const afterRecovery = json.requests().length
    expect(afterRecovery).toBe(afterSpike + groups.length + 1)

    const fifth = await runBin(["run", "--once", "--sink", sink, "--alerts", rules], hookEnv())
    expect(fifth.code, fifth.stderr).toBe(0)
    expect(json.requests()).toHaveLength(afterRecovery)
    expect(slack.requests()).toHaveLength(2)

    const stored = await readSqlite(db)
    expect(diff(stored.rows, sim.dataset())).toEqual([])
  }, 240_000)

  it("a webhook answering 500, then 429 with Retry-After, then 200 is retried; the rows stay exact", async () => {
    const db2 = join(dir.path, "retry.db")
    const rules = anyFailureRules("retry.yml")
    json.clear()
    json.answer(500, { status: 429, headers: { "retry-after": "1" } })
    const run = await runBin(["run", "--once", "--sink", `sqlite:${db2}`, "--alerts", rules], hookEnv())
    expect(run.code, run.stderr).toBe(0)
    expect(json.requests().map((r) => r.status)).toEqual([500, 429, 200])
    expect(new Set(json.requests().map((r) => r.body)).size).toBe(1)
    expect(messages()).toHaveLength(1)
    expect(run.stderr).toMatch(/webhook ops: HTTP 500, retrying/)
    expect(run.stderr).toMatch(/webhook ops: HTTP 429, retrying in 1s/)
    const stored = await readSqlite(db2)
    expect(diff(stored.rows, sim.dataset())).toEqual([])
  }, 120_000)

  it("a crash after a delivery, before the outbox forgets it: the resend carries the same delivery id", async () => {
    const db4 = join(dir.path, "crash.db")
    const rules = anyFailureRules("crash.yml", "    format: json\n    secretEnv: OPS_SECRET\n")
    json.clear()
    // The receiver has the message; the exporter is killed before it hears the answer, so the
    // notification is still in its outbox.
    const args = ["run", "--once", "--sink", `sqlite:${db4}`, "--alerts", rules]
    let crashed: ReturnType<typeof spawnBin> | undefined
    json.answer({ instead: () => crashed?.child.kill("SIGKILL") })
    crashed = spawnBin(args, hookEnv())
    const killed = await crashed.done
    expect(killed.signal).toBe("SIGKILL")
    expect(json.requests()).toHaveLength(1)
    const restarted = await runBin(args, hookEnv())
    expect(restarted.code, restarted.stderr).toBe(0)
    const [first, resent] = json.requests()
    expect(json.requests()).toHaveLength(2)
    expect(resent!.status).toBe(200)
    expect(resent!.body).toBe(first!.body)
    expect(resent!.headers["x-taskhistory-delivery"]).toMatch(/^[0-9a-f]{32}$/)
    expect(resent!.headers["x-taskhistory-delivery"]).toBe(first!.headers["x-taskhistory-delivery"])
    expect(resent!.headers["x-taskhistory-signature"]).toBe(first!.headers["x-taskhistory-signature"])
    expect(JSON.parse(resent!.body).deliveryId).toBe(resent!.headers["x-taskhistory-delivery"])
    // Delivered now: nothing more.
    const again = await runBin(args, hookEnv())
    expect(again.code, again.stderr).toBe(0)
    expect(json.requests()).toHaveLength(2)
  }, 120_000)

  it("a webhook that is down does not fail the export; the notification goes out on a later run", async () => {
    const db3 = join(dir.path, "down.db")
    const rules = anyFailureRules("down.yml")
    json.clear()
    json.answer(503, 503, 503, 503, 503)
    const down = await runBin(["run", "--once", "--sink", `sqlite:${db3}`, "--alerts", rules], hookEnv())
    expect(down.code, down.stderr).toBe(0)
    expect(down.stderr).toMatch(
      /webhook ops: not delivered after 5 attempts \(HTTP 503\); kept for the next run/
    )
    expect(messages()).toHaveLength(0)
    expect(diff((await readSqlite(db3)).rows, sim.dataset())).toEqual([])
    const later = await runBin(["run", "--once", "--sink", `sqlite:${db3}`, "--alerts", rules], hookEnv())
    expect(later.code, later.stderr).toBe(0)
    expect(messages()).toHaveLength(1)
    expect(messages()[0]).toMatchObject({ rule: "any-failure", state: "firing" })
  }, 180_000)

  it("a bad rules file is exit 2 naming the file, line and field, before any request", async () => {
    const bad = rulesFile(
      "bad.yml",
      `webhooks:
  - name: ops
    url: https://hooks.example.com/secret-path
rules:
  - name: rate
    by: workflow
    failureRate: 1.5
    notify: [ops]
`
    )
    const before = sim.stats().requests
    const run = await runBin(
      ["run", "--once", "--sink", `sqlite:${join(dir.path, "bad.db")}`, "--alerts", bad],
      hookEnv()
    )
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`${bad}:7 rules[0].failureRate "1.5"`)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(sim.stats().requests).toBe(before)

    const unknown = rulesFile("unknown.yml", "rules:\n  - name: a\n    failures: 2\n    windw: 1h\n")
    const second = await runBin(["alerts", "check", "--alerts", unknown], {})
    expect(second.code).toBe(2)
    expect(second.stderr).toContain(`${unknown}:4 rules[0].windw`)

    const badUrl = rulesFile("url.yml", "webhooks:\n  - name: ops\n    url: not-a-url-secret\n")
    const third = await runBin(["alerts", "test", "--alerts", badUrl], {})
    expect(third.code).toBe(2)
    expect(third.stderr).toContain(`${badUrl}:3 webhooks[0].url is not a URL`)
    expect(third.stderr).not.toContain("not-a-url-secret")
  })

  it("alerts check prints what fires without sending; alerts test sends one message per webhook", async () => {
    const rules = anyFailureRules(
      "check.yml",
      "    format: json\n    secretEnv: OPS_SECRET\n  - name: chat\n    urlEnv: CHAT_HOOK\n    format: slack\n"
    )
    json.clear()
    slack.clear()
    const check = await runBin(
      [
        "alerts",
        "check",
        "--alerts",
        rules,
        "--sink",
        `sqlite:${join(dir.path, "alerts.db")}`,
        "--format",
        "json"
      ],
      hookEnv()
    )
    expect(check.code, check.stderr).toBe(0)
    const out = JSON.parse(check.stdout) as { firing: Array<{ rule: string; notify: string }> }
    expect(out.firing).toEqual([expect.objectContaining({ rule: "any-failure", notify: "firing" })])
    const table = await runBin(
      ["alerts", "check", "--alerts", rules, "--sink", `sqlite:${join(dir.path, "alerts.db")}`],
      hookEnv()
    )
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/FIRING +any-failure +all/)
    expect(json.requests()).toHaveLength(0)

    const test = await runBin(["alerts", "test", "--alerts", rules], hookEnv())
    expect(test.code, test.stderr).toBe(0)
    expect(test.stdout).toContain("ops: delivered (HTTP 200)")
    expect(test.stdout).toContain("chat: delivered (HTTP 200)")
    expect(json.accepted()).toEqual([expect.objectContaining({ test: true, webhook: "ops" })])
    expect(String(slack.accepted()[0]!.text)).toContain("test message")
    expect(json.requests()[0]!.headers["x-taskhistory-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/)

    json.answer(404, 404, 404)
    const failing = await runBin(["alerts", "test", "--alerts", rules], hookEnv())
    expect(failing.code).toBe(6)
    expect(failing.stdout).toContain("ops: failed after 1 attempt(s) (HTTP 404)")
  })
})
