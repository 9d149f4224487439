/**
 * What the engine keeps in `ExportState.cursor`, as Schemas: the position of a keyset read under
 * way ({@link RunCursor}), its hourly counts, the verification ledger and the plan of days to read
 * again ({@link Stored}). Version 2 of the format; version 1 (a bare `RunCursor`) is still read.
 * Written by every sink as JSON, in the same transaction as the rows it covers.
 *
 * @internal
 */
import { Option, Predicate, Schema } from "effect"
import * as L from "./ledger.js"

/** The engine data of a keyset read under way. */
export interface RunCursor {
  readonly v: 1
  /** The fixed end of the run's range (exclusive), ISO. */
  readonly end: string
  /** Every execution that started before this instant (ms) has been read in this run. */
  readonly lower: number
  /** Earliest start (ms) of an execution seen still running in this run. */
  readonly minOpen: number | undefined
  /** How many executions this run has seen still running (each counted once). */
  readonly open: number
  /** Whether `afterDate` turned out to be inclusive. */
  readonly afterInclusive: boolean
  readonly longestRunMs: number
  /**
   * The windows of [lower, end) still to read, ascending, as `[lower, end]` pairs: what was read
   * concurrently is everything before each window's lower and between windows. Absent: one
   * window, [lower, end).
   */
  readonly spans?: ReadonlyArray<readonly [number, number]> | undefined
}

/** Days read again after a mismatch: which, and the progress in the first one. */
export interface Plan {
  /** Start (ms) of each UTC day to read again, ascending. */
  readonly days: ReadonlyArray<number>
  /** Every execution of the first day that started before this instant has been read again. */
  readonly at: number | undefined
  /** What was read of the first day so far. */
  readonly acc: L.Count | undefined
}

/**
 * What the last complete keyset read covered: every execution that started before `through` (ms)
 * was read; `open` of them were still running, the earliest started at `since`. Those are read
 * again by each run until they end (they hold the high-water mark at `since`).
 */
export interface Fresh {
  readonly through: number
  readonly open: number
  readonly since: number | undefined
}

/** Everything the engine keeps in `ExportState.cursor`. */
export interface Stored {
  /** A keyset read under way. */
  readonly run: RunCursor | undefined
  /** Hourly counts of that read for start dates at or after `base`. */
  readonly tally: ReadonlyMap<number, L.Count>
  readonly base: number | undefined
  readonly ledger: L.Ledger | undefined
  readonly plan: Plan | undefined
  /** Ids already counted that started exactly at the stored position (read again on resume). */
  readonly edge: ReadonlyArray<string>
  /** What the last complete keyset read covered (states of versions before 0.2 have none). */
  readonly fresh: Fresh | undefined
}

export const emptyStored: Stored = {
  run: undefined,
  tally: new Map(),
  base: undefined,
  ledger: undefined,
  plan: undefined,
  edge: [],
  fresh: undefined
}

// ---------------------------------------------------------------------------------------------
// the JSON form

const IsoInstant = Schema.String.pipe(Schema.filter((s) => !Number.isNaN(Date.parse(s))))

/** A `RunCursor` as stored (`afterInclusive` and `longestRunMs` were optional in early versions). */
const RunCursorJson = Schema.Struct({
  v: Schema.Literal(1),
  end: IsoInstant,
  lower: Schema.Number,
  minOpen: Schema.optional(Schema.Number),
  open: Schema.optional(Schema.Number),
  afterInclusive: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  longestRunMs: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  spans: Schema.optional(Schema.Array(Schema.Tuple(Schema.Number, Schema.Number)))
})

/** One count: `[key, c, y, first id or null, first start (0 without one)]`. */
const CountRow = Schema.Tuple(
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.NullOr(Schema.String),
  Schema.Number
)
type CountRow = typeof CountRow.Type

/** Hourly counts: `[hour since the epoch, c, y]` rows and the first record per day. */
const TallyJson = Schema.Struct({
  h: Schema.Array(Schema.Tuple(Schema.Number, Schema.Number, Schema.Number)),
  f: Schema.optional(Schema.Array(Schema.Tuple(Schema.String, Schema.Number)))
})

