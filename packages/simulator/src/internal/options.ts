/** Option and knob types of the simulator, and their validation into a normalised form. */

import { normalizeDate } from "@taskhistory/core/ExecutionQuery"
import { parseRateLimit } from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Duration, Either } from "effect"

/** A fault applied to replays: see `SimulatorOptions.replayFault`. */
export type ReplayFault = "apply-then-503" | "apply-then-reset" | "429-no-apply"

/**
 * A hostile server, for the regression suite of clients (`SimulatorKnobs.fault`):
 *
 * - `endless-body`: status and headers, then a body that never ends, as fast as it is read.
 * - `stalled-body`: status, headers and a piece of the body, then nothing (the socket stays open).
 * - `slow-headers`: the request is read and never answered (no status, no headers).
 * - `huge-page`: a page announced as 600 MB (`content-length`), then streamed.
 * - `ignore-offset`: list requests are answered as if `offset` were 0 (same page, same `nextLink`).
 * - `ignore-dates`: list requests ignore `afterDate` and `beforeDate`.
 * - `looping-nextlink`: the `nextLink` of every page after the first points back at the one before.
 * - `retry-after-garbage`: every API request gets a 429 with `Retry-After: soon-ish`.
 * - `retry-after-huge`: every API request gets a 429 with `Retry-After: 999999`.
 * - `echo-key`: every API request gets a 400 whose JSON body echoes the `Authorization` header,
 *   as it is, JSON-escaped, URL-encoded and in base64.
 * - `escape-errors`: every API request gets a 503 whose body holds terminal escapes.
 * - `hostile-records`: records carry terminal escapes (OSC title, clear screen) and spreadsheet
 *   formulas (`=HYPERLINK(...)`, `+`, `-`, `@`) in their text fields.
 * - `dot-ids`: the first records of a list carry the ids `..` and `.`.
 * - `malformed-steps`: the `stepExecutions` of a single execution also hold two records that are
 *   not step executions (an object without `id`, then a string), after the served steps.
 */
export type FaultMode =
  | "endless-body"
  | "stalled-body"
  | "slow-headers"
  | "huge-page"
  | "ignore-offset"
  | "ignore-dates"
  | "looping-nextlink"
  | "retry-after-garbage"
  | "retry-after-huge"
  | "echo-key"
  | "escape-errors"
  | "hostile-records"
  | "dot-ids"
  | "malformed-steps"

/** Every fault mode. */
export const faultModes: ReadonlyArray<FaultMode> = [
  "endless-body",
  "stalled-body",
  "slow-headers",
  "huge-page",
  "ignore-offset",
  "ignore-dates",
  "looping-nextlink",
  "retry-after-garbage",
  "retry-after-huge",
  "echo-key",
  "escape-errors",
  "hostile-records",
  "dot-ids",
  "malformed-steps"
]

/** Probabilities (0..1) of faults on API requests, and "fail the next K requests". */
export interface FaultOptions {
  /** A 500/502/503 JSON answer. */
  readonly errorRate?: number | undefined
  /** Headers and half the body, then the socket is destroyed. */
  readonly resetRate?: number | undefined
  /** The answer is delayed by `slowMs`. */
  readonly slowRate?: number | undefined
  /** A 502 HTML page, as a proxy sends. */
  readonly htmlRate?: number | undefined
  /** The next K API requests get a 503. */
  readonly failNext?: number | undefined
}

/** Changes to the dataset while clients page. */
export interface ChurnOptions {
  /** New executions (started just now) per list request. */
  readonly insertPerRequest?: number | undefined
  /** Oldest executions expired (retention) per list request. */
  readonly expirePerRequest?: number | undefined
  /** New executions per second of the simulator's clock (applied on the next request). */
  readonly insertPerSecond?: number | undefined
  /** Oldest executions expired per second of the simulator's clock. */
  readonly expirePerSecond?: number | undefined
  /**
   * Executions with an old start date that are hidden at first and become visible while clients
   * page (`revealPerRequest` per list request, or through `reveal`). At runtime, adds that many.
   */
  readonly lateArrivals?: number | undefined
  /** Late arrivals made visible per list request. Default 1. */
  readonly revealPerRequest?: number | undefined
  /** Extra executions that all share one start date. At runtime, adds them. */
  readonly sameStartDate?: { readonly count: number; readonly date: Date | string | number } | undefined
}

