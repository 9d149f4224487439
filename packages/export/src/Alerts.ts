/**
 * Alert rules over the exported data: a workflow's (or a user's, or the whole project's) failure
 * rate or failure count above a threshold in a window of time, or a group that ran before and
 * went silent. Evaluated from the sink (zero API requests) after each run; each rule and group
 * moves between "firing" and "resolved", and each move is one notification, never repeated:
 * the state (and the notifications not delivered yet) is stored in the sink.
 *
 * Pure parts ({@link step}, {@link aggregate}) apart from the effects ({@link evaluate} reads an
 * {@link ExportReader}).
 *
 * @since 0.3.0
 */
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import type { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Option, Stream } from "effect"
import type { ExportReaderShape, GroupCounts } from "./ExportReader.js"
import type { SinkError } from "./Sink.js"

/**
 * What a rule tests in its window.
 *
 * - `FailureRate`: failures / executions > `threshold` (0 to 1);
 * - `Failures`: failures > `threshold`;
 * - `Silent`: a group that ran in the window has had no execution for `forMs`.
 *
 * @since 0.3.0
 */
export type Condition =
  | { readonly _tag: "FailureRate"; readonly threshold: number }
  | { readonly _tag: "Failures"; readonly threshold: number }
  | { readonly _tag: "Silent"; readonly forMs: number }

/**
 * One rule.
 *
 * @since 0.3.0
 */
export interface Rule {
  readonly name: string
  /** The groups: each workflow, each user, or everything as one group. */
  readonly by: "workflow" | "user" | "all"
  readonly condition: Condition
  /**
   * Failure rules: the executions that started in the last `windowMs` (up to the time the export
   * is complete). Silent rules: how far back a group must have run to be watched.
   */
  readonly windowMs: number
  /** The executions a group needs in the window before the rule can hold for it. */
  readonly minExecutions: number
  /** After a "firing" message, no new "firing" for the same group before this long. */
  readonly cooldownMs: number
  /** The names of the webhooks to notify. */
  readonly notify: ReadonlyArray<string>
}

/**
 * A group of executions (no field for `by: all`).
 *
 * @since 0.3.0
 */
export interface Group {
  readonly workflowId?: string
  readonly userId?: string
}

/**
 * What a group did in a rule's window. `executions` counts the executions that reached a final
 * status (`SUCCEEDED` or `FAILED`), `failures` the `FAILED` ones; silent rules count every status.
 *
 * @since 0.3.0
 */
export interface GroupStats {
  readonly group: Group
  readonly executions: number
  readonly failures: number
  /**
   * The latest start of an execution of the group seen (ms), if any: what silent rules test.
   * (For failure rules, counted in the sink it is the latest start of any status in the window;
   * folded by {@link aggregate}, of a final status.)
   */
  readonly lastStartedMs: number | undefined
}

/**
 * A notification, in the fields of the contract's `json` webhook format.
 *
 * @since 0.3.0
 */
export interface AlertMessage {
  readonly rule: string
  readonly state: "firing" | "resolved"
  readonly group: Group
  readonly failures: number
  readonly executions: number
  /** failures / executions, 0 without executions. */
  readonly failureRate: number
  readonly windowStart: string
  readonly windowEnd: string
  /** When the rule was evaluated (ISO). */
  readonly at: string
}

/**
 * A notification waiting for delivery to one webhook.
 *
 * @since 0.3.0
 */
export interface Pending {
  readonly id: string
  readonly webhook: string
  readonly message: AlertMessage
  readonly queuedAt: string
}

/**
 * What is stored of one rule and group.
 *
 * @since 0.3.0
 */
export interface GroupState {
  readonly group: Group
  /** A "firing" message went out (was queued) and no "resolved" since. */
  readonly firing: boolean
  /** The last "firing" message (ISO), for the cooldown. */
  readonly lastFiredAt: string | undefined
}

/**
 * The alert state of an export stream, stored in its sink (JSON).
 *
 * @since 0.3.0
 */