const LedgerJson = Schema.Struct({
  from: Schema.Number,
  to: Schema.Number,
  days: Schema.Array(CountRow),
  expiring: Schema.optional(Schema.Literal(true))
}).pipe(Schema.filter((l) => l.from <= l.to))

const PlanJson = Schema.Struct({
  days: Schema.NonEmptyArray(Schema.Number),
  at: Schema.optional(Schema.Number),
  acc: Schema.optional(CountRow)
})

const FreshJson = Schema.Struct({
  through: Schema.Number,
  open: Schema.Number,
  since: Schema.optional(Schema.Number)
})

const StoredV2Json = Schema.Struct({
  v: Schema.Literal(2),
  fresh: Schema.optional(FreshJson),
  edge: Schema.optional(Schema.Array(Schema.String)),
  run: Schema.optional(RunCursorJson),
  tally: Schema.optional(TallyJson),
  base: Schema.optional(Schema.Number),
  ledger: Schema.optional(LedgerJson),
  plan: Schema.optional(PlanJson)
})

const StoredJson = Schema.Union(StoredV2Json, RunCursorJson)

// ---------------------------------------------------------------------------------------------
// JSON <-> the engine's values

const toCount = ([, c, y, f, fAt]: CountRow): L.Count => ({
  c,
  y,
  f,
  fAt: f === null ? Number.POSITIVE_INFINITY : fAt
})

const fromCount = (key: number, c: L.Count): CountRow => [key, c.c, c.y, c.f, c.f === null ? 0 : c.fAt]

const toCounts = (rows: ReadonlyArray<CountRow>): Map<number, L.Count> =>
  new Map(rows.map((row) => [row[0], toCount(row)]))

const fromCounts = (counts: ReadonlyMap<number, L.Count>): Array<CountRow> =>
  [...counts].sort((x, y) => x[0] - y[0]).map(([k, c]) => fromCount(k, c))

const toTally = (json: typeof TallyJson.Type): Map<number, L.Count> => {
  const out = new Map<number, L.Count>()
  for (const [h, c, y] of json.h) out.set(h * L.HOUR, { c, y, f: null, fAt: Number.POSITIVE_INFINITY })
  for (const [f, fAt] of json.f ?? []) {
    const hour = out.get(L.floorHour(fAt))
    if (hour !== undefined) {
      hour.f = f
      hour.fAt = fAt
    }
  }
  return out
}

/** Only the first record per day is kept: it is the only first the ledger keeps. */
const fromTally = (hours: ReadonlyMap<number, L.Count>): typeof TallyJson.Type => {
  const firsts = new Map<number, readonly [string, number]>()
  const rows: Array<readonly [number, number, number]> = []
  for (const [hour, count] of [...hours].sort((x, y) => x[0] - y[0])) {
    rows.push([hour / L.HOUR, count.c, count.y])
    if (count.f === null) continue
    const key = L.dayStart(hour)
    const best = firsts.get(key)
    if (best === undefined || L.firstBefore(count.fAt, count.f, { f: best[0], fAt: best[1] })) {
      firsts.set(key, [count.f, count.fAt])
    }
  }
  return { h: rows, f: [...firsts.values()] }
}

const toRun = (json: typeof RunCursorJson.Type): RunCursor => {
  const { spans, ...rest } = json
  const run = { ...rest, minOpen: json.minOpen, open: json.open ?? 0 }
  return spans === undefined ? run : { ...run, spans }
}

/**
 * `open` is left out while it is 0, and `spans` when it is the one window [lower, end) (as
 * engines before them wrote the cursor).
 */
const fromRun = ({ open, spans, ...rest }: RunCursor): typeof RunCursorJson.Type => {
  const one =
    spans === undefined ||
    (spans.length === 1 && spans[0]![0] === rest.lower && spans[0]![1] === Date.parse(rest.end))
  return { ...rest, ...(open === 0 ? {} : { open }), ...(one ? {} : { spans }) }
}

