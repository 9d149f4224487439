// Benchmark of @taskhistory/export (built dist): a full export from the simulator into SQLite
// against a hand-written baseline (fetch + JSON.parse + better-sqlite3 prepared upserts in one
// transaction per page, sequential pages) in the same script; peak RSS at 100k and 1M; and an
// export under a scaled budget (40 requests per 4 s): wall time / theoretical minimum, and 429s.
//
// The simulator runs in its own child process; each exporter (baseline or engine) runs in a fresh
// child process so its peak RSS (maxRSS) is measured alone.
//
// Besides the engine under Node's default heap settings, the same engine runs with
// TUNED_FLAGS (a smaller young generation, a slower-growing old generation: V8 otherwise lets
// the old space grow to ~4x the live heap between full collections; no optimized WebAssembly),
// and the bundled binary
// (apps/exporter/dist/bin.js, `run --once --sink sqlite:PATH`) runs with and without them; its
// peak RSS comes from an `--import` hook that writes `maxRSS` at exit. `--variants` picks which of
// engine,tuned,bin,bin-tuned run (the baseline always runs).
//
// Last, the CSV encoder of the file sink and the CLI (`@taskhistory/export/Csv`, d3-dsv's) against
// the hand-written RFC 4180 encoder it replaced, on --csv-rows rows shaped like the CSV sink's
// (a long quoted `raw` JSON column), best of 3 rounds, same bytes checked.
//
//   node bench/export.mjs [--sizes 100000,1000000] [--budget-records 16000]
//                         [--variants engine,tuned,bin,bin-tuned] [--csv-rows 200000]
import { fork, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const NOW = "2026-11-28T00:00:00Z"
/**
 * Node flags of the "tuned" runs: a 4 MB young generation, old-space growth of 50% of the live
 * data, and no optimizing compiler for WebAssembly (undici's HTTP parser: a ~30 MB compiler
 * spike). The binary sets equivalents itself at start-up (see apps/exporter/build.mjs).
 */
const TUNED_FLAGS = ["--max-semi-space-size=4", "--heap-growing-percent=50", "--liftoff-only"]
const BIN = fileURLToPath(new URL("../apps/exporter/dist/bin.js", import.meta.url))
/** Writes this process's peak RSS (KB) to $TH_BENCH_RSS_OUT at exit. */
const RSS_HOOK =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.TH_BENCH_RSS_OUT,String(process.resourceUsage().maxRSS)))"

// ----------------------------------------------------------------------------- child: simulator
if (args[0] === "--child-sim") {
  const { startSimulator } = await import("@taskhistory/simulator")
  const records = Number(args[1])
  const rateLimit = args[2] === "none" ? undefined : args[2]
  const sim = await startSimulator({ records, seed: 5, now: NOW, ...(rateLimit ? { rateLimit } : {}) })
  process.send({ url: sim.url, projectId: sim.projectId, apiKey: sim.apiKey, visible: sim.dataset().length })
  process.on("disconnect", () => process.exit(0))
  process.on("message", async (m) => {
    if (m === "stats") process.send({ stats: sim.stats() })
    if (m === "stop") {
      await sim.close()
      process.exit(0)
    }
  })
}

