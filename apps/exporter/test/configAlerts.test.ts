/**
 * `run --config FILE --alerts RULES` through the built binary, against two projects' simulators
 * and local webhook receivers: the rules apply to every stream, each evaluated over its own sink
 * with its own alert state; a rule firing for one stream sends one message naming it (`"stream"`
 * in json, the Slack text), its resolved message later, nothing repeated across runs, restarts or
 * a takeover; with replicas on Postgres only the stream's leader evaluates and sends. `--report`
 * stays refused beside `--config`, saying what to do instead.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { anyFailureRules } from "./utils/alertRules.js"
import {
  diff,
  killAll,
  type Running,
  readSqlite,
  runBin,
  spawnBin,
  tempDir,
  waitFor,
  writeIn
} from "./utils/harness.js"
import { exactIn, leaseOf, pgUrl, replicaOf, schemas, sinkOf } from "./utils/pg.js"
import { type Receiver, startReceiver } from "./utils/receiver.js"

const dir = tempDir()
const file = writeIn(dir.path)
let json: Receiver
let slack: Receiver
const sims: Array<RunningSimulator> = []

beforeAll(async () => {
  json = await startReceiver()
  slack = await startReceiver()
})
afterEach(killAll)
afterAll(async () => {
  for (const sim of sims) await sim.close()
  await json.close()
  await slack.close()
  dir.remove()
})

/** A project's simulator in which nothing failed: the rules below fire only on what a test fails. */
const project = async (name: string, seed: number) => {
  const sim = await startSimulator({
    records: 150,
    seed,
    projectId: `project-${name}`,
    apiKey: `${name}-key-0123456789`
  })
  sims.push(sim)
  for (const r of sim.dataset()) if (r.status === "FAILED") sim.setStatus(String(r.id), "SUCCEEDED")
  return sim
}

/** `n` new executions of `sim`, failed. */
const failNew = (sim: RunningSimulator, n: number) => {
  const made = sim.insert(n)
  for (const e of made) sim.setStatus(String(e.id), "FAILED")
  return made
}

const streamOf = (
  name: string,
  sim: Pick<RunningSimulator, "projectId" | "url">,
  sink: string
) => `  - name: ${name}
    projectId: ${sim.projectId}
    apiKeyEnv: ${name.toUpperCase()}_KEY
    baseUrl: ${sim.url}
    rateLimit: 100000/1s
    sink: ${sink}
    every: 1s
`

/** Any failure in the last hour, to ops (json) and chat (slack). */
const rules = () =>
  anyFailureRules(file, "rules.yml", {
    window: "1h",
    more: "    format: json\n  - name: chat\n    urlEnv: CHAT_HOOK\n    format: slack\n",
    notify: ["ops", "chat"]
  })

const env = () => ({
  PROD_KEY: "prod-key-0123456789",
  EU_KEY: "eu-key-0123456789",
  OPS_HOOK: `${json.url}/hooks/ops`,
  CHAT_HOOK: `${slack.url}/services/chat`
})

/** Completed runs of stream `name` in a process's log. */
const runs = (process: Running, name: string) =>
  process
    .stderr()
    .split("\n")
    .filter((line) => line.includes('message="run complete') && line.includes(` stream=${name}`)).length

/** Waits for `more` further runs of each stream in `process`. */
const moreRuns = async (process: Running, names: ReadonlyArray<string>, more = 3) => {
  const from = names.map((name) => runs(process, name))
  return waitFor(() => names.every((name, i) => runs(process, name) >= from[i]! + more), 60_000, 50)
}

type Message = { stream?: string; rule: string; state: string; failures: number; deliveryId: string }
const messages = () => json.accepted() as unknown as ReadonlyArray<Message>

