/**
 * The simulator's dataset: columnar typed arrays indexed by a "serial" (one per execution ever
 * created), an `order` array of the visible serials sorted by (dateStarted, id), and lazily
 * rendered records. Ids embed their serial, so a lookup by id needs no map.
 */
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import { type ByteWriter, utf8 } from "./bytes.js"
import {
  hash3,
  hex2,
  hex8,
  isoString,
  makeRng,
  normal,
  type Rng,
  sampleCdf,
  unit3,
  zipfCdf
} from "./random.js"

export const STATUSES = ["SUCCEEDED", "FAILED", "EXECUTING", "DELAYED"] as const
export type StatusName = (typeof STATUSES)[number]
const S_SUCCEEDED = 0
const S_FAILED = 1
const S_EXECUTING = 2
const S_DELAYED = 3

export const INTEGRATIONS = [
  "salesforce",
  "hubspot",
  "slack",
  "jira",
  "zendesk",
  "gmail",
  "notion",
  "shopify",
  "intercom",
  "stripe",
  "googledrive",
  "asana"
] as const

/** A workflow step's name and type (the first step of every workflow is its trigger). */
const STEP_KINDS = [
  ["Trigger", "TRIGGER"],
  ["Fetch records", "REQUEST"],
  ["Transform", "FUNCTION"],
  ["Request", "REQUEST"],
  ["Conditional", "CONDITIONAL"],
  ["Fan out", "FAN_OUT"],
  ["Upsert", "ACTION"],
  ["Notify", "ACTION"]
] as const

/** Error messages of failed steps, with their codes: each workflow fails with a few of them. */
export const STEP_ERRORS: ReadonlyArray<readonly [message: string, code: string]> = [
  ["Request failed with status 400: invalid field 'email'", "BAD_REQUEST"],
  ["Request failed with status 401: token expired", "UNAUTHORIZED"],
  ["Request failed with status 403: insufficient permissions", "FORBIDDEN"],
  ["Request failed with status 404: record not found", "NOT_FOUND"],
  ["Request failed with status 409: duplicate record", "CONFLICT"],
  ["Request failed with status 429: rate limit exceeded", "RATE_LIMITED"],
  ["Request failed with status 500: internal server error", "UPSTREAM_ERROR"],
  ["Request timed out after 30000ms", "TIMEOUT"],
  ["Cannot read properties of undefined (reading 'id')", "FUNCTION_ERROR"],
  ["Required field 'Name' is missing", "VALIDATION_ERROR"],
  ["Connection reset by peer", "NETWORK_ERROR"],
  ["The integration's credentials were revoked: reconnect the account", "CREDENTIALS_REVOKED"]
]

const SEG = {
  id: utf8('{"id":"'),
  projectId: utf8('","projectId":'),
  workflowId: utf8(',"workflowId":"'),
  userId: utf8('","userId":"'),
  integration: utf8('","integration":"'),
  status: utf8('","status":"'),
  taskCount: utf8('","taskCount":'),
  runDuration: utf8(',"runDuration":'),
  dateStarted: utf8(',"dateStarted":"'),
  dateEnded: utf8('","dateEnded":'),
  attempt: utf8(',"attempt":'),
  null: utf8("null")
}
const VARIANT_BYTES = utf8("89ab")

const HEX1 = "0123456789abcdef"
const VARIANT = "89ab"

/** Record states. */
const VISIBLE = 0
const HIDDEN = 1
const EXPIRED = 2

const DAY = 86_400_000
const RECENT = 2 * 3_600_000
const MAX_RECENT = 24 * 3_600_000

export interface DatasetOptions {
  readonly records: number
  readonly seed: number
  readonly projectId: string
  readonly nowMs: number
  readonly spanDays: number
  readonly lateArrivals: number
  readonly sameStartDate: { readonly count: number; readonly dateMs: number } | undefined
  readonly malformed: number
}