export interface AlertState {
  readonly version: 1
  /** By rule name, then group key. */
  readonly rules: Readonly<Record<string, Readonly<Record<string, GroupState>>>>
  /** Notifications not delivered yet, oldest first. */
  readonly outbox: ReadonlyArray<Pending>
}

/**
 * The state before any evaluation.
 *
 * @since 0.3.0
 */
export const emptyState: AlertState = { version: 1, rules: {}, outbox: [] }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * The alert state from what a sink stored (`emptyState` for nothing or something unreadable).
 *
 * @since 0.3.0
 */
export const decodeState = (stored: Option.Option<unknown>): AlertState => {
  if (Option.isNone(stored)) return emptyState
  const s = stored.value
  if (!isRecord(s) || s.version !== 1 || !isRecord(s.rules) || !Array.isArray(s.outbox)) return emptyState
  return s as unknown as AlertState
}

/**
 * The key of a group in the state (stable JSON of its fields).
 *
 * @since 0.3.0
 */
export const groupKey = (group: Group): string =>
  JSON.stringify([group.workflowId ?? null, group.userId ?? null])

const groupOf = (rule: Rule, e: WorkflowExecution): Group | undefined => {
  switch (rule.by) {
    case "all":
      return {}
    case "workflow":
      return e.workflowId === undefined ? undefined : { workflowId: e.workflowId }
    case "user":
      return e.userId === undefined ? undefined : { userId: e.userId }
  }
}

/**
 * What each rule found, by group key: the groups seen in its window with their counts.
 *
 * @since 0.3.0
 */
export interface Evaluation {
  readonly windowEnd: number
  /**
   * Executions the rules went over: read from the export, or, when counted in the sink
   * (`inSink`), the executions counted, summed over the rules.
   */
  readonly read: number
  /** The sink counted (no execution was read into memory). */
  readonly inSink: boolean
  readonly groups: ReadonlyMap<string, ReadonlyMap<string, GroupStats>>
}

/** The start of a rule's window. */
const windowStartOf = (rule: Rule, end: number) => end - rule.windowMs

/**
 * A running aggregation of executions for every rule (one pass over the executions).
 *
 * @since 0.3.0
 */
export interface Aggregator {
  readonly add: (e: WorkflowExecution) => void
  readonly result: () => Evaluation
}

/**
 * Counts executions per rule and group, for windows that end at `windowEnd` (ms).
 *
 * @since 0.3.0
 */
export const aggregate = (rules: ReadonlyArray<Rule>, windowEnd: number): Aggregator => {
  const maps = rules.map(() => new Map<string, { -readonly [K in keyof GroupStats]: GroupStats[K] }>())
  const starts = rules.map((rule) => windowStartOf(rule, windowEnd))
  let read = 0
  return {
    add: (e) => {
      read++
      const started = Date.parse(e.dateStarted)
      if (Number.isNaN(started)) return
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!
        if (started < starts[i]!) continue
        const silent = rule.condition._tag === "Silent"
        // Failure rules count the window up to the time the export is complete; a silent rule
        // takes any later execution as a sign of life.
        if (!silent && started > windowEnd) continue
        const final = e.status === "SUCCEEDED" || e.status === "FAILED"
        if (!silent && !final) continue
        const group = groupOf(rule, e)
        if (group === undefined) continue
        const key = groupKey(group)
        const map = maps[i]!
        let stats = map.get(key)
        if (stats === undefined) {
          stats = { group, executions: 0, failures: 0, lastStartedMs: undefined }
          map.set(key, stats)
        }
        stats.executions++
        if (e.status === "FAILED") stats.failures++
        if (stats.lastStartedMs === undefined || started > stats.lastStartedMs) stats.lastStartedMs = started
      }
    },
    result: () => ({
      windowEnd,
      read,
      inSink: false,
      groups: new Map(rules.map((rule, i) => [rule.name, maps[i]!]))
    })
  }
}

/**
 * Whether a rule holds for a group's counts.
 *
 * @since 0.3.0
 */
