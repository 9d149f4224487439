// Benchmark of `--steps all` into a file sink (issue 16 follow-up), against the same export into
// SQLite (the embedded default) in the same run: the built exporter binary
// (apps/exporter/dist/bin.js) exports N executions and every step of them from the simulator's
// binary (its own process, no rate limit), `run --once --steps all`, into `sqlite:` (baseline),
// `ndjson:` and `parquet:`, in turn, for each round. Prints each sink's wall time and CPU time
// (user + system, of the exporter's process) and the ratio to SQLite's (medians of the rounds).
// A file sink rewrites its state (`_state.json`, with the step backlog) and the touched day
// files with every batch, where SQLite updates rows in place: this measures what that costs.
// Writes its section of bench/RESULTS-steps.md.
//
//   node bench/steps-files.mjs [--records 20000] [--rounds 3]
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const records = arg("records", 20000)
const rounds = arg("rounds", 3)
const bin = fileURLToPath(new URL("../apps/exporter/dist/bin.js", import.meta.url))
const simBin = fileURLToPath(new URL("../packages/simulator/dist/bin.js", import.meta.url))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const hook =
  "data:text/javascript,process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('CPU '+(u.userCPUTime+u.systemCPUTime)+' MAXRSS '+u.maxRSS+'\\n')})"

/** The simulator's binary on a free port; resolves with its environment lines and the process. */
const startSimulator = () =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [simBin, "--port", "0", "--records", String(records), "--seed", "16"],
      {
        stdio: ["ignore", "pipe", "ignore"]
      }
    )
    let out = ""
    child.stdout.on("data", (b) => {
      out += b
      const env = Object.fromEntries([...out.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]))
      if (env.PARAGON_API_KEY !== undefined) resolve({ child, env })
    })
    child.once("exit", (code) => reject(new Error(`the simulator exited ${code}`)))
  })

const exportOnce = (sim, sink) =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(
      process.execPath,
      ["--import", hook, bin, "run", "--once", "--steps", "all", "--sink", sink],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          NO_COLOR: "1",
          ...sim.env,
          PARAGON_RATE_LIMIT: "100000/1s"
        },
        stdio: ["ignore", "ignore", "pipe"]
      }
    )
    let stderr = ""
    child.stderr.on("data", (b) => {
      stderr += b
    })
    child.once("close", (code) => {
      if (code !== 0) return reject(new Error(`${sink}: exited ${code}: ${stderr.slice(-400)}`))
      const cpu = Number(/CPU (\d+)/.exec(stderr)?.[1]) / 1000
      const rss = Number(/MAXRSS (\d+)/.exec(stderr)?.[1]) / 1024
      resolve({ ms: performance.now() - started, cpu, rss })
    })
  })

const sinks = ["sqlite", "ndjson", "parquet"]
const results = Object.fromEntries(sinks.map((s) => [s, []]))
const sim = await startSimulator()
try {
  for (let r = 0; r < rounds; r++) {
    for (const kind of sinks) {
      const dir = mkdtempSync(join(tmpdir(), "th-bench-steps-files-"))
      const sink = kind === "sqlite" ? `sqlite:${join(dir, "th.db")}` : `${kind}:${join(dir, "out")}`
      try {
        const x = await exportOnce(sim, sink)
        results[kind].push(x)
        console.error(
          `round ${r + 1} ${kind}: ${(x.ms / 1000).toFixed(1)} s wall, ${(x.cpu / 1000).toFixed(1)} s CPU, ${x.rss.toFixed(0)} MB peak RSS`
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
} finally {
  sim.child.kill("SIGTERM")
}

const med = (kind, field) => median(results[kind].map((x) => x[field]))
const rows = sinks.map((kind) => {
  const wall = med(kind, "ms")
  const cpu = med(kind, "cpu")
  return `| \`${kind}:\` | ${(wall / 1000).toFixed(1)} s | ${(cpu / 1000).toFixed(1)} s | ${(cpu / med("sqlite", "cpu")).toFixed(2)}x | ${(wall / med("sqlite", "ms")).toFixed(2)}x | ${Math.max(...results[kind].map((x) => x.rss)).toFixed(0)} MB |`
})
const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(" ")
console.log(rows.join("\n"))
const section = `<!-- steps-files: written by bench/steps-files.mjs -->
## steps into file sinks (\`node bench/steps-files.mjs\`)

\`run --once --steps all\` of ${records.toLocaleString("en")} executions and all their steps from the simulator's binary (its own
process, no rate limit), into each sink in turn, ${rounds} rounds; medians. SQLite is the baseline: a file sink rewrites
\`_state.json\` (with the step backlog) and the day files a batch touches, where SQLite updates rows in place.
${cpus().length} cores, load average ${load} at the end.

| sink | wall | CPU (user + system) | CPU / SQLite's | wall / SQLite's | peak RSS (max) |
| --- | --- | --- | --- | --- | --- |
${rows.join("\n")}
`
const file = fileURLToPath(new URL("./RESULTS-steps.md", import.meta.url))
const current = readFileSync(file, "utf8")
const marker = "<!-- steps-files: written by bench/steps-files.mjs -->"
const at = current.indexOf(marker)
const end = at === -1 ? -1 : current.indexOf("\n<!-- ", at + marker.length)
const head = at === -1 ? `${current.trimEnd()}\n\n` : current.slice(0, at)
const tail = end === -1 ? "" : current.slice(end + 1)
writeFileSync(file, `${head}${section}${tail === "" ? "" : `\n${tail}`}`)