// ----------------------------------------------------------------------------- child: baseline
else if (args[0] === "--child-baseline") {
  const { default: Database } = await import("better-sqlite3")
  const [, url, projectId, apiKey, path] = args
  const db = new Database(path)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec(`CREATE TABLE workflow_executions (id TEXT PRIMARY KEY, user_id TEXT, workflow_id TEXT, status TEXT NOT NULL,
    task_count NUMERIC, run_duration_ms NUMERIC, date_started TEXT NOT NULL, date_ended TEXT, raw TEXT NOT NULL,
    exported_at TEXT NOT NULL); CREATE INDEX we_ds ON workflow_executions (date_started)`)
  const upsert = db.prepare(`INSERT INTO workflow_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, raw = excluded.raw, exported_at = excluded.exported_at,
    date_ended = excluded.date_ended, run_duration_ms = excluded.run_duration_ms WHERE raw IS NOT excluded.raw`)
  const write = db.transaction((items, now) => {
    for (const r of items) {
      upsert.run(
        r.id,
        r.userId ?? null,
        r.workflowId ?? null,
        r.status,
        r.taskCount ?? null,
        r.runDuration ?? null,
        r.dateStarted,
        r.dateEnded ?? null,
        JSON.stringify(r),
        now
      )
    }
  })
  const rssStart = process.memoryUsage().rss / 1048576
  const t0 = performance.now()
  let records = 0
  let requests = 0
  for (let offset = 0; requests < 100_000; offset += 100) {
    const res = await fetch(
      `${url}/projects/${projectId}/task-history/workflow-executions?sortBy=ASC&offset=${offset}`,
      {
        headers: { authorization: `Bearer ${apiKey}` }
      }
    )
    requests++
    const body = JSON.parse(await res.text())
    const items = body.workflowExecutions ?? body.data
    write(items, new Date().toISOString())
    records += items.length
    if (items.length < 100 || !body.nextLink) break
  }
  const ms = performance.now() - t0
  db.close()
  process.send({
    rssStartMb: rssStart,
    records,
    requests,
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024
  })
}