/** Filters as the engine sees them: the query's selection, dates as epoch milliseconds. */
export interface Filter extends ExecutionQuery.Selection {
  readonly afterMs?: number | undefined
  readonly beforeMs?: number | undefined
  readonly inclusive: boolean
}

/** The matches of a filter, in ascending (dateStarted, id) order. */
export interface Matches {
  readonly size: number
  readonly at: (i: number) => number
}

export interface InsertSpec {
  readonly dateStartedMs?: number | undefined
  readonly status?: StatusName | undefined
  readonly hidden?: boolean | undefined
}

export type RawRecord = Record<string, unknown>

const grow = <A extends Float64Array | Uint32Array | Uint16Array | Uint8Array | Int32Array>(
  array: A,
  size: number
): A => {
  const next = new (array.constructor as new (n: number) => A)(size)
  next.set(array)
  return next
}

export class Dataset {
  readonly seed: number
  readonly projectId: string
  private readonly projectIdJson: string
  private readonly projectIdBytes: Uint8Array
  private readonly userBytes: Array<Uint8Array>
  private readonly workflowBytes: Array<Uint8Array>
  private static readonly integrationBytes = INTEGRATIONS.map(utf8)
  private static readonly statusBytes = STATUSES.map(utf8)
  count = 0
  private cap: number
  start: Float64Array
  duration: Uint32Array
  user: Uint32Array
  workflow: Uint16Array
  status: Uint8Array
  tasks: Uint32Array
  attempt: Uint8Array
  state: Uint8Array
  malformed: Uint8Array
  replayOf: Int32Array
  /** Visible serials sorted by (start, id), in `order[lo..hi)`. */
  order: Uint32Array
  lo = 0
  hi = 0
  /** Bumped on every change; keys the filter cache. */
  version = 0
  /** Late arrivals not yet visible, in reveal order. */
  hiddenQueue: Array<number> = []
  readonly users: Array<string>
  readonly userIndex: Map<string, number>
  readonly workflows: Array<string>
  readonly workflowIndex: Map<string, number>
  readonly workflowIntegration: Uint8Array
  readonly workflowFailRate: Float64Array
  private readonly userCdf: Float64Array
  private readonly workflowCdf: Float64Array
  private readonly rng: Rng
  /** Executions younger than this may still be running (EXECUTING or DELAYED). */
  private readonly recentMs: number
  private cache = new Map<string, Uint32Array>()
  private cacheVersion = -1

