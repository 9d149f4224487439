// Benchmark of @taskhistory/simulator (built dist): pages/s of full 100-record pages against a
// trivial node:http baseline serving one pre-serialised page, and 1M-execution generation time + RSS.
// Each server runs in its own child process (one core each on a 2-core machine); the load
// generator runs here with keep-alive connections.
//
//   node bench/simulator.mjs [--records 1000000] [--seconds 5] [--concurrency 16]
import { fork } from "node:child_process"
import * as Http from "node:http"
import { fileURLToPath } from "node:url"

const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback
}

// ----------------------------------------------------------------------------- child roles
if (args[0] === "--child-sim") {
  const { startSimulator } = await import("@taskhistory/simulator")
  const records = Number(args[1])
  const rss0 = process.memoryUsage().rss
  const t0 = performance.now()
  const sim = await startSimulator({ records, seed: 1, now: "2026-11-28T00:00:00Z" })
  const ms = performance.now() - t0
  globalThis.gc?.()
  const rss1 = process.memoryUsage().rss
  process.send({ url: sim.url, projectId: sim.projectId, apiKey: sim.apiKey, ms, rss0, rss1 })
  process.on("message", async (m) => {
    if (m === "cpu") process.send({ cpu: process.cpuUsage() })
    if (m === "stop") {
      await sim.close()
      process.exit(0)
    }
  })
} else if (args[0] === "--child-baseline") {
  const page = args[1]
  const body = Buffer.from(page)
  const server = Http.createServer({ keepAlive: true }, (req, res) => {
    req.resume()
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length })
    res.end(body)
  })
  server.keepAliveTimeout = 30_000
  server.listen(0, "127.0.0.1", () => process.send({ url: `http://127.0.0.1:${server.address().port}` }))
  process.on("message", (m) => {
    if (m === "cpu") process.send({ cpu: process.cpuUsage() })
    if (m === "stop") {
      server.close()
      server.closeAllConnections()
      process.exit(0)
    }
  })
} else {
  await main()
}

// ----------------------------------------------------------------------------- parent
function startChild(childArgs) {
  const child = fork(fileURLToPath(import.meta.url), childArgs, { execArgv: ["--expose-gc"] })
  return new Promise((resolve, reject) => {
    child.once("message", (info) => resolve({ child, info }))
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`child exited with ${code}`)))
  })
}

function cpuOf(child) {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve((m.cpu.user + m.cpu.system) / 1000))
    child.send("cpu")
  })
}

/** Runs a load and adds the server's CPU milliseconds per page (its own process). */
async function measured(child, ...loadArgs) {
  const before = await cpuOf(child)
  const result = await load(...loadArgs)
  const after = await cpuOf(child)
  return { ...result, serverCpuMsPerPage: (after - before) / Math.max(1, result.pages) }
}

function stopChild(child) {
  return new Promise((resolve) => {
    child.removeAllListeners("exit")
    child.once("exit", () => resolve())
    child.send("stop")
  })
}

function get(agent, url, headers) {
  return new Promise((resolve, reject) => {
    const req = Http.get(url, { agent, headers }, (res) => {
      let bytes = 0
      res.on("data", (c) => {
        bytes += c.length
      })
      res.on("end", () => resolve({ status: res.statusCode, bytes }))
      res.on("error", reject)
    })
    req.on("error", reject)
  })
}

