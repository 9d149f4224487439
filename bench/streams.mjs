// Benchmark of `taskhistory-exporter run --config` (built apps/exporter/dist/bin.js): three
// projects across three replicas, each project at a scaled budget.
//
// Each project is its own simulator, in its own child process, enforcing N requests per sliding W
// (429 beyond), with its own key and its own Postgres schema. Per round:
//   baseline: one process runs a config with one stream (one project alone);
//   fleet:    three replicas run one config with the three streams (lease rows spread them; the
//             budget of each key is shared through Redis, `rateLimitRedis`).
// For each project: from the simulator's arrival log, K accepted requests, T from the first to the
// last start, and the budget bound floor((K - 1) / N) * W (the fastest K requests can go without a
// refusal); the starts of the first requests of each window show where the time over it goes
// (a window replays the spacing of the one before it). Prints T / bound per project (target
// <= 1.05, zero 429s), the baseline's alongside, the spread (leaders of the three streams) and checks the rows (each schema holds exactly its project).
// Writes its section of bench/RESULTS-replicas.md.
//
//   TASKHISTORY_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test TASKHISTORY_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//     node bench/streams.mjs [--rounds 3] [--records 20000] [--n 100] [--w 10000]
import { fork, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { startSimulator } from "@taskhistory/simulator"

// Child role: one simulator in its own process (the real API is not in the exporters' machine, and
// a simulator in this process would share its event loop with the polling and the other projects).
if (process.argv[2] === "--sim") {
  const [seed, count, limit] = process.argv.slice(3)
  const sim = await startSimulator({
    records: Number(count),
    seed: Number(seed),
    latency: 20,
    rateLimit: limit
  })
  process.send({ url: sim.url, projectId: sim.projectId, apiKey: sim.apiKey, records: sim.dataset().length })
  process.on("message", async (message) => {
    if (message === "report") {
      const arrivals = sim.arrivals().filter((a) => a.route !== "other")
      process.send({ arrivals, ids: sim.dataset().map((r) => r.id) })
    } else if (message === "close") {
      await sim.close()
      process.exit(0)
    }
  })
  await new Promise(() => {})
}

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const rounds = arg("rounds", 3)
const records = arg("records", 20000)
const n = arg("n", 100)
const w = arg("w", 10000)
const pg = process.env.TASKHISTORY_TEST_PG_URL
const redis = process.env.TASKHISTORY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
if (!pg) {
  console.error("bench streams: set TASKHISTORY_TEST_PG_URL (a Postgres database to write into)")
  process.exit(2)
}
const bin = fileURLToPath(new URL("../apps/exporter/dist/bin.js", import.meta.url))
const sinkOf = (schema) => `${pg}${pg.includes("?") ? "&" : "?"}schema=${schema}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const baseEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_COLOR: "1" }

/** Rows and the lease holder of a schema (psql: polling the exporter's `status` would load the machine). */
const status = (schema) => {
  const out = spawnSync(
    "psql",
    [
      pg,
      "-At",
      "-c",
      `SELECT (SELECT count(*) FROM ${schema}.workflow_executions), (SELECT holder FROM ${schema}.export_leases LIMIT 1)`
    ],
    { encoding: "utf8" }
  )
  if (out.status !== 0) return undefined
  const [rows, holder] = out.stdout.trim().split("|")
  return { rows: Number(rows), leader: holder === "" ? null : holder }
}
const ids = (schema) => {
  const out = spawnSync("psql", [pg, "-At", "-c", `SELECT id FROM ${schema}.workflow_executions`], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024
  })
  return new Set(out.stdout.split("\n").filter((l) => l !== ""))
}
const drop = (schema) =>
  spawnSync("psql", [pg, "-q", "-c", `DROP SCHEMA IF EXISTS ${schema} CASCADE`], { stdio: "ignore" })

/** K accepted requests, T first to last start, the bound, and 429s, from a simulator's arrivals. */
const measure = ({ arrivals }) => {
  const accepted = arrivals.filter((a) => a.status !== 429)
  const k = accepted.length
  const t = accepted.at(-1).at - accepted[0].at
  const bound = Math.floor((k - 1) / n) * w
  // Where the time over the bound goes: the starts of the first requests of each window, after the first.
  const at = (i) => (i < k ? accepted[i].at - accepted[0].at : Number.NaN)
  const edges = [1, 9, n, n + 9, 2 * n, 2 * n + 9].filter((i) => i < k).map((i) => `#${i + 1}@${at(i)}`)
  return { k, t, bound, ratio: t / bound, rejected: arrivals.length - k, edges: edges.join(" ") }
}