const fromJson = (json: typeof StoredJson.Type): Stored => {
  if (json.v === 1) return { ...emptyStored, run: toRun(json) }
  return {
    run: json.run === undefined ? undefined : toRun(json.run),
    tally: json.tally === undefined ? new Map() : toTally(json.tally),
    base: json.base,
    ledger:
      json.ledger === undefined
        ? undefined
        : {
            from: json.ledger.from,
            to: json.ledger.to,
            days: toCounts(json.ledger.days),
            ...(json.ledger.expiring === true ? { expiring: true } : {})
          },
    plan:
      json.plan === undefined
        ? undefined
        : {
            days: json.plan.days,
            at: json.plan.at,
            acc: json.plan.acc === undefined ? undefined : toCount(json.plan.acc)
          },
    edge: json.edge ?? [],
    fresh: json.fresh === undefined ? undefined : { ...json.fresh, since: json.fresh.since }
  }
}

const fromStored = (s: Stored): typeof StoredV2Json.Type => ({
  v: 2,
  ...(s.fresh === undefined
    ? {}
    : {
        fresh: {
          through: s.fresh.through,
          open: s.fresh.open,
          ...(s.fresh.since === undefined ? {} : { since: s.fresh.since })
        }
      }),
  ...(s.edge.length === 0 ? {} : { edge: s.edge }),
  ...(s.run === undefined
    ? {}
    : {
        run: fromRun(s.run),
        tally: fromTally(s.tally),
        ...(s.base === undefined ? {} : { base: s.base })
      }),
  ...(s.ledger === undefined
    ? {}
    : {
        ledger: {
          from: s.ledger.from,
          to: s.ledger.to,
          days: fromCounts(s.ledger.days),
          ...(s.ledger.expiring === true ? { expiring: true as const } : {})
        }
      }),
  ...(s.plan === undefined
    ? {}
    : {
        plan: {
          days: s.plan.days as readonly [number, ...Array<number>],
          ...(s.plan.at === undefined ? {} : { at: s.plan.at }),
          ...(s.plan.acc === undefined ? {} : { acc: fromCount(0, s.plan.acc) })
        }
      })
})

const StoredSelf = Schema.declare((u: unknown): u is Stored => Predicate.isRecord(u) && "tally" in u)

/** The stored form of {@link Stored}: version 2 out; version 1 or 2 in. */
export const StoredFromJson = Schema.transform(StoredJson, StoredSelf, {
  strict: true,
  decode: fromJson,
  encode: fromStored
})

const decodeOption = Schema.decodeUnknownOption(StoredFromJson)

/**
 * Reads what a sink stored in `ExportState.cursor`. Nothing (a finished run without a ledger), or
 * something no version of the engine wrote, reads as {@link emptyStored}: the run starts afresh.
 */
export const decodeStored = (u: unknown): Stored => Option.getOrElse(decodeOption(u), () => emptyStored)

/**
 * The JSON of `ExportState.cursor` for `s` (an empty `edge` is left out). Written once per batch,
 * so it is the transformation's encoder alone: its output is typed by the Schema, and validating
 * it again (thousands of hourly rows in a long read) would cost more than the rest of the batch's
 * engine work.
 */
export const encodeStored = (s: Stored): typeof StoredV2Json.Encoded => fromStored(s)

/** The windows of a keyset read still to read (`[lower, end)` when the cursor has none). */
export const spansOf = (run: RunCursor): ReadonlyArray<readonly [number, number]> =>
  run.spans ?? (run.lower < Date.parse(run.end) ? [[run.lower, Date.parse(run.end)]] : [])

/** A new keyset read's cursor. */
export const runCursor = (
  end: number,
  lower: number,
  afterInclusive: boolean,
  longestRunMs: number
): RunCursor => ({
  v: 1,
  end: new Date(end).toISOString(),
  lower,
  minOpen: undefined,
  open: 0,
  afterInclusive,
  longestRunMs
})