/** A per-response delay: fixed, or uniform between two bounds. */
export type LatencyOption =
  | number
  | { readonly fixedMs: number }
  | { readonly minMs: number; readonly maxMs: number }

/** A rate limit: `"N/DURATION"` (`"1000/10m"`) or its parts. */
export type RateLimitOption = string | { readonly limit: number; readonly window: Duration.DurationInput }

/** Knobs that can change at runtime (`configure`, `POST /__admin/config`). */
export interface SimulatorKnobs {
  /** Key of the records array in a page. Default `"workflowExecutions"` (Paragon's documentation). */
  readonly pageShape?: "data" | "workflowExecutions" | undefined
  /** Send `total` in pages. Default true. */
  readonly includeTotal?: boolean | undefined
  /** Add `sortBy=ASC` to `nextLink` when the request sent no `sortBy` (as Paragon's example does). Default true. */
  readonly nextLinkSortAsc?: boolean | undefined
  /** Whether `afterDate`/`beforeDate` bounds are inclusive. Default true. */
  readonly inclusiveDates?: boolean | undefined
  /** Sliding-window limit per API key; `null` or absent: none. */
  readonly rateLimit?: RateLimitOption | null | undefined
  /** `Retry-After` as delay-seconds or as an HTTP date. Default `"seconds"`. */
  readonly retryAfterFormat?: "seconds" | "date" | undefined
  /** Fault probabilities (merged into the current ones by `configure`). */
  readonly faults?: FaultOptions | undefined
  /** A fault applied to replays; `null` clears it. */
  readonly replayFault?: ReplayFault | null | undefined
  /** How many replays the replay fault applies to. Default: all while set. */
  readonly replayFaultTimes?: number | undefined
  /** Churn (merged into the current one by `configure`). */
  readonly churn?: ChurnOptions | undefined
  /** Number of visible executions served malformed (missing id, numeric status, bad date, negative taskCount). */
  readonly malformed?: number | undefined
  /** A delay before every API response; `null` clears it. */
  readonly latency?: LatencyOption | null | undefined
  /** The delay of a "slow" fault, in milliseconds. Default 2000. */
  readonly slowMs?: number | undefined
  /** Hostile-server modes (see {@link FaultMode}), one or several; `null` or `[]` clears them. */
  readonly fault?: FaultMode | ReadonlyArray<FaultMode> | null | undefined
}