describe("taskhistory-exporter run --config --alerts", () => {
  it("--report beside --config is exit 2 saying to use taskhistory report --source per sink", async () => {
    const config = file(
      "report.yaml",
      `streams:\n${streamOf("prod", { projectId: "project-prod", url: "http://127.0.0.1:9" }, "sqlite:./report.db")}`
    )
    const result = await runBin(["run", "--config", config, "--report", "r.html"], env(), { cwd: dir.path })
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain(`--report cannot be given with --config ${config}`)
    expect(result.stderr).toContain("taskhistory report --source SINK --output FILE.html")
  })

  it("SQLite streams: one message per change naming its stream, state per stream, nothing repeated across runs and restarts", async () => {
    const prod = await project("prod", 81)
    const eu = await project("eu", 82)
    json.clear()
    slack.clear()
    const config = file(
      "streams.yaml",
      `streams:\n${streamOf("prod", prod, "sqlite:./prod.db")}${streamOf("eu", eu, "sqlite:./eu.db")}`
    )
    const alerts = rules()
    const start = () =>
      spawnBin(["run", "--config", config, "--alerts", alerts, "--metrics-port", "0"], env(), {
        cwd: dir.path,
        timeoutMs: 240_000
      })
    const first = start()
    expect(await moreRuns(first, ["prod", "eu"], 2), first.stderr()).toBe(true)
    expect(first.stderr()).toMatch(/alerts: 1 rule\(s\) from .* stream=prod/)
    expect(first.stderr()).toMatch(/alerts: 1 rule\(s\) from .* stream=eu/)
    expect(json.requests()).toEqual([])

    // prod fails, eu does not: one firing message, for prod.
    const spike = failNew(prod, 5)
    expect(
      await waitFor(() => messages().length >= 1 && slack.accepted().length >= 1, 60_000),
      first.stderr()
    ).toBe(true)
    expect(await moreRuns(first, ["prod", "eu"])).toBe(true)
    expect(messages()).toEqual([
      expect.objectContaining({ stream: "prod", rule: "any-failure", state: "firing", failures: 5 })
    ])
    expect(slack.accepted()).toHaveLength(1)
    expect(String(slack.accepted()[0]!.text)).toContain("stream prod: FIRING any-failure")
    expect(first.stderr()).toMatch(/alert stream prod: FIRING any-failure/)
    first.child.kill("SIGTERM")
    expect((await first.done).code).toBe(0)

    // alerts check --config: per stream what holds and what would be sent; sends nothing, needs no key.
    const checkConfig = file(
      "check.yaml",
      `${readFileSync(config, "utf8")}  - name: later\n    projectId: project-later\n    apiKeyEnv: LATER_KEY\n    sink: sqlite:./later.db\n    every: 1h\n`
    )
    const hooks = { OPS_HOOK: env().OPS_HOOK, CHAT_HOOK: env().CHAT_HOOK }
    const checked = await runBin(
      ["alerts", "check", "--config", checkConfig, "--alerts", alerts, "--format", "json"],
      hooks,
      { cwd: dir.path }
    )
    expect(checked.code, checked.stderr).toBe(0)
    const report = JSON.parse(checked.stdout) as {
      streams: Array<{ name: string; exported: boolean; firing: Array<{ rule: string; notify: string }> }>
    }
    expect(
      report.streams.map((s) => [s.name, s.exported, s.firing.map((f) => `${f.rule} ${f.notify}`)])
    ).toEqual([
      ["prod", true, ["any-failure already firing"]],
      ["eu", true, []],
      ["later", false, []]
    ])
    const table = await runBin(["alerts", "check", "--config", checkConfig, "--alerts", alerts], hooks, {
      cwd: dir.path
    })
    expect(table.code, table.stderr).toBe(0)
    const blocks = table.stdout.trimEnd().split("\n\n")
    expect(blocks.map((b) => b.split("\n")[0])).toEqual(["stream prod", "stream eu", "stream later"])
    expect(blocks[0]).toMatch(/ {2}FIRING +any-failure +all +5\/\d+ failed .* already notified/)
    expect(blocks[1]).toContain("  No rule holds.")
    expect(blocks[2]).toContain("not exported yet")
    const both = await runBin(
      [
        "alerts",
        "check",
        "--config",
        checkConfig,
        "--alerts",
        alerts,
        "--sink",
        "sqlite:./prod.db",
        "--status",
        "FAILED"
      ],
      hooks,
      { cwd: dir.path }
    )
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("--config and --sink and --status cannot be given together")
    expect(messages()).toHaveLength(1)
    expect(slack.requests()).toHaveLength(1)
    expect(existsSync(join(dir.path, "later.db"))).toBe(false)

    // A restart: nothing repeated.
    const second = start()
    expect(await moreRuns(second, ["prod", "eu"], 3), second.stderr()).toBe(true)
    expect(messages()).toHaveLength(1)
    expect(slack.requests()).toHaveLength(1)

    // prod recovers: its resolved message, once.
    for (const e of spike) prod.setStatus(String(e.id), "SUCCEEDED")
    expect(await waitFor(() => messages().length >= 2, 60_000), second.stderr()).toBe(true)
    expect(await moreRuns(second, ["prod", "eu"])).toBe(true)
    expect(messages()[1]).toMatchObject({ stream: "prod", rule: "any-failure", state: "resolved" })
    expect(messages()).toHaveLength(2)
    expect(String(slack.accepted()[1]!.text)).toContain("stream prod: RESOLVED any-failure")

    // Now eu fails: its own firing message, whatever prod's state.
    failNew(eu, 2)
    expect(await waitFor(() => messages().length >= 3, 60_000), second.stderr()).toBe(true)
    expect(await moreRuns(second, ["prod", "eu"])).toBe(true)
    expect(messages()).toHaveLength(3)
    expect(messages()[2]).toMatchObject({ stream: "eu", state: "firing", failures: 2 })
    expect(new Set(json.requests().map((r) => r.headers["x-taskhistory-delivery"])).size).toBe(3)
    // The alert metrics of this process, per stream: prod's resolved and eu's firing, to both webhooks.
    const address = /metrics on (http:\/\/\S+\/metrics)/.exec(second.stderr())?.[1]
    const text = await (await fetch(address!)).text()
    const sample = (name: string, ...labels: ReadonlyArray<string>) =>
      text
        .split("\n")
        .find((line) => line.startsWith(`${name}{`) && labels.every((l) => line.includes(l)))
        ?.split(" ")
        .at(-1)
    expect(sample("taskhistory_alert_notifications_total", 'stream="prod"', 'result="delivered"')).toBe("2")
    expect(sample("taskhistory_alert_notifications_total", 'stream="eu"', 'result="delivered"')).toBe("2")
    expect(sample("taskhistory_alerts_firing", 'stream="eu"', 'rule="any-failure"')).toBe("1")
    expect(sample("taskhistory_alerts_firing", 'stream="prod"', 'rule="any-failure"')).toBe("0")
    second.child.kill("SIGTERM")
    expect((await second.done).code).toBe(0)
    // The export itself is exact.
    for (const [db, sim] of [
      ["prod.db", prod],
      ["eu.db", eu]
    ] as const) {
      expect(diff((await readSqlite(join(dir.path, db))).rows, sim.dataset())).toEqual([])
    }
  }, 300_000)
})

