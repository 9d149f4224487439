// Benchmark of the analysis commands reading an export (`--source sqlite:`), with the built
// binaries:
//   1. `taskhistory report --source sqlite:DB` over a 1M-row export (written through the SQLite
//      sink, 180 days, the report on the last 90): wall time and peak RSS of the whole command,
//      against a baseline in the same script: a plain better-sqlite3 loop over the same columns
//      computing the headline counts (the cost of reading the rows alone).
//   2. `taskhistory usage --by workflow` from the export vs from the API over the simulator (no
//      rate limit): the ratio of times, same dataset, same output.
//
//   node bench/report-source.mjs [--rows 1000000] [--api-records 200000]
import { fork, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const here = dirname(self)
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const CLI = fileURLToPath(new URL("../apps/cli/dist/bin.js", import.meta.url))
const EXPORTER = fileURLToPath(new URL("../apps/exporter/dist/bin.js", import.meta.url))
const RSS_HOOK =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.TH_BENCH_RSS_OUT,String(process.resourceUsage().maxRSS)))"
const END = "2026-08-30T00:00:00.000Z"
const START = "2026-06-01T00:00:00.000Z"
const DAY = 86_400_000

const random = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ----------------------------------------------------------------------------- child: write the export
if (args[0] === "--child-write") {
  const [, path, rowsText] = args
  const rows = Number(rowsText)
  const SqliteSink = await import("@taskhistory/export/SqliteSink")
  const { Sink } = await import("@taskhistory/export/Sink")
  const { Effect } = await import("effect")
  const rnd = random(7)
  const from = Date.parse(END) - 180 * DAY
  await Effect.runPromise(
    Effect.gen(function* () {
      const sink = yield* Sink
      for (let at = 0; at < rows; at += 10_000) {
        const records = []
        for (let i = at; i < Math.min(rows, at + 10_000); i++) {
          const w = Math.floor(800 * rnd() ** 2.5)
          const started = from + Math.floor(rnd() * 180 * DAY)
          records.push({
            id: `0b8f5c2e-${String(i).padStart(12, "0")}`,
            workflowId: `wf-7d3c1a9e-${String(w).padStart(6, "0")}`,
            userId: `customer-${String(Math.floor(20_000 * rnd() ** 2)).padStart(7, "0")}`,
            status: rnd() < 0.06 * (1 + (w % 3)) ? "FAILED" : "SUCCEEDED",
            taskCount: 1 + Math.floor(rnd() * 30),
            runDuration: Math.round(200 + 3000 * Math.exp(2 * (rnd() - 0.5))),
            dateStarted: new Date(started).toISOString(),
            dateEnded: new Date(started + 5000).toISOString()
          })
        }
        const last = at + 10_000 >= rows
        yield* sink.writeBatch({
          records,
          rejects: [],
          state: last
            ? { streamKey: "all", highWaterMark: END, longestRunMs: 60_000, lastRunAt: END, cursor: {} }
            : undefined
        })
      }
    }).pipe(Effect.provide(SqliteSink.layer({ path })))
  )
  process.send("done")
  process.exit(0)
}

// ----------------------------------------------------------------------------- child: baseline
else if (args[0] === "--child-baseline") {
  const { default: Database } = await import("better-sqlite3")
  const db = new Database(args[1], { readonly: true })
  const t0 = performance.now()
  let executions = 0
  let tasks = 0
  let failures = 0
  const s = Date.parse(START) - (Date.parse(END) - Date.parse(START))
  const e = Date.parse(END)
  const stmt = db
    .prepare(
      "SELECT id, user_id, workflow_id, status, task_count, run_duration_ms, date_started, date_ended FROM workflow_executions WHERE date_started >= ? AND date_started <= ?"
    )
    .raw(true)
  for (const row of stmt.iterate(new Date(s - DAY).toISOString(), new Date(e + DAY).toISOString())) {
    const t = Date.parse(row[6])
    if (t >= s && t <= e) {
      executions++
      tasks += row[4] ?? 0
      if (row[3] === "FAILED") failures++
    }
  }
  process.send({
    ms: performance.now() - t0,
    executions,
    tasks,
    failures,
    maxRssMb: process.resourceUsage().maxRSS / 1024
  })
  process.exit(0)
}