/** Options of a simulator. Every field is optional. */
export interface SimulatorOptions extends SimulatorKnobs {
  /** Number of executions generated. Default 2000. */
  readonly records?: number | undefined
  /** Seed of the dataset and of the fault dice. Default 1. */
  readonly seed?: number | undefined
  /** Default derived from the seed. */
  readonly projectId?: string | undefined
  /** Default derived from the seed. */
  readonly apiKey?: string | undefined
  /**
   * End of the span of start dates, and the simulator's time at start. Default: the wall-clock time
   * (`clock` then only measures the time elapsed since the start).
   */
  readonly now?: Date | string | number | undefined
  /** Days of start dates, ending at `now`. Default 60. */
  readonly span?: number | undefined
  /** Origin of `nextLink`: this server, or a second server (another port, optionally another host name) that records the headers it sees. */
  readonly nextLinkOrigin?:
    | "same"
    | { readonly host?: string | undefined; readonly port?: number | undefined }
    | undefined
  /** Port of the server. Default 0 (any free port). */
  readonly port?: number | undefined
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Milliseconds since the epoch. Default `Date.now` (or Effect's `Clock` when started with `start`). */
  readonly clock?: (() => number) | undefined
}

export interface Faults {
  readonly errorRate: number
  readonly resetRate: number
  readonly slowRate: number
  readonly htmlRate: number
  readonly failNext: number
}

export interface Churn {
  readonly insertPerRequest: number
  readonly expirePerRequest: number
  readonly insertPerSecond: number
  readonly expirePerSecond: number
  readonly revealPerRequest: number
}

/** Knobs after validation. */
export interface Knobs {
  readonly pageShape: "data" | "workflowExecutions"
  readonly includeTotal: boolean
  readonly nextLinkSortAsc: boolean
  readonly inclusiveDates: boolean
  readonly rateLimit: { readonly limit: number; readonly windowMs: number } | undefined
  readonly retryAfterFormat: "seconds" | "date"
  readonly faults: Faults
  readonly replayFault: ReplayFault | undefined
  readonly replayFaultTimes: number
  readonly churn: Churn
  readonly malformed: number
  readonly latency: { readonly minMs: number; readonly maxMs: number } | undefined
  readonly slowMs: number
  readonly fault: ReadonlySet<FaultMode>
}

export interface Resolved {
  readonly records: number
  readonly seed: number
  readonly projectId: string
  readonly apiKey: string
  readonly nowMs: number | undefined
  readonly spanDays: number
  readonly nextLinkOrigin: { readonly host: string | undefined; readonly port: number } | undefined
  readonly port: number
  readonly host: string
  readonly lateArrivals: number
  readonly sameStartDate: { readonly count: number; readonly dateMs: number } | undefined
  readonly knobs: Knobs
}

export const defaultKnobs: Knobs = {
  pageShape: "workflowExecutions",
  includeTotal: true,
  nextLinkSortAsc: true,
  inclusiveDates: true,
  rateLimit: undefined,
  retryAfterFormat: "seconds",
  faults: { errorRate: 0, resetRate: 0, slowRate: 0, htmlRate: 0, failNext: 0 },
  replayFault: undefined,
  replayFaultTimes: Number.POSITIVE_INFINITY,
  churn: {
    insertPerRequest: 0,
    expirePerRequest: 0,
    insertPerSecond: 0,
    expirePerSecond: 0,
    revealPerRequest: 1
  },
  malformed: 0,
  latency: undefined,
  slowMs: 2000,
  fault: new Set()
}

type Result<A> = Either.Either<A, InvalidInput>

const bad = (field: string, value: unknown, expected: string) =>
  Either.left(
    new InvalidInput({
      field,
      value: typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)),
      expected
    })
  )

const count = (field: string, value: unknown, fallback: number): Result<number> => {
  if (value === undefined) return Either.right(fallback)
  return typeof value === "number" && Number.isInteger(value) && value >= 0
    ? Either.right(value)
    : bad(field, value, "a non-negative integer")
}

const rate = (field: string, value: unknown, fallback: number): Result<number> => {
  if (value === undefined) return Either.right(fallback)
  return typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Either.right(value)
    : bad(field, value, "a non-negative number")
}

const probability = (field: string, value: unknown, fallback: number): Result<number> => {
  if (value === undefined) return Either.right(fallback)
  return typeof value === "number" && value >= 0 && value <= 1
    ? Either.right(value)
    : bad(field, value, "a probability between 0 and 1")
}

const oneOf = <A extends string>(
  field: string,
  value: unknown,
  values: ReadonlyArray<A>,
  fallback: A
): Result<A> => {
  if (value === undefined) return Either.right(fallback)
  return typeof value === "string" && (values as ReadonlyArray<string>).includes(value)
    ? Either.right(value as A)
    : bad(field, value, values.join(" or "))
}

const bool = (field: string, value: unknown, fallback: boolean): Result<boolean> => {
  if (value === undefined) return Either.right(fallback)
  return typeof value === "boolean" ? Either.right(value) : bad(field, value, "true or false")
}

