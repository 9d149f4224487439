// Budget efficiency: read K pages from a local server that enforces N requests per sliding
// window W (429 beyond it), through the client with the matching client-side limit.
// Prints wall time / theoretical minimum, and the server's count of 429s.
//
//   node bench/budget.mjs            (N=40, W=4s, K=130: about 12 s)
//   BUDGET_N=20 BUDGET_W_MS=2000 BUDGET_K=50 node bench/budget.mjs
//
// The theoretical minimum for K requests when at most N fit in any window W is
// floor((K - 1) / N) * W: the first N go at once, every further N wait one window.
import { fork } from "node:child_process"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import { NodeHttpClient } from "@effect/platform-node"
import { RateLimiter, TaskHistoryClient, TaskHistoryConfig } from "@taskhistory/core"
import { Effect, Layer, Stream } from "effect"

const N = Number(process.env.BUDGET_N ?? 40)
const W = Number(process.env.BUDGET_W_MS ?? 4000)
const K = Number(process.env.BUDGET_K ?? 130)
const PAGE = 100
const CONCURRENCY = Number(process.env.BUDGET_CONCURRENCY ?? 4)
const total = K * PAGE
const projectId = "bench"
const listPath = `/projects/${projectId}/task-history/workflow-executions`

const record = (i) => ({
  id: `exec-${i}`,
  workflowId: `wf-${i % 7}`,
  userId: `user-${i % 13}`,
  status: i % 10 === 0 ? "FAILED" : "SUCCEEDED",
  taskCount: i % 5,
  runDuration: 1000 + (i % 100),
  dateStarted: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  dateEnded: new Date(Date.UTC(2026, 0, 1) + i * 1000 + 900).toISOString()
})

/**
 * The server runs in a child process (`--server`), so its work does not share the client's event
 * loop. It answers pages of `total` records (bodies built once per offset) and, when `enforce`,
 * at most N requests per sliding W (429 with Retry-After beyond). `GET /stats` reports counts.
 */
const serve = (enforce) => {
  const arrivals = []
  const stats = { requests: 0, rejected: 0, maxInWindow: 0, log: [] }
  const bodies = new Map()
  const server = createServer((req, res) => {
    const now = Date.now()
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (url.pathname === "/stats") {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(stats))
      return
    }
    stats.requests++
    while (arrivals.length > 0 && arrivals[0] <= now - W) arrivals.shift()
    if (enforce && arrivals.length >= N) {
      stats.rejected++
      const wait = Math.max(1, Math.ceil((arrivals[0] + W - now) / 1000))
      res.writeHead(429, { "content-type": "application/json", "retry-after": String(wait) })
      res.end(JSON.stringify({ message: "Too Many Requests" }))
      return
    }
    arrivals.push(now)
    stats.log.push(now)
    stats.maxInWindow = Math.max(stats.maxInWindow, arrivals.length)
    if (url.pathname !== listPath) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ message: "Not Found" }))
      return
    }
    const offset = Number(url.searchParams.get("offset") ?? 0)
    let body = bodies.get(offset)
    if (body === undefined) {
      const data = []
      for (let i = offset; i < Math.min(total, offset + PAGE); i++) data.push(record(i))
      const next =
        offset + PAGE < total ? `https://zeus.example.invalid${listPath}?offset=${offset + PAGE}` : null
      body = JSON.stringify({ data, total, nextLink: next })
      bodies.set(offset, body)
    }
    res.writeHead(200, { "content-type": "application/json" })
    res.end(body)
  })
  server.listen(0, "127.0.0.1", () => process.send?.(server.address().port))
  process.on("disconnect", () => process.exit(0))
}

/** Starts the server in a child process; resolves with its URL, a stats reader and a stop. */
function startServer(enforce) {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), ["--server", enforce ? "enforce" : "free"], {
      env: process.env
    })
    child.once("message", (port) => {
      const url = `http://127.0.0.1:${port}`
      resolve({
        url,
        stats: () => fetch(`${url}/stats`).then((r) => r.json()),
        stop: () =>
          new Promise((done) => {
            child.once("exit", () => done())
            child.disconnect()
          })
      })
    })
  })
}

const read = (url, rateLimit) => {
  const layer = TaskHistoryClient.layer.pipe(
    Layer.provide(RateLimiter.layerFromConfig),
    Layer.provideMerge(
      TaskHistoryConfig.layer({
        apiKey: "bench-key",
        projectId,
        baseUrl: url,
        rateLimit,
        pageConcurrency: CONCURRENCY
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  return Effect.gen(function* () {
    const client = yield* TaskHistoryClient.TaskHistoryClient
    const start = Date.now()
    const cpu = process.cpuUsage()
    let pages = 0
    let records = 0
    const at = []
    yield* Stream.runForEach(client.pages({}), (page) =>
      Effect.sync(() => {
        pages++
        records += page.records.length
        at.push(Date.now() - start)
      })
    )
    const used = process.cpuUsage(cpu)
    return { pages, records, ms: Date.now() - start, at, cpuMs: (used.user + used.system) / 1000 }
  }).pipe(Effect.provide(layer), Effect.runPromise)
}

async function main() {
  // Baseline: the same K pages with no limit anywhere (the cost of the requests themselves).
  const free = await startServer(false)
  await read(free.url, `${1_000_000}/1s`) // warm-up
  const baseline = await read(free.url, `${1_000_000}/1s`)
  await free.stop()

  // The budget run: server enforces N per sliding W; client limit N/W.
  const limited = await startServer(true)
  const run = await read(limited.url, `${N}/${W}ms`)
  const stats = await limited.stats()
  await limited.stop()

  const minimum = Math.floor((K - 1) / N) * W
  const ratio = run.ms / minimum
  console.log(`budget: K=${K} pages, server limit ${N} per sliding ${W} ms, client limit ${N}/${W}ms`)
  console.log(
    `baseline (no limit): ${baseline.pages} pages in ${baseline.ms} ms, client CPU ${(baseline.cpuMs / baseline.pages).toFixed(2)} ms per page`
  )
  console.log(
    `limited: ${run.pages} pages, ${run.records} records in ${run.ms} ms; theoretical minimum ${minimum} ms (floor((K-1)/N)*W)`
  )
  console.log(`ratio wall/minimum: ${ratio.toFixed(4)} (target <= 1.03)`)
  // The last window holds r = K - floor((K-1)/N)*N requests; even with zero limiter overhead they
  // cannot take less than this machine needs to read r pages (measured in the baseline run).
  const r = K - Math.floor((K - 1) / N) * N
  const tail = baseline.at[r - 1] ?? 0
  console.log(
    `load-adjusted ratio wall/(minimum + ${tail} ms to read ${r} pages here, from the baseline): ${(run.ms / (minimum + tail)).toFixed(4)}`
  )
  console.log(
    `server: ${stats.requests} requests, ${stats.rejected} x 429, max ${stats.maxInWindow} in a window`
  )
  const log = stats.log
  const t0 = log[0]
  console.log(
    `arrivals (ms after the first): #2 ${log[1] - t0}, #${N} ${log[N - 1] - t0}, #${N + 1} ${log[N] - t0}, #${2 * N + 1} ${log[2 * N] - t0}, #${3 * N + 1} ${log[3 * N] - t0}, last ${log.at(-1) - t0}`
  )
  if (run.pages !== K || stats.rejected > 0 || ratio > 1.03) process.exitCode = 1
}

if (process.argv[2] === "--server") {
  serve(process.argv[3] === "enforce")
} else {
  await main()
}