  constructor(options: DatasetOptions) {
    this.seed = options.seed | 0
    this.projectId = options.projectId
    this.projectIdJson = JSON.stringify(options.projectId)
    this.projectIdBytes = utf8(this.projectIdJson)
    const n = Math.max(0, Math.floor(options.records))
    const extra = options.lateArrivals + (options.sameStartDate?.count ?? 0)
    this.cap = Math.max(16, n + extra + 64)
    this.start = new Float64Array(this.cap)
    this.duration = new Uint32Array(this.cap)
    this.user = new Uint32Array(this.cap)
    this.workflow = new Uint16Array(this.cap)
    this.status = new Uint8Array(this.cap)
    this.tasks = new Uint32Array(this.cap)
    this.attempt = new Uint8Array(this.cap)
    this.state = new Uint8Array(this.cap)
    this.malformed = new Uint8Array(this.cap)
    this.replayOf = new Int32Array(this.cap).fill(-1)
    this.order = new Uint32Array(this.cap)
    this.rng = makeRng(this.seed)
    this.recentMs = Math.min(MAX_RECENT, Math.max(RECENT, options.spanDays * DAY * 0.01))

    const userCount = Math.min(20_000, Math.max(3, Math.round(n / 20)))
    const workflowCount = Math.min(300, Math.max(4, Math.round(Math.sqrt(n) / 2)))
    this.users = Array.from(
      { length: userCount },
      (_, u) => `user_${u.toString(36).padStart(3, "0")}${hex8(hash3(this.seed, u, 21)).slice(0, 5)}`
    )
    this.userIndex = new Map(this.users.map((id, i) => [id, i]))
    this.workflows = Array.from({ length: workflowCount }, (_, w) => this.uuid(0x3f10, w, w))
    this.workflowIndex = new Map(this.workflows.map((id, i) => [id, i]))
    this.userBytes = this.users.map(utf8)
    this.workflowBytes = this.workflows.map(utf8)
    const integrationCdf = zipfCdf(INTEGRATIONS.length, 0.9)
    this.workflowIntegration = new Uint8Array(workflowCount)
    this.workflowFailRate = new Float64Array(workflowCount)
    for (let w = 0; w < workflowCount; w++) {
      this.workflowIntegration[w] = sampleCdf(integrationCdf, unit3(this.seed, w, 7))
      this.workflowFailRate[w] = 0.02 + 0.25 * unit3(this.seed, w, 8) ** 3
    }
    this.userCdf = zipfCdf(userCount, 1.1)
    this.workflowCdf = zipfCdf(workflowCount, 1.0)

    // Sorted start dates by construction: cumulative exponential gaps scaled to the span.
    const to = options.nowMs
    const from = to - options.spanDays * DAY
    const start = this.start
    let acc = 0
    for (let i = 0; i < n; i++) {
      acc += -Math.log(1 - this.rng.next())
      start[i] = acc
    }
    const total = acc - Math.log(1 - this.rng.next())
    const scale = (to - from) / (total || 1)
    for (let i = 0; i < n; i++) start[i] = Math.floor(from + start[i]! * scale)
    for (let i = 0; i < n; i++) this.fill(i, start[i]!, to, undefined)
    this.count = n
    for (let i = 0; i < n; i++) this.order[i] = i
    this.hi = n
    this.sortTies(0, n)

    // Extras: executions sharing one start date, and late arrivals (hidden, old start dates).
    const extras: Array<number> = []
    if (options.sameStartDate !== undefined) {
      for (let k = 0; k < options.sameStartDate.count; k++) {
        const s = this.allocate()
        this.fill(
          s,
          options.sameStartDate.dateMs,
          to,
          options.sameStartDate.dateMs < to - this.recentMs ? 0 : undefined
        )
        extras.push(s)
      }
    }
    for (let k = 0; k < options.lateArrivals; k++) {
      const s = this.allocate()
      const at = Math.floor(from + (to - from - this.recentMs) * this.rng.next())
      this.fill(s, at, to, this.rng.next() < 0.85 ? S_SUCCEEDED : S_FAILED)
      this.state[s] = HIDDEN
      this.hiddenQueue.push(s)
    }
    if (extras.length > 0) this.mergeIntoOrder(extras)
    this.setMalformed(options.malformed)
  }

  /** An uuid-like id whose last 8 hex digits are `serial`. */
  uuid(salt: number, serial: number, k: number): string {
    const a = hash3(this.seed ^ salt, serial, k)
    const b = hash3(this.seed ^ salt, serial, k + 0x100)
    const c = hash3(this.seed ^ salt, serial, k + 0x200)
    return (
      hex8(a) +
      "-" +
      hex2(b >>> 24) +
      hex2(b >>> 16) +
      "-4" +
      hex2(b >>> 8) +
      HEX1[b & 15] +
      "-" +
      VARIANT[a & 3] +
      HEX1[(c >>> 20) & 15] +
      hex2(c >>> 12) +
      "-" +
      hex2(c >>> 4) +
      hex2(c) +
      hex8(serial)
    )
  }

  id(serial: number): string {
    return this.uuid(0, serial, 0)
  }

  /** The serial of an id, if it was ever created. */
  serialOf(id: string): number | undefined {
    if (id.length !== 36) return undefined
    const serial = Number.parseInt(id.slice(28), 16)
    if (!Number.isInteger(serial) || serial < 0 || serial >= this.count) return undefined
    return this.id(serial) === id ? serial : undefined
  }