/** Parses a date option (Date, epoch milliseconds or ISO string) into epoch milliseconds. */
export const dateMs = (field: string, value: Date | string | number): Result<number> => {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime())
      ? bad(field, String(value), "a valid date")
      : Either.right(value.getTime())
  }
  if (typeof value === "number")
    return Number.isFinite(value) ? Either.right(value) : bad(field, value, "a date")
  const iso = normalizeDate(value)
  return iso === undefined ? bad(field, value, "an ISO 8601 date-time") : Either.right(Date.parse(iso))
}

const rateLimitOf = (value: RateLimitOption): Result<{ limit: number; windowMs: number }> => {
  if (typeof value === "string") {
    return Either.map(parseRateLimit(value), (r) => ({
      limit: r.limit,
      windowMs: Duration.toMillis(r.window)
    }))
  }
  if (typeof value !== "object" || value === null)
    return bad("rate limit", value, "N/DURATION such as 1000/10m")
  if (!Number.isInteger(value.limit) || value.limit < 1)
    return bad("rate limit", value, "a positive integer limit")
  const window = Duration.decodeUnknown(value.window)
  const windowMs = window._tag === "Some" ? Duration.toMillis(window.value) : Number.NaN
  return Number.isFinite(windowMs) && windowMs > 0
    ? Either.right({ limit: value.limit, windowMs })
    : bad("rate limit", value, "a positive window")
}

const latencyOf = (value: LatencyOption): Result<{ minMs: number; maxMs: number }> => {
  const ok = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 0
  if (typeof value === "number")
    return ok(value) ? Either.right({ minMs: value, maxMs: value }) : bad("latency", value, "milliseconds")
  if ("fixedMs" in value) {
    return ok(value.fixedMs)
      ? Either.right({ minMs: value.fixedMs, maxMs: value.fixedMs })
      : bad("latency", value, "milliseconds")
  }
  return ok(value.minMs) && ok(value.maxMs) && value.minMs <= value.maxMs
    ? Either.right({ minMs: value.minMs, maxMs: value.maxMs })
    : bad("latency", value, "{ minMs, maxMs } with 0 <= minMs <= maxMs")
}

/** Applies a knob patch to the current knobs. */
export const applyKnobs = (current: Knobs, patch: SimulatorKnobs): Result<Knobs> =>
  Either.gen(function* () {
    const f = patch.faults ?? {}
    const c = patch.churn ?? {}
    return {
      pageShape: yield* oneOf(
        "pageShape",
        patch.pageShape,
        ["data", "workflowExecutions"] as const,
        current.pageShape
      ),
      includeTotal: yield* bool("includeTotal", patch.includeTotal, current.includeTotal),
      nextLinkSortAsc: yield* bool("nextLinkSortAsc", patch.nextLinkSortAsc, current.nextLinkSortAsc),
      inclusiveDates: yield* bool("inclusiveDates", patch.inclusiveDates, current.inclusiveDates),
      rateLimit:
        patch.rateLimit === undefined
          ? current.rateLimit
          : patch.rateLimit === null
            ? undefined
            : yield* rateLimitOf(patch.rateLimit),
      retryAfterFormat: yield* oneOf(
        "retryAfterFormat",
        patch.retryAfterFormat,
        ["seconds", "date"] as const,
        current.retryAfterFormat
      ),
      faults: {
        errorRate: yield* probability("faults.errorRate", f.errorRate, current.faults.errorRate),
        resetRate: yield* probability("faults.resetRate", f.resetRate, current.faults.resetRate),
        slowRate: yield* probability("faults.slowRate", f.slowRate, current.faults.slowRate),
        htmlRate: yield* probability("faults.htmlRate", f.htmlRate, current.faults.htmlRate),
        failNext: yield* count("faults.failNext", f.failNext, current.faults.failNext)
      },
      replayFault:
        patch.replayFault === undefined
          ? current.replayFault
          : patch.replayFault === null
            ? undefined
            : yield* oneOf(
                "replayFault",
                patch.replayFault,
                ["apply-then-503", "apply-then-reset", "429-no-apply"] as const,
                "apply-then-503"
              ),
      replayFaultTimes:
        patch.replayFaultTimes !== undefined
          ? yield* count("replayFaultTimes", patch.replayFaultTimes, 0)
          : patch.replayFault !== undefined
            ? Number.POSITIVE_INFINITY
            : current.replayFaultTimes,
      churn: {
        insertPerRequest: yield* count(
          "churn.insertPerRequest",
          c.insertPerRequest,
          current.churn.insertPerRequest
        ),
        expirePerRequest: yield* count(
          "churn.expirePerRequest",
          c.expirePerRequest,
          current.churn.expirePerRequest
        ),
        insertPerSecond: yield* rate(
          "churn.insertPerSecond",
          c.insertPerSecond,
          current.churn.insertPerSecond
        ),
        expirePerSecond: yield* rate(
          "churn.expirePerSecond",
          c.expirePerSecond,
          current.churn.expirePerSecond
        ),
        revealPerRequest: yield* count(
          "churn.revealPerRequest",
          c.revealPerRequest,
          current.churn.revealPerRequest
        )
      },
      malformed: yield* count("malformed", patch.malformed, current.malformed),
      latency:
        patch.latency === undefined
          ? current.latency
          : patch.latency === null
            ? undefined
            : yield* latencyOf(patch.latency),
      slowMs: yield* count("slowMs", patch.slowMs, current.slowMs),
      fault: yield* faultsOf(patch.fault, current.fault)
    }
  })