// ----------------------------------------------------------------------------- parent
else {
  const rows = Number(flag("rows", "1000000"))
  const apiRecords = Number(flag("api-records", "200000"))
  const dir = mkdtempSync(join(tmpdir(), "taskhistory-bench-report-source-"))
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")
  const child = (...childArgs) =>
    new Promise((resolve, reject) => {
      const p = fork(self, childArgs.map(String), { stdio: ["ignore", "inherit", "inherit", "ipc"] })
      p.once("message", resolve)
      p.once("exit", (code) =>
        code === 0 ? undefined : reject(new Error(`${childArgs[0]} exited with ${code}`))
      )
    })
  /** A built binary: wall time (start-up included) and peak RSS. */
  const bin = (file, binArgs, env = {}) =>
    new Promise((resolve, reject) => {
      const rssOut = join(dir, `rss-${Date.now()}-${Math.random()}`)
      const t0 = performance.now()
      const p = spawn(process.execPath, ["--import", RSS_HOOK, file, ...binArgs], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...env, TH_BENCH_RSS_OUT: rssOut, TASKHISTORY_CODE_CACHE: "0" }
      })
      let stdout = ""
      let stderr = ""
      p.stdout.on("data", (b) => (stdout += b))
      p.stderr.on("data", (b) => (stderr += b))
      p.on("close", (code) => {
        const ms = performance.now() - t0
        if (code !== 0) return reject(new Error(`${binArgs.join(" ")} exited ${code}: ${stderr}`))
        resolve({ ms, maxRssMb: Number(readFileSync(rssOut, "utf8")) / 1024, stdout, stderr })
      })
    })
  const loadBefore = load()
  const db = join(dir, "export.db")
  const tw = performance.now()
  await child("--child-write", db, rows)
  const writeMs = performance.now() - tw
  const size = statSync(db).size
  const base = await child("--child-baseline", db)
  const out = join(dir, "report.html")
  const reports = []
  for (let i = 0; i < 2; i++) {
    reports.push(
      await bin(CLI, ["report", "--source", `sqlite:${db}`, "--after", START, "--before", END, "-o", out])
    )
  }
  const report = reports.sort((a, b) => a.ms - b.ms)[0]
  const html = readFileSync(out, "utf8")
  const executions = Number(
    /data-metric="executions"><dt>[^<]*<\/dt><dd><span class="value" data-value="(\d+)"/.exec(html)[1]
  )
  console.error(
    `report --source sqlite: ${report.ms.toFixed(0)} ms, ${report.maxRssMb.toFixed(0)} MB; baseline ${base.ms.toFixed(0)} ms`
  )

  // usage --by workflow: export vs API, on the simulator's data.
  const { startSimulator } = await import("@taskhistory/simulator")
  const sim = await startSimulator({ records: apiRecords, seed: 5, now: END })
  const env = { PARAGON_BASE_URL: sim.url, PARAGON_PROJECT_ID: sim.projectId, PARAGON_API_KEY: sim.apiKey }
  const simDb = join(dir, "sim.db")
  // Asynchronously: the simulator answers from this process.
  await bin(EXPORTER, ["run", "--once", "--sink", `sqlite:${simDb}`, "--since", "2026-01-01"], env)
  const usageArgs = ["usage", "--by", "workflow", "--format", "json", "--rate-limit", "100000/1s"]
  const fromApi = []
  const fromExport = []
  for (let i = 0; i < 2; i++) {
    fromApi.push(await bin(CLI, usageArgs, env))
    fromExport.push(await bin(CLI, [...usageArgs, "--source", `sqlite:${simDb}`]))
  }
  await sim.close()
  const api = fromApi.sort((a, b) => a.ms - b.ms)[0]
  const exp = fromExport.sort((a, b) => a.ms - b.ms)[0]
  const { source: _, ...fromExportReport } = JSON.parse(exp.stdout)
  const same = JSON.stringify(fromExportReport) === JSON.stringify(JSON.parse(api.stdout))
  rmSync(dir, { recursive: true, force: true })

  const lines = [
    "# Report and usage from the export (`bench/report-source.mjs`)",
    "",
    `\`node bench/report-source.mjs --rows ${rows} --api-records ${apiRecords}\` (after \`pnpm build\`), the built binaries, no`,
    "code cache (TASKHISTORY_CODE_CACHE=0), best of 2 runs; peak RSS of the whole process.",
    "",
    `Load average (1, 5, 15 min): ${loadBefore} before, ${load()} after. Node ${process.version}, ${new Date().toISOString().slice(0, 16)} UTC.`,
    "",
    `A ${rows.toLocaleString("en-US")}-row SQLite export (${(size / 1048576).toFixed(0)} MB, written through the SQLite sink in ${(writeMs / 1000).toFixed(1)} s) over 180 days;`,
    `the report covers the last 90 days (${executions.toLocaleString("en-US")} executions) and compares them with the 90 before, so every row is read.`,
    "",
    "| measure | time | peak RSS |",
    "|---|---|---|",
    `| baseline: better-sqlite3 loop over the same rows, headline counts only | ${base.ms.toFixed(0)} ms | ${base.maxRssMb.toFixed(0)} MB |`,
    `| **\`taskhistory report --source sqlite:\`** (start-up, read, aggregate, render, write) | **${report.ms.toFixed(0)} ms** | **${report.maxRssMb.toFixed(0)} MB** |`,
    "",
    `Ratio to the baseline: ${(report.ms / base.ms).toFixed(2)}x. Target (issue 17): <= 5 s and <= 300 MB peak RSS.`,
    "",
    `\`taskhistory usage --by workflow\` over the simulator's ${apiRecords.toLocaleString("en-US")} executions (no rate limit), the same`,
    `report from both (${same ? "checked equal" : "NOT EQUAL"}):`,
    "",
    "| source | time | peak RSS |",
    "|---|---|---|",
    `| API (simulator on 127.0.0.1, ${Math.ceil(apiRecords / 100).toLocaleString("en-US")} pages) | ${api.ms.toFixed(0)} ms | ${api.maxRssMb.toFixed(0)} MB |`,
    `| export (\`--source sqlite:\`) | ${exp.ms.toFixed(0)} ms | ${exp.maxRssMb.toFixed(0)} MB |`,
    "",
    `Ratio, API over export: **${(api.ms / exp.ms).toFixed(1)}x**, and zero API requests instead of ${Math.ceil(apiRecords / 100).toLocaleString("en-US")}: at the real budget of`,
    `1,000 requests per 10 minutes the API read would take ${((Math.ceil(apiRecords / 100) / 1000) * 10).toFixed(0)} minutes.`
  ]
  writeFileSync(join(here, "RESULTS-report-source.md"), `${lines.join("\n")}\n`)
  console.log(lines.join("\n"))
}