async function load(urlAt, headers, seconds, concurrency) {
  const agent = new Http.Agent({ keepAlive: true, maxSockets: concurrency })
  const deadline = performance.now() + seconds * 1000
  let pages = 0
  let bytes = 0
  let errors = 0
  let i = 0
  const worker = async () => {
    while (performance.now() < deadline) {
      const r = await get(agent, urlAt(i++), headers)
      if (r.status === 200) pages++
      else errors++
      bytes += r.bytes
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsed = (performance.now() - t0) / 1000
  agent.destroy()
  return { pagesPerSecond: pages / elapsed, pages, errors, mbPerSecond: bytes / elapsed / 1e6 }
}

/**
 * CPU cost of building a full page without HTTP, in this process (the simulator's own page
 * builder, reached through its built internals: a measurement that the machine's load and the
 * load generator do not distort).
 */
async function renderOnly(records) {
  const { SimulatorServer } = await import("../packages/simulator/dist/internal/server.js")
  const { resolve } = await import("../packages/simulator/dist/internal/options.js")
  const server = await SimulatorServer.start(
    resolve({ records, seed: 1, now: "2026-11-28T00:00:00Z" }).right,
    Date.now
  )
  const out = {}
  const queries = {
    unfiltered: (n) => `offset=${(n % 2000) * 100}${n % 2 === 0 ? "&sortBy=ASC" : ""}`,
    filtered: (n) =>
      `status=SUCCEEDED&integration=salesforce&afterDate=2026-10-01T00:00:00&offset=${(n % 50) * 100}`
  }
  for (const [name, query] of Object.entries(queries)) {
    for (let n = 0; n < 2000; n++) server.list(query(n))
    const c0 = process.cpuUsage()
    let n = 0
    while (n < 5000) server.list(query(n++))
    const c = process.cpuUsage(c0)
    const us = (c.user + c.system) / n
    out[name] = { cpuUsPerPage: Math.round(us), pagesPerCpuSecond: Math.round(1e6 / us) }
  }
  await server.close()
  return out
}

async function main() {
  const records = flag("records", 1_000_000)
  const seconds = flag("seconds", 5)
  const concurrency = flag("concurrency", 16)
  const results = { node: process.version, records, seconds, concurrency }

  results.renderOnly = await renderOnly(records)
  const { child: simChild, info: sim } = await startChild(["--child-sim", String(records)])
  results.generation = {
    records,
    ms: Math.round(sim.ms),
    rssBeforeMb: Math.round(sim.rss0 / 1e6),
    rssAfterMb: Math.round(sim.rss1 / 1e6)
  }
  const headers = { authorization: `Bearer ${sim.apiKey}` }
  const base = `${sim.url}/projects/${sim.projectId}/task-history/workflow-executions`
  const firstPage = await (await fetch(base, { headers })).text()
  const pages = Math.max(1, Math.floor(Math.min(records, 200_000) / 100))

  // Warm-up, then the measured runs.
  await load(
    (i) => `${base}?offset=${(i % pages) * 100}${i % 2 === 0 ? "&sortBy=ASC" : ""}`,
    headers,
    2,
    concurrency
  )
  results.simulatorUnfiltered = await measured(
    simChild,
    (i) => `${base}?offset=${(i % pages) * 100}${i % 2 === 0 ? "&sortBy=ASC" : ""}`,
    headers,
    seconds,
    concurrency
  )
  results.simulatorFiltered = await measured(
    simChild,
    (i) =>
      `${base}?status=SUCCEEDED&integration=salesforce&afterDate=2026-10-01T00:00:00&offset=${(i % 50) * 100}`,
    headers,
    seconds,
    concurrency
  )
  await stopChild(simChild)

  const { child: baseChild, info: baseline } = await startChild(["--child-baseline", firstPage])
  await load(() => baseline.url, {}, 1, concurrency)
  results.baseline = await measured(baseChild, () => baseline.url, {}, seconds, concurrency)
  await stopChild(baseChild)

  results.ratioUnfiltered = results.simulatorUnfiltered.pagesPerSecond / results.baseline.pagesPerSecond
  results.ratioFiltered = results.simulatorFiltered.pagesPerSecond / results.baseline.pagesPerSecond
  const fmt = (r) =>
    `${Math.round(r.pagesPerSecond)} pages/s (${r.mbPerSecond.toFixed(1)} MB/s, ${r.errors} errors; server CPU ${(r.serverCpuMsPerPage * 1000).toFixed(0)} us/page = ${Math.round(1000 / r.serverCpuMsPerPage)} pages per CPU-second)`
  console.log(`node ${results.node}, ${concurrency} keep-alive clients, ${seconds}s per run`)
  console.log(
    `generation of ${records} executions: ${results.generation.ms} ms, RSS ${results.generation.rssBeforeMb} MB -> ${results.generation.rssAfterMb} MB`
  )
  console.log(
    `page building alone (no HTTP): unfiltered ${results.renderOnly.unfiltered.cpuUsPerPage} us CPU/page (${results.renderOnly.unfiltered.pagesPerCpuSecond} pages per CPU-second), filtered ${results.renderOnly.filtered.cpuUsPerPage} us CPU/page`
  )
  console.log(`baseline (pre-serialised page):   ${fmt(results.baseline)}`)
  console.log(
    `simulator, unfiltered pages:      ${fmt(results.simulatorUnfiltered)}  ratio ${results.ratioUnfiltered.toFixed(2)}`
  )
  console.log(
    `simulator, 3 filters + date:      ${fmt(results.simulatorFiltered)}  ratio ${results.ratioFiltered.toFixed(2)}`
  )
  console.log(JSON.stringify(results))
}