const streamYaml = (name, sim, schema) => `  - name: ${name}
    projectId: ${sim.projectId}
    apiKeyEnv: KEY_${name.toUpperCase()}
    baseUrl: ${sim.url}
    rateLimit: ${n}/${w}ms
    rateLimitRedis: ${redis}
    sink: ${sinkOf(schema)}
    every: 1h
`

/** Runs `replicas` processes of one config over `sims` until every schema holds its dataset. */
const runFleet = async (label, sims, replicas) => {
  const dir = mkdtempSync(join(tmpdir(), "th-bench-streams-"))
  const names = sims.map((_, i) => `p${i + 1}`)
  const schemas = sims.map((_, i) => `th_bench_streams_${process.pid}_${label}_${i}`)
  const config = join(dir, "streams.yaml")
  writeFileSync(config, `streams:\n${sims.map((sim, i) => streamYaml(names[i], sim, schemas[i])).join("")}`)
  const env = { ...baseEnv }
  sims.forEach((sim, i) => {
    env[`KEY_${names[i].toUpperCase()}`] = sim.apiKey
  })
  const children = []
  for (let i = 0; i < replicas; i++) {
    children.push(
      spawn(process.execPath, [bin, "run", "--config", config, "--lease", "3s", "--lease-check", "1s"], {
        env,
        stdio: ["ignore", "ignore", "ignore"]
      })
    )
  }
  try {
    const deadline = Date.now() + 600_000
    let leaders = []
    while (Date.now() < deadline) {
      const all = schemas.map(status)
      if (all.every((s, i) => s !== undefined && s.rows === sims[i].records)) {
        leaders = all.map((s) => s.leader)
        break
      }
      await sleep(500)
    }
    if (leaders.length === 0) throw new Error(`${label}: the export did not complete`)
    const reports = await Promise.all(sims.map((sim) => sim.report()))
    // Rows exact per project: each schema holds its project's executions and nothing else.
    reports.forEach((report, i) => {
      const stored = ids(schemas[i])
      const expected = report.ids
      if (stored.size !== expected.length || expected.some((id) => !stored.has(id)))
        throw new Error(`${label}: rows of ${names[i]} not exact`)
    })
    const pids = leaders.map((l) => (l === null ? "none" : l.split(":").at(-2)))
    const results = reports.map(measure)
    console.error(
      `${label}: ${results.map((x, i) => `${names[i]} K=${x.k} T=${x.t} ms bound=${x.bound} ms ratio=${x.ratio.toFixed(3)} 429s=${x.rejected} [${x.edges}]`).join("; ")}; leaders ${pids.join(", ")}`
    )
    return { results, leaders: pids }
  } finally {
    for (const child of children) child.kill("SIGTERM")
    await sleep(500)
    for (const child of children) child.kill("SIGKILL")
    for (const schema of schemas) drop(schema)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A simulator in a child process: its address, `report()` (arrivals and dataset ids) and `close()`. */
const simulator = (seed) =>
  new Promise((resolve, reject) => {
    const child = fork(
      fileURLToPath(import.meta.url),
      ["--sim", String(seed), String(records), `${n}/${w}ms`],
      {
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      }
    )
    child.once("error", reject)
    child.once("message", (address) => {
      const report = () =>
        new Promise((done) => {
          child.once("message", done)
          child.send("report")
        })
      const close = () =>
        new Promise((done) => {
          child.once("exit", done)
          child.send("close")
        })
      resolve({ ...address, report, close })
    })
  })

const rows = []
for (let r = 0; r < rounds; r++) {
  const lone = await simulator(700 + r)
  const base = await runFleet(`r${r}_base`, [lone], 1).finally(() => lone.close())
  const sims = await Promise.all([simulator(710 + r * 3), simulator(711 + r * 3), simulator(712 + r * 3)])
  const fleet = await runFleet(`r${r}_fleet`, sims, 3).finally(() => Promise.all(sims.map((s) => s.close())))
  const spread = new Set(fleet.leaders).size
  const row = { round: r + 1, base: base.results[0], fleet: fleet.results, spread }
  rows.push(row)
  console.error(
    `round ${r + 1}: baseline ${base.results[0].ratio.toFixed(3)}; fleet ${fleet.results.map((x) => x.ratio.toFixed(3)).join(", ")}; 429s ${fleet.results.map((x) => x.rejected).join("/")}; ${spread} distinct leaders`
  )
}

const ratios = rows.flatMap((row) => row.fleet.map((x) => x.ratio))
const worst = Math.max(...ratios)
const best = Math.min(...ratios)
const rejected = rows.reduce((sum, row) => sum + row.fleet.reduce((s, x) => s + x.rejected, 0), 0)
const baseRatios = rows.map((row) => row.base.ratio)
const met = worst <= 1.05 && rejected === 0
const vsBase = rows.flatMap((row) => row.fleet.map((x) => x.t / row.base.t))
console.log(
  `three projects over three replicas at ${n}/${w / 1000}s each: T / bound ${best.toFixed(3)}-${worst.toFixed(3)} over ${rounds} rounds (baseline, one project alone: ${Math.min(...baseRatios).toFixed(3)}-${Math.max(...baseRatios).toFixed(3)}), ${rejected} 429s; target <= 1.05 and zero 429s: ${met ? "met" : "not met"}`
)

const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(" ")
const table = rows
  .map(
    (row) =>
      `| ${row.round} | ${row.base.k} / ${(row.base.t / 1000).toFixed(1)} s / ${(row.base.bound / 1000).toFixed(0)} s / **${row.base.ratio.toFixed(3)}** | ${row.fleet
        .map(
          (x) =>
            `${x.k} / ${(x.t / 1000).toFixed(1)} s / ${(x.bound / 1000).toFixed(0)} s / **${x.ratio.toFixed(3)}**`
        )
        .join(" | ")} | ${row.fleet.map((x) => x.rejected).join(", ")} | ${row.spread} of 3 |`
  )
  .join("\n")
const section = `<!-- streams: written by bench/streams.mjs -->
## replicas: three projects across three replicas (\`node bench/streams.mjs\`)

Three simulators, one per project and each in its own process (${records.toLocaleString("en")} executions each, 20 ms latency), each enforcing
${n} requests per sliding ${w / 1000} s (429 beyond). Three replicas of \`taskhistory-exporter run --config\` with one
file listing the three streams (\`rateLimit: ${n}/${w}ms\`, \`rateLimitRedis\`: each key's budget shared through
Redis), each stream into its own Postgres schema, \`--lease 3s --lease-check 1s\`. Baseline: one process running a
config with one project alone, same budget. Per project, from the simulator's arrival log: K accepted requests,
T from the first to the last start, the budget bound floor((K - 1) / ${n}) x ${w / 1000} s, and T / bound (target
<= 1.05, zero 429s). ${cpus().length} cores, load average ${load} (shared with other builds and tests).

| round | baseline: K / T / bound / **T/bound** | p1 | p2 | p3 | 429s | leaders |
| --- | --- | --- | --- | --- | --- | --- |
${table}

Fleet T / bound: ${best.toFixed(3)} to ${worst.toFixed(3)}; baseline ${Math.min(...baseRatios).toFixed(3)} to ${Math.max(...baseRatios).toFixed(3)}; fleet T / baseline T
of the same round: ${Math.min(...vsBase).toFixed(3)} to ${Math.max(...vsBase).toFixed(3)}; 429s: ${rejected}.
Target (each project within 1.05x of its bound, zero 429s): **${met ? "met" : "not met"}**. "leaders" counts the
distinct replicas leading the three streams when the export completed (3 of 3: spread one each). Rows are exact
per project in every round (each schema holds its simulator's dataset and nothing else).
`
const results = fileURLToPath(new URL("./RESULTS-replicas.md", import.meta.url))
const current = readFileSync(results, "utf8")
const marker = "<!-- streams: written by bench/streams.mjs -->"
const head = current.includes(marker) ? current.slice(0, current.indexOf(marker)) : `${current.trimEnd()}\n\n`
writeFileSync(results, `${head}${section}`)
