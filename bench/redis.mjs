// Benchmark of @taskhistory/redis (built dist): several processes sharing one Paragon budget.
//
// A local simulator enforces N requests per W (sliding window, 429 beyond). K list requests are
// sent, each under a limiter, by:
//   baseline: one process with the core's in-memory limiter (all K requests);
//   redis:    P processes sharing the Redis limiter (K/P requests each);
//   naive:    P processes, each with its own in-memory limiter at the full budget (what happens
//             without a shared limiter).
// For each: time from the first request's start to the last one's start, divided by the
// theoretical minimum floor((K-1)/N) * W, and the 429s the server sent. Prints ratios and writes
// bench/RESULTS-redis.md.
//
//   TASKHISTORY_TEST_REDIS_URL=redis://127.0.0.1:6379 node bench/redis.mjs [--k 70] [--n 20] [--w 1000] [--p 3]
import { fork } from "node:child_process"
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"

const args = process.argv.slice(2)

if (args[0] === "--child") {
  await child(JSON.parse(args[1]))
} else {
  await main()
}

// ----------------------------------------------------------------------------- child
async function child(job) {
  const { Duration, Effect, Redacted } = await import("effect")
  const { RateLimiter } = await import("@taskhistory/core")
  const { RedisRateLimiter } = await import("@taskhistory/redis")
  const rate = { limit: job.n, window: Duration.millis(job.w) }
  const makeLimiter =
    job.mode === "redis"
      ? RedisRateLimiter.make({ url: Redacted.make(job.redisUrl), rate, keyPrefix: job.keyPrefix })
      : RateLimiter.makeMemory(rate)
  const listUrl = (i) =>
    `${job.url}/projects/${job.projectId}/task-history/workflow-executions?offset=${(i % 10) * 100}`
  let rejected = 0
  const program = Effect.gen(function* () {
    const limiter = yield* makeLimiter
    // Tell the parent we are ready, and wait for the common start signal.
    yield* Effect.async((resume) => {
      process.once("message", () => resume(Effect.void))
      process.send({ ready: true })
    })
    const one = (i) =>
      Effect.gen(function* () {
        // At most 10 attempts: a 429 pauses the limiter for the Retry-After and tries again.
        for (let attempt = 0; attempt < 10; attempt++) {
          const result = yield* limiter.withPermit(
            Effect.promise(async () => {
              const start = Date.now()
              const res = await fetch(listUrl(i), { headers: { authorization: `Bearer ${job.apiKey}` } })
              await res.arrayBuffer()
              const retryAfter = Number(res.headers.get("retry-after") ?? "1")
              return { start, latency: Date.now() - start, status: res.status, retryAfter }
            })
          )
          if (result.status !== 429) return result
          rejected++
          yield* limiter.pause(Duration.seconds(result.retryAfter))
        }
        return yield* Effect.dieMessage("too many 429s")
      })
    return yield* Effect.forEach(
      Array.from({ length: job.count }, (_, i) => i),
      one,
      { concurrency: "unbounded" }
    )
  })
  const done = await Effect.runPromise(Effect.scoped(program))
  process.send({ starts: done.map((r) => r.start), latencies: done.map((r) => r.latency), rejected })
  process.disconnect()
}

// ----------------------------------------------------------------------------- parent
async function main() {
  const flag = (name, fallback) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback
  }
  const k = flag("k", 70)
  const n = flag("n", 20)
  const w = flag("w", 1000)
  const p = flag("p", 3)
  const redisUrl = process.env.TASKHISTORY_TEST_REDIS_URL
  if (redisUrl === undefined || redisUrl === "") {
    console.error("bench redis: set TASKHISTORY_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)")
    process.exit(1)
  }
  const { startSimulator } = await import("@taskhistory/simulator")
  const sim = await startSimulator({ records: 1000, seed: 1, rateLimit: { limit: n, window: w } })
  const minimum = Math.floor((k - 1) / n) * w

  const scenario = async (name, mode, processes) => {
    sim.reset()
    const keyPrefix = `taskhistory-bench:${randomUUID()}`
    const share = (i) => Math.floor(k / processes) + (i < k % processes ? 1 : 0)
    const children = Array.from({ length: processes }, (_, i) => {
      const job = { mode, n, w, count: share(i), keyPrefix, redisUrl, ...connection() }
      return fork(fileURLToPath(import.meta.url), ["--child", JSON.stringify(job)])
    })
    // Start every process at once, after they all loaded their modules.
    await Promise.all(children.map((c) => new Promise((resolve) => c.once("message", resolve))))
    const results = children.map((c) => new Promise((resolve) => c.once("message", resolve)))
    for (const c of children) c.send("go")
    const reports = await Promise.all(results)
    const starts = reports.flatMap((r) => r.starts).sort((a, b) => a - b)
    const span = starts[starts.length - 1] - starts[0]
    const stats = sim.stats()
    const latencies = reports.flatMap((r) => r.latencies)
    return {
      latency: Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      name,
      processes,
      span,
      ratio: span / minimum,
      rejected: reports.reduce((sum, r) => sum + r.rejected, 0),
      served429: stats.rateLimited,
      maxInWindow: stats.maxInWindow
    }
  }
  const connection = () => ({ url: sim.url, projectId: sim.projectId, apiKey: sim.apiKey })

  const rows = []
  rows.push(await scenario("baseline: 1 process, in-memory limiter", "memory", 1))
  rows.push(await scenario(`redis: ${p} processes, shared Redis limiter`, "redis", p))
  rows.push(await scenario(`naive: ${p} processes, one in-memory limiter each`, "memory", p))
  await sim.close()

  const base = rows[0]
  const lines = [
    `K = ${k} requests, server limit ${n} per ${w} ms, theoretical minimum span ${minimum} ms`,
    "",
    "| scenario | span of starts (ms) | / minimum | / baseline | 429s | max accepted in a window | mean latency (ms) |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.span} | ${r.ratio.toFixed(3)} | ${(r.span / base.span).toFixed(3)} | ${r.served429} | ${r.maxInWindow} | ${r.latency} |`
    )
  ]
  console.log(lines.join("\n"))
  const load = loadavg()[0].toFixed(1)
  writeFileSync(
    fileURLToPath(new URL("./RESULTS-redis.md", import.meta.url)),
    [
      "## redis: one budget shared by several processes",
      "",
      `\`node bench/redis.mjs\`: Redis on 127.0.0.1, the simulator in the parent process, each scenario's processes started together (load average ${load} during the run on ${cpus().length} cores).`,
      "",
      ...lines,
      "",
      `The shared limiter keeps ${p} processes within the server's budget (no 429) at about the speed of one process. Without it each`,
      "process spends the whole budget: the server answers 429 and the pauses make the run slower. Both limiters hold a slot until W",
      "after the request completed, so each window boundary moves by a request's latency: the ratio to the bare minimum grows with latency.",
      ""
    ].join("\n")
  )
}
