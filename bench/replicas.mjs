// Benchmark of replicas on one Postgres sink (built apps/exporter/dist/bin.js): takeover time.
//
// Three replicas of `taskhistory-exporter run --every 2s --lease L --lease-check C` export one
// simulator into one Postgres schema. Ten times: kill -9 the leader (found from `status --format
// json`), measure the time from the kill to the new leader's lease (`acquiredAt`, on the
// database's clock: same machine), and start a new replica so three stay. The documented bound is
// L + C; the ratios are median and max over the bound. At the end the rows must equal the
// simulator's dataset. Writes bench/RESULTS-replicas.md.
//
//   TASKHISTORY_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test node bench/replicas.mjs [--kills 10] [--lease 3000] [--check 1000]
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { startSimulator } from "@taskhistory/simulator"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const kills = arg("kills", 10)
const leaseMs = arg("lease", 3000)
const checkMs = arg("check", 1000)
const pg = process.env.TASKHISTORY_TEST_PG_URL
if (!pg) {
  console.error("bench replicas: set TASKHISTORY_TEST_PG_URL (a Postgres database to write into)")
  process.exit(2)
}
const bin = fileURLToPath(new URL("../apps/exporter/dist/bin.js", import.meta.url))
const schema = `th_bench_replicas_${process.pid}`
const sink = `${pg}${pg.includes("?") ? "&" : "?"}schema=${schema}`
const sim = await startSimulator({ records: 3000, seed: 41, latency: 20 })
const env = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  NO_COLOR: "1",
  PARAGON_BASE_URL: sim.url,
  PARAGON_PROJECT_ID: sim.projectId,
  PARAGON_API_KEY: sim.apiKey,
  PARAGON_RATE_LIMIT: "100000/1s",
  TASKHISTORY_MIN_EVERY: "1ms"
}
const replicas = new Map()
const startReplica = () => {
  const child = spawn(
    process.execPath,
    [bin, "run", "--every", "2s", "--sink", sink, "--lease", `${leaseMs}ms`, "--lease-check", `${checkMs}ms`],
    { env, stdio: ["ignore", "ignore", "ignore"] }
  )
  replicas.set(child.pid, child)
  child.on("exit", () => replicas.delete(child.pid))
}
const status = () => {
  const out = spawnSync(process.execPath, [bin, "status", "--sink", sink, "--format", "json"], {
    env,
    encoding: "utf8"
  })
  if (out.status !== 0) return undefined
  return JSON.parse(out.stdout)
}
const leaderPid = (s) => {
  const holder = s?.leases?.[0]?.leader
  return holder === null || holder === undefined ? undefined : Number(holder.split(":").at(-2))
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const waitFor = async (f, ms) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const v = f()
    if (v !== undefined && v !== false) return v
    await sleep(50)
  }
  return undefined
}

for (let i = 0; i < 3; i++) startReplica()
const times = []
try {
  if ((await waitFor(() => leaderPid(status()), 120_000)) === undefined) throw new Error("no leader")
  for (let k = 0; k < kills; k++) {
    const before = status()
    const pid = leaderPid(before)
    const killedAt = Date.now()
    replicas.get(pid)?.kill("SIGKILL")
    const after = await waitFor(() => {
      const s = status()
      const next = leaderPid(s)
      return next !== undefined && next !== pid ? s : undefined
    }, 120_000)
    if (after === undefined) throw new Error(`no takeover after kill ${k + 1}`)
    const took = Date.parse(after.leases[0].acquiredAt) - killedAt
    times.push(took)
    console.error(`kill ${k + 1}: taken over in ${took} ms (bound ${leaseMs + checkMs} ms)`)
    startReplica()
    // Let the new leader run a little (a kill lands mid-run or between runs).
    await sleep(1000 + ((k * 7919) % 2000))
  }
  sim.insert(50)
  const exact = await waitFor(() => status()?.rows === sim.dataset().length, 120_000)
  if (exact === undefined) throw new Error("rows not exact after the kills")
} finally {
  for (const child of replicas.values()) child.kill("SIGKILL")
  spawnSync("psql", [pg, "-q", "-c", `DROP SCHEMA IF EXISTS ${schema} CASCADE`], { stdio: "ignore" })
  await sim.close()
}
const sorted = [...times].sort((a, b) => a - b)
const median =
  sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
const max = sorted.at(-1)
const bound = leaseMs + checkMs
const line = `takeover after kill -9 over ${kills} kills: median ${median} ms (${(median / bound).toFixed(2)}x the bound), max ${max} ms (${(max / bound).toFixed(2)}x the bound); bound = lease ${leaseMs} ms + check ${checkMs} ms = ${bound} ms; rows exact at the end`
console.log(line)
const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(" ")
const resultsFile = fileURLToPath(new URL("./RESULTS-replicas.md", import.meta.url))
// The section of bench/streams.mjs (three projects across three replicas) is kept as it is.
const marker = "<!-- streams: written by bench/streams.mjs -->"
const previous = existsSync(resultsFile) ? readFileSync(resultsFile, "utf8") : ""
const streamsSection = previous.includes(marker) ? `\n${previous.slice(previous.indexOf(marker))}` : ""
writeFileSync(
  resultsFile,
  `## replicas: takeover time (\`node bench/replicas.mjs\`)

Three replicas of \`taskhistory-exporter run --every 2s --lease ${leaseMs}ms --lease-check ${checkMs}ms\` on one
Postgres schema, one simulator (3,000 executions, 20 ms latency). ${kills} times: kill -9 the leader, time
from the kill to the new leader's lease (\`acquiredAt\` in \`status --format json\`), start a new replica.
${cpus().length} cores, load average ${load} (shared with other builds and tests).

| kills | median | max | bound (lease + check) | median / bound | max / bound |
| --- | --- | --- | --- | --- | --- |
| ${kills} | ${median} ms | ${max} ms | ${bound} ms | ${(median / bound).toFixed(2)} | ${(max / bound).toFixed(2)} |

Each kill: ${times.map((t) => `${t} ms`).join(", ")}. After the kills and 50 new executions, the rows equal the
simulator's dataset. The leader renews every check, so a kill lands 0 to one check after its last renewal:
the takeover comes between lease - check and lease + check after the kill, plus the time a loaded machine
takes to run a check.
${streamsSection}`
)