if (pgUrl === undefined) {
  describe("taskhistory-exporter run --config --alerts with replicas", () => {
    it("needs Postgres: set TASKHISTORY_TEST_PG_URL to run this suite", () => {
      console.warn("exporter --config --alerts replica tests skipped: TASKHISTORY_TEST_PG_URL is not set")
    })
  })
} else {
  const made = schemas("cfgalerts")
  afterAll(() => made.dropAll())

  describe("taskhistory-exporter run --config --alerts with replicas", () => {
    it("only each stream's leader evaluates and sends; after kill -9 of the leader, the new one repeats nothing and resolves once", async () => {
      const prod = await project("prod", 91)
      const eu = await project("eu", 92)
      json.clear()
      slack.clear()
      const prodSchema = made.next()
      const euSchema = made.next()
      const config = file(
        "replicas.yaml",
        `streams:\n${streamOf("prod", prod, sinkOf(prodSchema))}${streamOf("eu", eu, sinkOf(euSchema))}`
      )
      const alerts = rules()
      const replica = () =>
        spawnBin(
          ["run", "--config", config, "--alerts", alerts, "--lease", "3s", "--lease-check", "1s"],
          env(),
          { cwd: dir.path, timeoutMs: 240_000 }
        )
      const replicas = [replica(), replica()]
      const leaderOf = async (schema: string) =>
        replicaOf(replicas, (await leaseOf(schema).catch(() => undefined))?.holder)
      // Each replica leads one stream.
      expect(
        await waitFor(
          async () => {
            const a = await leaderOf(prodSchema)
            const b = await leaderOf(euSchema)
            return a !== undefined && b !== undefined && a !== b
          },
          120_000,
          100
        ),
        replicas.map((r) => r.stderr()).join("\n")
      ).toBe(true)
      expect(
        await waitFor(
          async () => (await exactIn(prodSchema, prod)) && (await exactIn(euSchema, eu)),
          120_000,
          200
        )
      ).toBe(true)
      const prodLeader = (await leaderOf(prodSchema))!
      const euLeader = (await leaderOf(euSchema))!
      expect(await moreRuns(prodLeader, ["prod"], 2)).toBe(true)

      failNew(prod, 4)
      expect(await waitFor(() => messages().length >= 1, 60_000), prodLeader.stderr()).toBe(true)
      expect(await moreRuns(prodLeader, ["prod"])).toBe(true)
      expect(await moreRuns(euLeader, ["eu"])).toBe(true)
      expect(messages()).toEqual([expect.objectContaining({ stream: "prod", state: "firing", failures: 4 })])
      // The leader of prod evaluated it; the other replica (leading eu) did not.
      expect(prodLeader.stderr()).toMatch(/alerts: 1 rule\(s\) from .* stream=prod/)
      expect(prodLeader.stderr()).toMatch(/alert stream prod: FIRING any-failure/)
      expect(euLeader.stderr()).not.toMatch(/alerts: 1 rule\(s\) from .* stream=prod/)
      expect(euLeader.stderr()).not.toMatch(/alert stream prod/)

      // The leader of prod dies; the other takes prod over and repeats nothing.
      prodLeader.child.kill("SIGKILL")
      await prodLeader.done
      expect(await waitFor(async () => (await leaderOf(prodSchema)) === euLeader, 60_000, 100)).toBe(true)
      expect(await waitFor(() => /took stream prod over from/.test(euLeader.stderr()), 30_000)).toBe(true)
      expect(await moreRuns(euLeader, ["prod", "eu"], 3)).toBe(true)
      expect(messages()).toHaveLength(1)

      // prod recovers: one resolved message, from the new leader.
      for (const r of prod.dataset()) if (r.status === "FAILED") prod.setStatus(String(r.id), "SUCCEEDED")
      expect(await waitFor(() => messages().length >= 2, 60_000), euLeader.stderr()).toBe(true)
      expect(await moreRuns(euLeader, ["prod", "eu"])).toBe(true)
      expect(messages()).toHaveLength(2)
      expect(messages()[1]).toMatchObject({ stream: "prod", state: "resolved" })
      expect(euLeader.stderr()).toMatch(/alert stream prod: RESOLVED any-failure/)
      expect(slack.accepted().map((m) => String(m.text).includes("stream prod: "))).toEqual([true, true])
      euLeader.child.kill("SIGTERM")
      expect((await euLeader.done).code).toBe(0)
    }, 300_000)

    it("replicas of one --sink with --alerts: only the leader sends; after kill -9 of it the new leader repeats nothing", async () => {
      const sim = await project("solo", 93)
      json.clear()
      slack.clear()
      const schema = made.next()
      const alerts = rules()
      const replica = () =>
        spawnBin(
          [
            "run",
            "--every",
            "1s",
            "--sink",
            sinkOf(schema),
            "--alerts",
            alerts,
            "--lease",
            "3s",
            "--lease-check",
            "1s"
          ],
          {
            ...env(),
            PARAGON_BASE_URL: sim.url,
            PARAGON_PROJECT_ID: sim.projectId,
            PARAGON_API_KEY: sim.apiKey
          },
          { cwd: dir.path, timeoutMs: 240_000 }
        )
      const replicas = [replica(), replica()]
      const leaderNow = async () =>
        replicaOf(replicas, (await leaseOf(schema).catch(() => undefined))?.holder)
      expect(
        await waitFor(
          async () => (await leaderNow()) !== undefined && (await exactIn(schema, sim)),
          120_000,
          100
        )
      ).toBe(true)
      const leader = (await leaderNow())!
      const standby = replicas.find((r) => r !== leader)!
      const completed = (r: Running) =>
        r
          .stderr()
          .split("\n")
          .filter((l) => l.includes('message="run complete')).length
      const more = (r: Running, n = 2) => {
        const from = completed(r)
        return waitFor(() => completed(r) >= from + n, 60_000, 50)
      }
      failNew(sim, 3)
      expect(await waitFor(() => messages().length >= 1, 60_000), leader.stderr()).toBe(true)
      expect(await more(leader)).toBe(true)
      expect(messages()).toEqual([expect.objectContaining({ state: "firing", failures: 3 })])
      // The standby evaluated nothing: its alerting starts only when it leads.
      expect(standby.stderr()).not.toMatch(/alerts: 1 rule\(s\)/)

      leader.child.kill("SIGKILL")
      await leader.done
      expect(await waitFor(async () => (await leaderNow()) === standby, 60_000, 100)).toBe(true)
      expect(await more(standby, 3)).toBe(true)
      expect(standby.stderr()).toMatch(/alerts: 1 rule\(s\)/)
      expect(messages()).toHaveLength(1)
      for (const r of sim.dataset()) if (r.status === "FAILED") sim.setStatus(String(r.id), "SUCCEEDED")
      expect(await waitFor(() => messages().length >= 2, 60_000), standby.stderr()).toBe(true)
      expect(await more(standby)).toBe(true)
      expect(messages().map((m) => m.state)).toEqual(["firing", "resolved"])
    }, 300_000)
  })
}