const faultsOf = (
  value: FaultMode | ReadonlyArray<FaultMode> | null | undefined,
  current: ReadonlySet<FaultMode>
): Result<ReadonlySet<FaultMode>> => {
  if (value === undefined) return Either.right(current)
  if (value === null) return Either.right(new Set())
  const list: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
  for (const mode of list) {
    if (typeof mode !== "string" || !(faultModes as ReadonlyArray<string>).includes(mode)) {
      return bad("fault", mode, faultModes.join(", "))
    }
  }
  return Either.right(new Set(list as ReadonlyArray<FaultMode>))
}

/** Validates options and fills in the defaults. */
export const resolve = (options: SimulatorOptions): Result<Resolved> =>
  Either.gen(function* () {
    const seed = options.seed ?? 1
    if (!Number.isSafeInteger(seed)) return yield* bad("seed", seed, "an integer")
    const records = yield* count("records", options.records, 2000)
    if (records > 5_000_000) return yield* bad("records", records, "at most 5,000,000")
    const span = options.span ?? 60
    if (typeof span !== "number" || !(span > 0)) return yield* bad("span", span, "a positive number of days")
    const port = yield* count("port", options.port, 0)
    if (port > 65535) return yield* bad("port", port, "a port number")
    const nowMs = options.now === undefined ? undefined : yield* dateMs("now", options.now)
    const c = options.churn ?? {}
    const lateArrivals = yield* count("churn.lateArrivals", c.lateArrivals, 0)
    let sameStartDate: Resolved["sameStartDate"]
    if (c.sameStartDate !== undefined) {
      sameStartDate = {
        count: yield* count("churn.sameStartDate.count", c.sameStartDate.count, 0),
        dateMs: yield* dateMs("churn.sameStartDate.date", c.sameStartDate.date)
      }
    }
    let nextLinkOrigin: Resolved["nextLinkOrigin"]
    if (options.nextLinkOrigin !== undefined && options.nextLinkOrigin !== "same") {
      const foreignPort = yield* count("nextLinkOrigin.port", options.nextLinkOrigin.port, 0)
      nextLinkOrigin = { host: options.nextLinkOrigin.host, port: foreignPort }
    }
    const tag = (seed >>> 0).toString(16).padStart(8, "0")
    return {
      records,
      seed,
      projectId: options.projectId ?? `00000000-0000-4000-8000-0000${tag}`,
      apiKey: options.apiKey ?? `sim_test_key_${tag}`,
      nowMs,
      spanDays: span,
      nextLinkOrigin,
      port,
      host: options.host ?? "127.0.0.1",
      lateArrivals,
      sameStartDate,
      knobs: yield* applyKnobs(defaultKnobs, options)
    }
  })