export const holds = (rule: Rule, stats: GroupStats, windowEnd: number): boolean => {
  if (stats.executions < rule.minExecutions) return false
  switch (rule.condition._tag) {
    case "FailureRate":
      return stats.executions > 0 && stats.failures / stats.executions > rule.condition.threshold
    case "Failures":
      return stats.failures > rule.condition.threshold
    case "Silent":
      return stats.lastStartedMs !== undefined && stats.lastStartedMs < windowEnd - rule.condition.forMs
  }
}

/**
 * What one evaluation changes: the new state (with the new notifications in its outbox) and
 * those notifications.
 *
 * @since 0.3.0
 */
export interface Step {
  readonly state: AlertState
  readonly queued: ReadonlyArray<Pending>
}

/**
 * The state after an evaluation at `now` (ms): a group for which a rule starts to hold gets one
 * "firing" (unless a "firing" went out less than the cooldown ago: then it waits), a firing group
 * for which it stops holding one "resolved"; nothing else is sent. A silent group that leaves the
 * window stays firing until it runs again. Rules no longer in `rules` are forgotten.
 *
 * @since 0.3.0
 */
export const step = (
  rules: ReadonlyArray<Rule>,
  previous: AlertState,
  evaluation: Evaluation,
  now: number
): Step => {
  const at = new Date(now).toISOString()
  const windowEnd = new Date(evaluation.windowEnd).toISOString()
  const queued: Array<Pending> = []
  const next: Record<string, Record<string, GroupState>> = {}
  for (const rule of rules) {
    const before = previous.rules[rule.name] ?? {}
    const seen = evaluation.groups.get(rule.name) ?? new Map<string, GroupStats>()
    const after: Record<string, GroupState> = {}
    const keys = new Set([...Object.keys(before), ...seen.keys()])
    for (const key of keys) {
      const prev = before[key]
      const stats = seen.get(key)
      const group = stats?.group ?? prev?.group ?? {}
      const holding =
        stats !== undefined
          ? holds(rule, stats, evaluation.windowEnd)
          : rule.condition._tag === "Silent" && prev?.firing === true
      let state: GroupState | undefined = prev
      let message: AlertMessage["state"] | undefined
      if (holding && prev?.firing !== true) {
        const last = prev?.lastFiredAt === undefined ? undefined : Date.parse(prev.lastFiredAt)
        if (last === undefined || now - last >= rule.cooldownMs) {
          state = { group, firing: true, lastFiredAt: at }
          message = "firing"
        }
      } else if (!holding && prev?.firing === true) {
        state = { group, firing: false, lastFiredAt: prev.lastFiredAt }
        message = "resolved"
      }
      if (message !== undefined) {
        const executions = stats?.executions ?? 0
        const failures = stats?.failures ?? 0
        const body: AlertMessage = {
          rule: rule.name,
          state: message,
          group,
          failures,
          executions,
          failureRate: executions === 0 ? 0 : failures / executions,
          windowStart: new Date(windowStartOf(rule, evaluation.windowEnd)).toISOString(),
          windowEnd,
          at
        }
        for (const webhook of rule.notify) {
          queued.push({
            id: `${at} ${rule.name} ${key} ${message} ${webhook}`,
            webhook,
            message: body,
            queuedAt: at
          })
        }
      }
      // Resolved groups are kept only while their cooldown runs.
      if (
        state !== undefined &&
        (state.firing ||
          (state.lastFiredAt !== undefined && now - Date.parse(state.lastFiredAt) < rule.cooldownMs))
      ) {
        after[key] = state
      }
    }
    next[rule.name] = after
  }
  return { state: { version: 1, rules: next, outbox: [...previous.outbox, ...queued] }, queued }
}

/**
 * The groups for which each rule holds now (what would be firing), by rule name.
 *
 * @since 0.3.0
 */