  isVisible(serial: number): boolean {
    return this.state[serial] === VISIBLE
  }

  private allocate(): number {
    if (this.count >= this.cap) {
      const size = this.cap * 2
      this.start = grow(this.start, size)
      this.duration = grow(this.duration, size)
      this.user = grow(this.user, size)
      this.workflow = grow(this.workflow, size)
      this.status = grow(this.status, size)
      this.tasks = grow(this.tasks, size)
      this.attempt = grow(this.attempt, size)
      this.state = grow(this.state, size)
      this.malformed = grow(this.malformed, size)
      const replayOf = new Int32Array(size).fill(-1)
      replayOf.set(this.replayOf)
      this.replayOf = replayOf
      this.cap = size
    }
    this.roomAtTheEnd()
    const s = this.count++
    this.replayOf[s] = -1
    this.state[s] = VISIBLE
    this.malformed[s] = 0
    this.attempt[s] = 1
    return s
  }

  /** Draws user, workflow, status, duration and task count for a serial started at `startMs`. */
  private fill(s: number, startMs: number, nowMs: number, forceStatus: number | undefined): void {
    const rng = this.rng
    const w = sampleCdf(this.workflowCdf, rng.next())
    this.start[s] = startMs
    this.workflow[s] = w
    this.user[s] = sampleCdf(this.userCdf, rng.next())
    const dur = Math.min(
      3_600_000,
      Math.max(20, Math.round(Math.exp(6.8 + 1.3 * normal(rng.next(), rng.next()))))
    )
    this.duration[s] = dur
    const u = rng.next()
    let status: number
    if (forceStatus !== undefined) status = forceStatus
    else if (startMs + dur > nowMs) status = u < 0.15 ? S_DELAYED : S_EXECUTING
    else if (nowMs - startMs < this.recentMs && u < 0.5 * (1 - (nowMs - startMs) / this.recentMs)) {
      status = u < 0.1 ? S_DELAYED : S_EXECUTING
    } else status = rng.next() < this.workflowFailRate[w]! ? S_FAILED : S_SUCCEEDED
    this.status[s] = status
    const tasks = 1 + Math.floor(Math.exp(0.9 + 0.8 * normal(rng.next(), rng.next())))
    this.tasks[s] = Math.min(500, status === S_FAILED ? Math.max(1, tasks >> 1) : tasks)
    this.attempt[s] = rng.next() < 0.03 ? 2 : 1
  }

  /** Sorts runs of equal start dates in `order[a..b)` by id. */
  private sortTies(a: number, b: number): void {
    const order = this.order
    const start = this.start
    let i = a
    while (i < b) {
      let j = i + 1
      while (j < b && start[order[j]!] === start[order[i]!]) j++
      if (j - i > 1) {
        const run = Array.from(order.subarray(i, j)).sort((x, y) => this.compare(x, y))
        order.set(run, i)
      }
      i = j
    }
  }

  /** Order of two serials: by start date, then id. */
  compare(x: number, y: number): number {
    const d = this.start[x]! - this.start[y]!
    if (d !== 0) return d
    const ix = this.id(x)
    const iy = this.id(y)
    return ix < iy ? -1 : ix > iy ? 1 : 0
  }