// ----------------------------------------------------------------------------- child: engine
else if (args[0] === "--child-engine") {
  const [, url, projectId, apiKey, path, rateLimit] = args
  // Subpath imports: only the modules a SQLite export needs are loaded.
  const UndiciHttpClient = await import("@taskhistory/core/UndiciHttpClient")
  const RateLimiter = await import("@taskhistory/core/RateLimiter")
  const TaskHistoryClient = await import("@taskhistory/core/TaskHistoryClient")
  const TaskHistoryConfig = await import("@taskhistory/core/TaskHistoryConfig")
  const Exporter = await import("@taskhistory/export/Exporter")
  const SqliteSink = await import("@taskhistory/export/SqliteSink")
  const { Effect, Layer, Logger, LogLevel } = await import("effect")
  const client = TaskHistoryClient.layer.pipe(
    Layer.provide(RateLimiter.layerFromConfig),
    Layer.provide(TaskHistoryConfig.layer({ apiKey, projectId, baseUrl: url, rateLimit })),
    Layer.provide(UndiciHttpClient.layer)
  )
  const rssStart = process.memoryUsage().rss / 1048576
  const t0 = performance.now()
  const report = await Effect.runPromise(
    Exporter.run({ since: "2026-01-01" }).pipe(
      Effect.provide(Layer.merge(client, SqliteSink.layer({ path }))),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  )
  const ms = performance.now() - t0
  process.send({
    rssStartMb: rssStart,
    records: report.seen,
    requests: report.requests,
    rateLimited: report.rateLimited,
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024
  })
}

// ----------------------------------------------------------------------------- parent
else {
  const sizes = flag("sizes", "100000,1000000").split(",").map(Number)
  const budgetRecords = Number(flag("budget-records", "16000"))
  const dir = mkdtempSync(join(tmpdir(), "taskhistory-bench-export-"))
  const variants = new Set(flag("variants", "engine,tuned,bin,bin-tuned").split(","))
  const child = (role, ...rest) => {
    const execArgv = role.endsWith("-tuned") ? TUNED_FLAGS : []
    const p = fork(self, [role.replace(/-tuned$/, ""), ...rest.map(String)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv
    })
    const first = new Promise((resolve, reject) => {
      p.once("message", resolve)
      p.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)))
    })
    return { p, first }
  }
  const startSim = async (records, rateLimit = "none") => {
    const sim = child("--child-sim", records, rateLimit)
    const info = await sim.first
    const ask = (m) =>
      new Promise((resolve) => {
        sim.p.once("message", resolve)
        sim.p.send(m)
      })
    return { ...info, stats: () => ask("stats").then((m) => m.stats), stop: () => sim.p.send("stop") }
  }
  const runChild = async (role, sim, extra = []) => {
    const c = child(
      role,
      sim.url,
      sim.projectId,
      sim.apiKey,
      join(dir, `${role.slice(8)}-${Date.now()}.db`),
      ...extra
    )
    const out = await c.first
    await new Promise((resolve) => (c.p.exitCode === null ? c.p.once("exit", resolve) : resolve()))
    return out
  }
  /** The bundled binary, one run into a fresh SQLite file: wall time (startup included), peak RSS. */
  const runBin = async (sim, tuned) => {
    const db = join(dir, `bin-${Date.now()}.db`)
    const rssOut = join(dir, `bin-${Date.now()}.rss`)
    const t0 = performance.now()
    const p = spawn(
      process.execPath,
      [
        ...(tuned ? TUNED_FLAGS : []),
        "--import",
        RSS_HOOK,
        BIN,
        "run",
        "--once",
        "--sink",
        `sqlite:${db}`,
        "--since",
        "2026-01-01"
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: {
          ...process.env,
          TH_BENCH_RSS_OUT: rssOut,
          PARAGON_API_KEY: sim.apiKey,
          PARAGON_PROJECT_ID: sim.projectId,
          PARAGON_BASE_URL: sim.url,
          PARAGON_RATE_LIMIT: "1000000000/1s"
        }
      }
    )
    let log = ""
    p.stderr.on("data", (chunk) => {
      log = (log + chunk).slice(-20_000)
    })
    const code = await new Promise((resolve) => p.once("close", resolve))
    // The run's own duration (as for the engine: startup and imports not included).
    const reported = /message="export run finished".*?durationMs=(\d+)/.exec(log)
    const ms = reported ? Number(reported[1]) : performance.now() - t0
    if (code !== 0) process.stderr.write(log)
    const { default: Database } = await import("better-sqlite3")
    const conn = new Database(db, { readonly: true })
    const records = conn.prepare("SELECT COUNT(*) AS n FROM workflow_executions").get().n
    conn.close()
    return { code, ms, records, maxRssMb: Number(readFileSync(rssOut, "utf8")) / 1024 }
  }
  const lines = []
  const log = (line) => {
    console.log(line)
    lines.push(line)
  }
  try {
    const cell = (r, b) =>
      r === undefined ? "-" : `${r.maxRssMb.toFixed(0)} MB, ${(r.records / (r.ms / 1000) / b).toFixed(2)}x`
    log(
      "| records | baseline rec/s | engine rec/s | ratio | baseline peak RSS (after imports) | engine peak RSS (after imports) | engine, tuned flags: peak RSS, ratio | binary: peak RSS, ratio | binary, tuned flags: peak RSS, ratio |"
    )
    log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (const size of sizes) {
      const sim = await startSim(size)
      const base = await runChild("--child-baseline", sim)
      const b = base.records / (base.ms / 1000)
      const engine = variants.has("engine")
        ? await runChild("--child-engine", sim, ["1000000000/1s"])
        : undefined
      const tuned = variants.has("tuned")
        ? await runChild("--child-engine-tuned", sim, ["1000000000/1s"])
        : undefined
      const bin = variants.has("bin") && existsSync(BIN) ? await runBin(sim, false) : undefined
      const binTuned = variants.has("bin-tuned") && existsSync(BIN) ? await runBin(sim, true) : undefined
      sim.stop()
      for (const [name, r] of Object.entries({ base, engine, tuned, bin, binTuned })) {
        if (r !== undefined && (r.records !== sim.visible || (r.code ?? 0) !== 0)) {
          log(`!! ${name}: ${r.records} records of ${sim.visible}, exit code ${r.code ?? 0}`)
        }
      }
      const e = engine === undefined ? undefined : engine.records / (engine.ms / 1000)
      log(
        `| ${size} | ${b.toFixed(0)} | ${e === undefined ? "-" : e.toFixed(0)} | ${e === undefined ? "-" : `${(e / b).toFixed(2)}x`} | ${base.maxRssMb.toFixed(0)} MB (${base.rssStartMb.toFixed(0)}) | ${engine === undefined ? "-" : `${engine.maxRssMb.toFixed(0)} MB (${engine.rssStartMb.toFixed(0)})`} | ${cell(tuned, b)} | ${cell(bin, b)} | ${cell(binTuned, b)} |`
      )
    }
    // Budget: the server enforces 40/4s and so does the client.
    const sim = await startSim(budgetRecords, "40/4s")
    const engine = await runChild("--child-engine", sim, ["40/4s"])
    const stats = await sim.stats()
    sim.stop()
    const requests = engine.requests
    // Request k (0-based) may start at floor(k / 40) * 4 s at the earliest.
    const minimumMs = Math.floor((requests - 1) / 40) * 4000
    log("")
    log(`| budget | records | requests | wall | theoretical minimum | ratio | 429s |`)
    log(`|---|---:|---:|---:|---:|---:|---:|`)
    log(
      `| 40/4s | ${engine.records} | ${requests} | ${(engine.ms / 1000).toFixed(1)} s | ${(minimumMs / 1000).toFixed(1)} s | ${(engine.ms / Math.max(1, minimumMs)).toFixed(3)} | ${engine.rateLimited} (server: ${stats.rateLimited}, max ${stats.maxInWindow} in a window) |`
    )
    const csvRows = Number(flag("csv-rows", "200000"))
    if (csvRows > 0) {
      const Csv = await import("@taskhistory/export/Csv")
      const rows = []
      for (let i = 0; i < csvRows; i++) {
        const rec = {
          id: `exec-${i}-${(i * 2654435761).toString(36)}`,
          userId: `user-${i % 50}`,
          workflowId: `wf-${i % 20}`,
          status: i % 7 ? "SUCCEEDED" : "FAILED",
          taskCount: i % 13,
          runDuration: 1000 + i,
          dateStarted: new Date(1.79e12 + i * 1000).toISOString(),
          dateEnded: i % 11 ? new Date(1.79e12 + i * 1000 + 1000).toISOString() : null,
          integration: "slack",
          note: 'a "quoted", multi\nline value'
        }
        rows.push([
          rec.id,
          rec.userId,
          rec.workflowId,
          rec.status,
          rec.taskCount,
          rec.runDuration,
          rec.dateStarted,
          rec.dateEnded,
          NOW,
          JSON.stringify(rec)
        ])
      }
      // The encoder the file sink had before (fileCsv.ts): quote on , " CR LF, double the quotes.
      const field = (v) => {
        const text = v === null || v === undefined ? "" : String(v)
        return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
      }
      const handWritten = (r) => `${r.map(field).join(",")}\r\n`
      const best = (encode) => {
        let ms = Number.POSITIVE_INFINITY
        let text = ""
        for (let round = 0; round < 3; round++) {
          const t0 = performance.now()
          text = rows.map(encode).join("")
          ms = Math.min(ms, performance.now() - t0)
        }
        return { ms, text }
      }
      const base = best(handWritten)
      const lib = best((r) => Csv.formatLine(r))
      log("")
      log("| CSV encoder | rows | best of 3 | rows/s | ratio | same bytes |")
      log("|---|---:|---:|---:|---:|---|")
      log(
        `| hand-written (baseline) | ${csvRows} | ${base.ms.toFixed(0)} ms | ${(csvRows / (base.ms / 1000)).toFixed(0)} | 1.00x | - |`
      )
      log(
        `| Csv.formatLine (d3-dsv) | ${csvRows} | ${lib.ms.toFixed(0)} ms | ${(csvRows / (lib.ms / 1000)).toFixed(0)} | ${(base.ms / lib.ms).toFixed(2)}x | ${lib.text === base.text ? "yes" : "NO"} |`
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
