// Benchmark of @taskhistory/report (built dist): aggregation + rendering of the HTML report over
// 1M executions (90 days and the 90 days before them), time and peak RSS, against baselines run in
// the same script; and the size of the HTML for 90 days of a busy project.
//
// Each variant runs in a fresh child process, so its peak RSS (maxRSS) is its own:
//   - "generate": the records alone (the cost of producing 1M objects, as a reader would);
//   - "baseline": a hand-written loop over the same records computing the headline, per-workflow
//     and per-user counts and the per-workflow p50/p95/p99 (one Float64Array sort per workflow);
//   - "report":   Report.fromStream (core's Usage accumulators, hours, durations) + Report.render;
//   - "report-tuned": the same under TUNED_FLAGS, the heap settings the exporter binary sets for
//     itself at start-up (apps/exporter/build.mjs): most of the default peak RSS is garbage V8 has
//     not collected yet (the live heap stays under 80 MB: it runs with --max-old-space-size=80).
// Records are generated lazily (never all in memory), like rows read from the export.
//
//   node bench/report.mjs [--records 1000000] [--rounds 3]
import { fork } from "node:child_process"
import { writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const here = dirname(self)
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const START = "2026-06-01T00:00:00Z"
const END = "2026-08-30T00:00:00Z"
/** The young generation kept at 1 MB semi-spaces and the old space grown by 50% of the live data. */
const TUNED_FLAGS = ["--max-semi-space-size=1", "--heap-growing-percent=50"]

/** A seeded generator (mulberry32). */
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

/** `count` executions over the period and the one before it, skewed over workflows and users. */
function* records(count, { workflows = 800, users = 20_000 } = {}) {
  const rnd = random(42)
  const from = Date.parse(START) - (Date.parse(END) - Date.parse(START))
  const span = Date.parse(END) - from
  for (let i = 0; i < count; i++) {
    const w = Math.floor(workflows * rnd() ** 2.5)
    const u = Math.floor(users * rnd() ** 2)
    const started = from + Math.floor(rnd() * span)
    yield {
      id: `0b8f5c2e-${String(i).padStart(12, "0")}`,
      projectId: "00000000-0000-4000-8000-000000000001",
      workflowId: `wf-7d3c1a9e-${String(w).padStart(6, "0")}`,
      userId: `customer-${String(u).padStart(7, "0")}`,
      integration: `int-${w % 12}`,
      status: rnd() < 0.06 * (1 + (w % 3)) ? "FAILED" : "SUCCEEDED",
      taskCount: 1 + Math.floor(rnd() * 30),
      runDuration: Math.round(200 + 3000 * Math.exp(2 * (rnd() - 0.5))),
      dateStarted: new Date(started).toISOString(),
      dateEnded: new Date(started + 5000).toISOString()
    }
  }
}

const percentile = (sorted, p) =>
  sorted.length === 0
    ? undefined
    : sorted[Math.min(Math.max(1, Math.ceil((p / 100) * sorted.length)), sorted.length) - 1]

// ----------------------------------------------------------------------------- children
if (args[0] === "--child") {
  const [, variant, countText] = args
  const count = Number(countText)
  const t0 = performance.now()
  let result
  if (variant === "generate") {
    let n = 0
    for (const r of records(count)) if (r.id !== "") n++
    result = { records: n }
  } else if (variant === "baseline") {
    const start = Date.parse(START)
    const end = Date.parse(END)
    const prevStart = start - (end - start)
    const wf = new Map()
    const users = new Map()
    const total = { executions: 0, tasks: 0, failures: 0 }
    const prev = { executions: 0, tasks: 0, failures: 0 }
    for (const r of records(count)) {
      const t = Date.parse(r.dateStarted)
      if (t >= start && t < end) {
        total.executions++
        total.tasks += r.taskCount
        if (r.status === "FAILED") total.failures++
        let w = wf.get(r.workflowId)
        if (w === undefined) {
          w = { executions: 0, failures: 0, durations: new Float64Array(16), n: 0 }
          wf.set(r.workflowId, w)
        }
        w.executions++
        if (r.status === "FAILED") w.failures++
        if (w.n === w.durations.length) {
          const grown = new Float64Array(w.n * 2)
          grown.set(w.durations)
          w.durations = grown
        }
        w.durations[w.n++] = r.runDuration
        users.set(r.userId, (users.get(r.userId) ?? 0) + r.taskCount)
      } else if (t >= prevStart && t < start) {
        prev.executions++
        prev.tasks += r.taskCount
        if (r.status === "FAILED") prev.failures++
      }
    }
    let p99 = 0
    for (const w of wf.values()) {
      const sorted = w.durations.slice(0, w.n).sort()
      p99 += percentile(sorted, 50) + percentile(sorted, 95) + percentile(sorted, 99)
    }
    result = { executions: total.executions, workflows: wf.size, users: users.size, check: p99 }
  } else {
    const { Report } = await import("@taskhistory/report")
    const { Effect, Either, Stream } = await import("effect")
    const imported = performance.now()
    const period = Either.getOrThrow(Report.period(START, END))
    const data = await Effect.runPromise(Report.fromStream(Stream.fromIterable(records(count)), { period }))
    const aggregated = performance.now()
    const html = Report.render(data, { generatedAt: END })
    result = {
      executions: data.headline.current.executions,
      importMs: imported - t0,
      aggregateMs: aggregated - imported,
      renderMs: performance.now() - aggregated,
      bytes: Buffer.byteLength(html)
    }
  }
  process.send({ ...result, ms: performance.now() - t0, maxRssMb: process.resourceUsage().maxRSS / 1024 })
  process.exit(0)
}

// ----------------------------------------------------------------------------- child: busy project size
else if (args[0] === "--child-size") {
  const { Report } = await import("@taskhistory/report")
  const { Effect, Either, Stream } = await import("effect")
  const period = Either.getOrThrow(Report.period(START, END))
  const workflows = 3_000
  const users = 100_000
  const messages = (i) =>
    `Error: Request failed with status code ${[400, 401, 404, 429, 500, 502][i % 6]} at step ${i % 40}: ${"upstream said: the request could not be completed; ".repeat(6)}(request ${i})`
  const errors = function* () {
    for (let i = 0; i < 60_000; i++) {
      yield {
        executionId: `e-${i}`,
        workflowId: `wf-7d3c1a9e-${String(i % workflows).padStart(6, "0")}`,
        stepId: `s-${i % 7}`,
        errorMessage: messages(i % 5_000)
      }
    }
  }
  const data = await Effect.runPromise(
    Report.fromStream(Stream.fromIterable(records(Number(args[1]), { workflows, users })), {
      period,
      errors: Stream.fromIterable(errors())
    })
  )
  const names = {
    workflows: Object.fromEntries(
      Array.from({ length: workflows }, (_, w) => [
        `wf-7d3c1a9e-${String(w).padStart(6, "0")}`,
        `Workflow number ${w}: sync contacts and deals`
      ])
    ),
    users: Object.fromEntries(
      Array.from({ length: users }, (_, u) => [
        `customer-${String(u).padStart(7, "0")}`,
        `Customer ${u} Holdings Inc.`
      ])
    )
  }
  const html = Report.render(data, { generatedAt: END, names })
  process.send({
    bytes: Buffer.byteLength(html),
    days: data.days.length,
    workflows: data.headline.workflows,
    users: data.headline.users,
    errorGroups: data.errors.groups
  })
  process.exit(0)
}

// ----------------------------------------------------------------------------- parent
else {
  const count = Number(flag("records", "1000000"))
  const rounds = Number(flag("rounds", "3"))
  const run = (...childArgs) =>
    new Promise((resolve, reject) => {
      const tuned = childArgs[1] === "report-tuned"
      const p = fork(
        self,
        childArgs.map((a) => (a === "report-tuned" ? "report" : String(a))),
        {
          stdio: ["ignore", "inherit", "inherit", "ipc"],
          execArgv: tuned ? TUNED_FLAGS : []
        }
      )
      p.once("message", resolve)
      p.once("exit", (code) =>
        code === 0 ? undefined : reject(new Error(`${childArgs[0]} exited with ${code}`))
      )
    })
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")
  const loadBefore = load()
  const best = {}
  for (let round = 1; round <= rounds; round++) {
    for (const variant of ["generate", "baseline", "report", "report-tuned"]) {
      const r = await run("--child", variant, count)
      console.error(`round ${round} ${variant}: ${r.ms.toFixed(0)} ms, peak RSS ${r.maxRssMb.toFixed(0)} MB`)
      if (best[variant] === undefined || r.ms < best[variant].ms) best[variant] = r
    }
  }
  const size = await run("--child-size", count)
  const loadAfter = load()
  const g = best.generate
  const b = best.baseline
  const r = best.report
  const t = best["report-tuned"]
  const ratio = (r.ms - g.ms) / (b.ms - g.ms)
  const lines = [
    "# Report benchmark (`bench/report.mjs`)",
    "",
    `\`node bench/report.mjs --records ${count} --rounds ${rounds}\` (after \`pnpm build\`): ${count.toLocaleString("en-US")} executions`,
    "generated lazily over 90 days and the 90 days before them (800 workflows, 20,000 users), each",
    "variant in a fresh child process (best of the rounds; peak RSS of that process).",
    "",
    `Load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after. Node ${process.version}, ${new Date().toISOString().slice(0, 16)} UTC.`,
    "",
    "| variant | time | peak RSS |",
    "|---|---|---|",
    `| generate the records only | ${g.ms.toFixed(0)} ms | ${g.maxRssMb.toFixed(0)} MB |`,
    `| baseline: hand-written loop (headline, per workflow and user, p50/p95/p99) | ${b.ms.toFixed(0)} ms | ${b.maxRssMb.toFixed(0)} MB |`,
    `| **Report.fromStream + Report.render** | **${r.ms.toFixed(0)} ms** (loading the modules ${r.importMs.toFixed(0)} ms, aggregation ${r.aggregateMs.toFixed(0)} ms, rendering ${r.renderMs.toFixed(0)} ms) | **${r.maxRssMb.toFixed(0)} MB** |`,
    `| the same, tuned heap (\`${TUNED_FLAGS.join(" ")}\`) | ${t.ms.toFixed(0)} ms | ${t.maxRssMb.toFixed(0)} MB |`,
    "",
    `Ratio, report over baseline, the generation subtracted from both: **${ratio.toFixed(2)}x** (the report`,
    "also keeps per-user and per-day Usage rows with their percentiles, the previous period, the hours grid",
    `and p99 per workflow). HTML of this run: ${(r.bytes / 1024).toFixed(0)} kB.`,
    "",
    `Busy project, 90 days: ${size.workflows.toLocaleString("en-US")} workflows, ${size.users.toLocaleString("en-US")} users with executions, labels for all of`,
    `them (\`--names\`), 60,000 step errors in ${size.errorGroups.toLocaleString("en-US")} (workflow, message) groups: the HTML is`,
    `**${(size.bytes / 1024).toFixed(0)} kB** (target < 1 MB; top 15 per table plus an "other" row).`,
    "",
    "Targets of `report --source sqlite:` over 1M rows (issue 17): <= 5 s and <= 300 MB peak RSS overall;",
    "this is the report's share (aggregation + rendering, records produced in-process)."
  ]
  writeFileSync(join(here, "RESULTS-report.md"), `${lines.join("\n")}\n`)
  console.log(lines.join("\n"))
}