  /** First position in order[lo..hi) whose serial sorts after `serial`. */
  private insertionPoint(serial: number): number {
    let lo = this.lo
    let hi = this.hi
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.compare(this.order[mid]!, serial) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Makes room for one more serial after `hi` in `order` (compacting or doubling it). */
  private roomAtTheEnd(): void {
    if (this.hi < this.order.length) return
    const order = new Uint32Array(Math.max(16, (this.hi - this.lo) * 2))
    order.set(this.order.subarray(this.lo, this.hi))
    this.hi -= this.lo
    this.lo = 0
    this.order = order
  }

  private insertIntoOrder(serial: number): void {
    this.roomAtTheEnd()
    const at = this.insertionPoint(serial)
    if (at < this.hi) this.order.copyWithin(at + 1, at, this.hi)
    this.order[at] = serial
    this.hi++
    this.version++
  }

  private mergeIntoOrder(serials: Array<number>): void {
    serials.sort((x, y) => this.compare(x, y))
    const current = this.order.subarray(this.lo, this.hi)
    const merged = new Uint32Array(Math.max(this.order.length, current.length + serials.length + 64))
    let i = 0
    let j = 0
    let k = 0
    while (i < current.length && j < serials.length) {
      if (this.compare(current[i]!, serials[j]!) <= 0) merged[k++] = current[i++]!
      else merged[k++] = serials[j++]!
    }
    while (i < current.length) merged[k++] = current[i++]!
    while (j < serials.length) merged[k++] = serials[j++]!
    this.order = merged
    this.lo = 0
    this.hi = k
    this.version++
  }

  /** Creates new visible (or hidden) executions. */
  insert(specs: ReadonlyArray<InsertSpec>, nowMs: number): Array<number> {
    const created: Array<number> = []
    for (const spec of specs) {
      const s = this.allocate()
      const at = spec.dateStartedMs ?? nowMs - Math.floor(this.rng.next() * 60_000)
      const forced = spec.status === undefined ? undefined : STATUSES.indexOf(spec.status)
      this.fill(s, at, nowMs, forced)
      if (spec.hidden === true) {
        this.state[s] = HIDDEN
        this.hiddenQueue.push(s)
      } else {
        this.insertIntoOrder(s)
      }
      created.push(s)
    }
    return created
  }

  /** A replay of `serial`: a new EXECUTING execution started now. */
  replay(serial: number, nowMs: number): number {
    const s = this.allocate()
    this.start[s] = nowMs
    this.workflow[s] = this.workflow[serial]!
    this.user[s] = this.user[serial]!
    this.duration[s] = this.duration[serial]!
    this.tasks[s] = 0
    this.status[s] = S_EXECUTING
    this.attempt[s] = Math.min(255, this.attempt[serial]! + 1)
    this.replayOf[s] = serial
    this.insertIntoOrder(s)
    return s
  }

  /** Expires the `n` oldest visible executions (retention). */
  expireOldest(n: number): Array<number> {
    const out: Array<number> = []
    while (out.length < n && this.lo < this.hi) {
      const s = this.order[this.lo++]!
      this.state[s] = EXPIRED
      out.push(s)
    }
    if (out.length > 0) this.version++
    return out
  }

  /** Expires the given visible executions. */
  expire(serials: ReadonlyArray<number>): Array<number> {
    const drop = new Set(serials.filter((s) => this.state[s] === VISIBLE))
    if (drop.size === 0) return []
    let k = this.lo
    for (let i = this.lo; i < this.hi; i++) {
      const s = this.order[i]!
      if (!drop.has(s)) this.order[k++] = s
    }
    this.hi = k
    for (const s of drop) this.state[s] = EXPIRED
    this.version++
    return [...drop]
  }

  /** Makes up to `n` late arrivals visible (all when `n` is undefined). */
  reveal(n: number | undefined): Array<number> {
    const take = this.hiddenQueue.splice(0, n ?? this.hiddenQueue.length)
    for (const s of take) {
      this.state[s] = VISIBLE
      this.insertIntoOrder(s)
    }
    return take
  }

  /** Marks exactly `n` visible executions, spread evenly, as malformed (clearing earlier marks). */
  setMalformed(n: number): void {
    this.malformed.fill(0)
    const size = this.hi - this.lo
    const count = Math.min(n, size)
    for (let k = 0; k < count; k++) {
      const s = this.order[this.lo + Math.floor(((k + 0.5) * size) / count)]!
      this.malformed[s] = 1 + (k % 4)
    }
    this.version++
  }

  /** Sets an execution's status (e.g. an EXECUTING one that finished). */
  setStatus(serial: number, status: StatusName, nowMs: number): void {
    const code = STATUSES.indexOf(status)
    this.status[serial] = code
    if (code === S_SUCCEEDED || code === S_FAILED) {
      this.duration[serial] = Math.max(1, Math.min(4_000_000_000, nowMs - this.start[serial]!))
    }
    this.version++
  }

  get size(): number {
    return this.hi - this.lo
  }

  /** The record of a serial, as served (including its malformation, if any). */
  record(s: number): RawRecord {
    const status = this.status[s]!
    const done = status === S_SUCCEEDED || status === S_FAILED
    const start = this.start[s]!
    const w = this.workflow[s]!
    const rec: RawRecord = {
      id: this.id(s),
      projectId: this.projectId,
      workflowId: this.workflows[w],
      userId: this.users[this.user[s]!],
      integration: INTEGRATIONS[this.workflowIntegration[w]!],
      status: STATUSES[status],
      taskCount: this.tasks[s],
      runDuration: done ? this.duration[s] : null,
      dateStarted: isoString(start),
      dateEnded: done ? isoString(start + this.duration[s]!) : null,
      attempt: this.attempt[s]
    }
    const origin = this.replayOf[s]!
    if (origin >= 0) rec.replayOf = this.id(origin)
    switch (this.malformed[s]) {
      case 1:
        delete rec.id
        break
      case 2:
        rec.status = 42
        break
      case 3:
        rec.dateStarted = "not-a-date"
        break
      case 4:
        rec.taskCount = -1
        break
    }
    return rec
  }

  /** Writes the JSON of a serial's record: the same bytes as `JSON.stringify(record(s))`. */
  writeJson(s: number, w: ByteWriter): void {
    if (this.malformed[s] !== 0 || this.replayOf[s] !== -1) {
      w.string(JSON.stringify(this.record(s)))
      return
    }
    const status = this.status[s]!
    const done = status === S_SUCCEEDED || status === S_FAILED
    const start = this.start[s]!
    const wf = this.workflow[s]!
    const userBytes = this.userBytes[this.user[s]!]!
    const workflowBytes = this.workflowBytes[wf]!
    w.ensure(320 + this.projectIdBytes.length + userBytes.length + workflowBytes.length)
    w.put(SEG.id)
    const a = hash3(this.seed, s, 0)
    const b = hash3(this.seed, s, 0x100)
    const c = hash3(this.seed, s, 0x200)
    w.hex(a, 8)
    w.byte(45)
    w.hex(b >>> 16, 4)
    w.byte(45)
    w.byte(52)
    w.hex(b >>> 8, 2)
    w.hex(b, 1)
    w.byte(45)
    w.byte(VARIANT_BYTES[a & 3]!)
    w.hex(c >>> 20, 1)
    w.hex(c >>> 12, 2)
    w.byte(45)
    w.hex(c >>> 4, 2)
    w.hex(c, 2)
    w.hex(s, 8)
    w.put(SEG.projectId)
    w.put(this.projectIdBytes)
    w.put(SEG.workflowId)
    w.put(workflowBytes)
    w.put(SEG.userId)
    w.put(userBytes)
    w.put(SEG.integration)
    w.put(Dataset.integrationBytes[this.workflowIntegration[wf]!]!)
    w.put(SEG.status)
    w.put(Dataset.statusBytes[status]!)
    w.put(SEG.taskCount)
    w.uint(this.tasks[s]!)
    w.put(SEG.runDuration)
    if (done) w.uint(this.duration[s]!)
    else w.put(SEG.null)
    w.put(SEG.dateStarted)
    w.iso(start)
    w.put(SEG.dateEnded)
    if (done) {
      w.byte(34)
      w.iso(start + this.duration[s]!)
      w.byte(34)
    } else {
      w.put(SEG.null)
    }
    w.put(SEG.attempt)
    w.uint(this.attempt[s]!)
    w.byte(125)
  }

  /** Step executions of an execution: deterministic from its serial and its status. */
  steps(s: number): Array<RawRecord> {
    const count = 1 + (hash3(this.seed, s, 31) % 5)
    const status = this.status[s]!
    const start = this.start[s]!
    const wf = this.workflow[s]!
    const total = status === S_SUCCEEDED || status === S_FAILED ? this.duration[s]! : 0
    const steps: Array<RawRecord> = []
    for (let k = 0; k < count; k++) {
      const last = k === count - 1
      const stepStatus =
        status === S_FAILED && last
          ? "FAILED"
          : status === S_SUCCEEDED || status === S_FAILED || !last
            ? "SUCCEEDED"
            : STATUSES[status]
      const stepStart = start + Math.floor((total * k) / count)
      // The workflow's k-th step: the same step id, name and type in every execution of it.
      const kind = k === 0 ? 0 : 1 + (hash3(this.seed, wf, 40 + k) % (STEP_KINDS.length - 1))
      steps.push({
        id: this.stepId(s, k),
        stepId: this.uuid(0x5e1d, wf, k),
        name: STEP_KINDS[kind]![0],
        type: STEP_KINDS[kind]![1],
        status: stepStatus,
        dateStarted: new Date(stepStart).toISOString(),
        dateEnded:
          stepStatus === "EXECUTING" || stepStatus === "DELAYED"
            ? null
            : new Date(start + Math.floor((total * (k + 1)) / count)).toISOString()
      })
    }
    return steps
  }

  stepId(s: number, k: number): string {
    return this.uuid(0x57e9, s, k)
  }

  /**
   * The error of a failed execution: one of a handful of messages that recur for its workflow
   * (2 to 5 per workflow, the first the most frequent), as the index in {@link STEP_ERRORS}.
   */
  errorOf(s: number): number {
    const wf = this.workflow[s]!
    const own = 2 + (hash3(this.seed, wf, 90) % 4)
    // Skewed: the workflow's first message about half the time.
    const u = unit3(this.seed, s, 91)
    const pick = Math.min(own - 1, Math.floor(own * u * u))
    return hash3(this.seed, wf, 100 + pick) % STEP_ERRORS.length
  }

  /**
   * How a failed step's output is shaped: `object` (`{ error: { message, code } }`), `string`
   * (`"Error: ..."`), `nested` (`{ response: { body: { errors: [{ message }] } } }`, a shape the
   * exporter does not know), or `large` (stored elsewhere: a URL, `isLargeOutput`).
   */
  errorShape(s: number): "object" | "string" | "nested" | "large" {
    const r = hash3(this.seed, s, 92) % 20
    return r < 13 ? "object" : r < 17 ? "string" : r < 19 ? "nested" : "large"
  }

  /** One step's input and output, or undefined when `stepId` is not a step of `s`. */
  step(s: number, stepId: string): RawRecord | undefined {
    const steps = this.steps(s)
    const k = steps.findIndex((step) => step.id === stepId)
    if (k < 0) return undefined
    const large = hash3(this.seed, s, 50 + k) % 10 === 0
    const recordId = hex8(hash3(this.seed, s, 60 + k))
    const storage = `https://storage.local/step-executions/${stepId}`
    const input = large
      ? `${storage}/input.json`
      : { recordId, integration: INTEGRATIONS[this.workflowIntegration[this.workflow[s]!]!] }
    if (steps[k]!.status === "FAILED") {
      const [message, code] = STEP_ERRORS[this.errorOf(s)]!
      const shape = this.errorShape(s)
      return {
        id: stepId,
        input,
        output:
          shape === "object"
            ? { error: { message, code } }
            : shape === "string"
              ? `Error: ${message}`
              : shape === "nested"
                ? { response: { status: 400, body: { errors: [{ message }] } } }
                : `${storage}/output.json`,
        isLargeInput: large,
        isLargeOutput: shape === "large"
      }
    }
    const largeOutput = hash3(this.seed, s, 80 + k) % 25 === 0
    const items = hash3(this.seed, s, 70 + k) % 50
    return {
      id: stepId,
      input,
      output: largeOutput
        ? `${storage}/output.json`
        : steps[k]!.type === "FAN_OUT"
          ? Array.from({ length: Math.min(3, items) }, (_, i) => ({
              recordId: hex8(hash3(this.seed, s, 200 + i))
            }))
          : { ok: true, recordId, items },
      isLargeInput: large,
      isLargeOutput: largeOutput
    }
  }

  /**
   * The first position in [lo, hi) of `order` whose start time is not `below` (positions are
   * sorted by start time, so `below` holds for a prefix).
   */
  private partition(lo: number, hi: number, below: (startMs: number) => boolean): number {
    const start = this.start
    const order = this.order
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (below(start[order[mid]!]!)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The visible executions matching a filter, ascending by (dateStarted, id). */
  matches(filter: Filter): Matches {
    const order = this.order
    const { afterMs, beforeMs, inclusive } = filter
    let a = this.lo
    let b = this.hi
    if (afterMs !== undefined) a = this.partition(a, b, (v) => (inclusive ? v < afterMs : v <= afterMs))
    if (beforeMs !== undefined) b = this.partition(a, b, (v) => (inclusive ? v <= beforeMs : v < beforeMs))
    if (b < a) b = a
    const base = a
    const selected = ExecutionQuery.selectionFields.map((field) => filter[field])
    if (selected.every((value) => value === undefined)) {
      return { size: b - a, at: (i) => order[base + i]! }
    }
    if (this.cacheVersion !== this.version) {
      this.cache.clear()
      this.cacheVersion = this.version
    }
    const cacheKey = `${selected.join("|")}|${a}|${b}`
    let hit = this.cache.get(cacheKey)
    if (hit === undefined) {
      hit = this.scan(filter, a, b)
      if (this.cache.size >= 64) this.cache.clear()
      this.cache.set(cacheKey, hit)
    }
    const found = hit
    return { size: found.length, at: (i) => found[i]! }
  }

  private scan(filter: Filter, a: number, b: number): Uint32Array {
    const empty = new Uint32Array(0)
    let wfMask: Uint8Array | undefined
    if (filter.integration !== undefined || filter.workflowId !== undefined) {
      wfMask = new Uint8Array(this.workflows.length)
      for (let w = 0; w < this.workflows.length; w++) {
        const okIntegration =
          filter.integration === undefined ||
          INTEGRATIONS[this.workflowIntegration[w]!] === filter.integration
        const okWorkflow = filter.workflowId === undefined || this.workflows[w] === filter.workflowId
        wfMask[w] = okIntegration && okWorkflow ? 1 : 0
      }
    }
    let userWanted = -1
    if (filter.userId !== undefined) {
      const u = this.userIndex.get(filter.userId)
      if (u === undefined) return empty
      userWanted = u
    }
    let statusWanted = -1
    if (filter.status !== undefined) {
      statusWanted = (STATUSES as ReadonlyArray<string>).indexOf(filter.status)
      if (statusWanted < 0) return empty
    }
    const out: Array<number> = []
    const order = this.order
    for (let i = a; i < b; i++) {
      const s = order[i]!
      if (wfMask !== undefined && wfMask[this.workflow[s]!] === 0) continue
      if (userWanted >= 0 && this.user[s] !== userWanted) continue
      if (statusWanted >= 0 && this.status[s] !== statusWanted) continue
      out.push(s)
    }
    return Uint32Array.from(out)
  }
}