export const holding = (
  rules: ReadonlyArray<Rule>,
  previous: AlertState,
  evaluation: Evaluation
): ReadonlyArray<{ readonly rule: Rule; readonly stats: GroupStats }> => {
  const out: Array<{ rule: Rule; stats: GroupStats }> = []
  for (const rule of rules) {
    const seen = evaluation.groups.get(rule.name) ?? new Map<string, GroupStats>()
    for (const stats of seen.values()) if (holds(rule, stats, evaluation.windowEnd)) out.push({ rule, stats })
    if (rule.condition._tag === "Silent") {
      for (const [key, prev] of Object.entries(previous.rules[rule.name] ?? {})) {
        if (prev.firing && !seen.has(key)) {
          out.push({
            rule,
            stats: { group: prev.group, executions: 0, failures: 0, lastStartedMs: undefined }
          })
        }
      }
    }
  }
  return out
}

/** The group of a reader's counts. */
const groupOfCounts = (by: Rule["by"], c: GroupCounts): Group =>
  by === "workflow" ? { workflowId: c.workflowId! } : by === "user" ? { userId: c.userId! } : {}

/**
 * Counts each rule's window in the sink ({@link ExportReaderShape.countBy}): failure rules the
 * executions that started in `[windowEnd - window, windowEnd]` and reached a final status, silent
 * rules every execution that started from the window's start on.
 */
const countInSink = (
  countBy: NonNullable<ExportReaderShape["countBy"]>,
  rules: ReadonlyArray<Rule>,
  windowEnd: number,
  selection: ExecutionQuery
): Effect.Effect<Evaluation, SinkError | InvalidInput> =>
  Effect.map(
    Effect.forEach(rules, (rule) => {
      const silent = rule.condition._tag === "Silent"
      const selected = selection.beforeDate === undefined ? undefined : Date.parse(selection.beforeDate)
      const before = silent ? selected : selected === undefined ? windowEnd : Math.min(selected, windowEnd)
      const query: ExecutionQuery = {
        ...selection,
        afterDate: new Date(windowStartOf(rule, windowEnd)).toISOString(),
        beforeDate: before === undefined ? undefined : new Date(before).toISOString()
      }
      return countBy(query, rule.by)
    }),
    (counted) => {
      let read = 0
      const groups = new Map<string, ReadonlyMap<string, GroupStats>>()
      rules.forEach((rule, i) => {
        const silent = rule.condition._tag === "Silent"
        const map = new Map<string, GroupStats>()
        for (const c of counted[i]!) {
          const executions = silent ? c.executions : c.finished
          read += executions
          if (executions === 0) continue
          const group = groupOfCounts(rule.by, c)
          map.set(groupKey(group), {
            group,
            executions,
            failures: c.failures,
            lastStartedMs: c.lastStartedMs
          })
        }
        groups.set(rule.name, map)
      })
      return { windowEnd, read, inSink: true, groups }
    }
  )

/**
 * Evaluates the rules over an export, for windows that end at `windowEnd` (ms). A reader that
 * counts in the sink ({@link ExportReaderShape.countBy}: every reader of this package) is asked
 * for each rule's counts, and no execution is read into memory; another reader's executions (those
 * that started in the longest window before `windowEnd`, and later) are streamed through
 * {@link aggregate}.
 *
 * @since 0.3.0
 */
export const evaluate = (
  reader: ExportReaderShape,
  rules: ReadonlyArray<Rule>,
  windowEnd: number,
  selection: ExecutionQuery = {}
): Effect.Effect<Evaluation, SinkError | InvalidInput> => {
  const aggregator = aggregate(rules, windowEnd)
  if (rules.length === 0) return Effect.succeed(aggregator.result())
  if (reader.countBy !== undefined) return countInSink(reader.countBy, rules, windowEnd, selection)
  const longest = Math.max(...rules.map((r) => r.windowMs))
  const query: ExecutionQuery = { ...selection, afterDate: new Date(windowEnd - longest).toISOString() }
  return reader.executions(query).pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.sync(() => {
        for (const e of chunk) aggregator.add(e)
      })
    ),
    Effect.map(() => aggregator.result())
  )
}

/**
 * Removes delivered (or given up) notifications from the outbox.
 *
 * @since 0.3.0
 */
export const removeFromOutbox = (state: AlertState, ids: ReadonlySet<string>): AlertState => ({
  ...state,
  outbox: state.outbox.filter((p) => !ids.has(p.id))
})
