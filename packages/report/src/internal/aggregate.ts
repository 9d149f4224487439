import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { keyOf, makeAccumulator, missingKey, percentile, type UsageRow } from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Either } from "effect"
import type {
  Aggregator,
  Change,
  CountRow,
  DurationRow,
  ErrorRow,
  Errors,
  Hours,
  OtherRow,
  Period,
  Ranked,
  ReportData,
  StepError
} from "../Report.js"
import { Durations } from "./durations.js"

const DAY = 86_400_000
const HOUR = 3_600_000
/** Messages are cut to this many characters (a key per distinct message is kept in memory). */
const MESSAGE_LIMIT = 1_000
const DEFAULT_TOP = 15

const toMs = (value: string | Date): number =>
  typeof value === "string" ? Date.parse(value) : value.getTime()

export const period = (start: string | Date, end: string | Date): Either.Either<Period, InvalidInput> => {
  const s = toMs(start)
  const e = toMs(end)
  if (Number.isNaN(s)) {
    return Either.left(
      new InvalidInput({ field: "period start", value: String(start), expected: "an ISO 8601 date" })
    )
  }
  if (Number.isNaN(e)) {
    return Either.left(
      new InvalidInput({ field: "period end", value: String(end), expected: "an ISO 8601 date" })
    )
  }
  if (s >= e) {
    return Either.left(
      new InvalidInput({
        field: "period",
        value: `${new Date(s).toISOString()}/${new Date(e).toISOString()}`,
        expected: "a start before the end"
      })
    )
  }
  return Either.right({ start: new Date(s).toISOString(), end: new Date(e).toISOString() })
}

export const previousPeriod = (p: Period): Period => {
  const s = Date.parse(p.start)
  const e = Date.parse(p.end)
  return { start: new Date(s - (e - s)).toISOString(), end: p.start }
}

const ratio = (current: number, previous: number): number | undefined =>
  previous === 0 ? undefined : (current - previous) / previous

const change = (current: UsageRow, previous: UsageRow): Change => ({
  executions: ratio(current.executions, previous.executions),
  tasks: ratio(current.tasks, previous.tasks),
  failures: ratio(current.failures, previous.failures),
  failureRate: previous.executions === 0 ? undefined : current.failureRate - previous.failureRate
})

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const emptyRow = (group: string): CountRow => ({
  group,
  executions: 0,
  tasks: 0,
  failures: 0,
  failureRate: 0
})

const countsOf = (r: UsageRow): CountRow => ({
  group: r.group,
  executions: r.executions,
  tasks: r.tasks,
  failures: r.failures,
  failureRate: r.failureRate
})

const rank = <Row extends CountRow>(
  rows: ReadonlyArray<Row>,
  total: Row,
  top: number,
  order: (a: Row, b: Row) => number
): Ranked<Row> => {
  const sorted = [...rows].sort(order)
  const rest = sorted.slice(top)
  let other: OtherRow | undefined
  if (rest.length > 0) {
    let executions = 0
    let tasks = 0
    let failures = 0
    for (const r of rest) {
      executions += r.executions
      tasks += r.tasks
      failures += r.failures
    }
    other = {
      groups: rest.length,
      executions,
      tasks,
      failures,
      failureRate: executions === 0 ? 0 : failures / executions
    }
  }
  return { top: sorted.slice(0, top), other, total, groups: rows.length }
}

const durationRow = (group: string, sorted: Float64Array): DurationRow => ({
  group,
  withDuration: sorted.length,
  p50: percentile(sorted, 50),
  p95: percentile(sorted, 95),
  p99: percentile(sorted, 99),
  max: sorted.length === 0 ? undefined : sorted[sorted.length - 1]
})

const normalizeMessage = (message: string | null): string | null => {
  if (message === null) return null
  const collapsed = message.replace(/\s+/g, " ").trim()
  return collapsed.length > MESSAGE_LIMIT ? `${collapsed.slice(0, MESSAGE_LIMIT - 1)}…` : collapsed
}

interface ErrorGroup {
  readonly workflowId: string
  readonly message: string | null
  steps: number
  readonly executions: Set<string>
}

export const make = (options: {
  readonly period: Period
  readonly top?: number | undefined
  readonly withErrors?: boolean | undefined
}): Either.Either<Aggregator, InvalidInput> => {
  const top = options.top ?? DEFAULT_TOP
  if (!Number.isInteger(top) || top < 1) {
    return Either.left(
      new InvalidInput({ field: "top", value: String(top), expected: "a whole number >= 1" })
    )
  }
  return Either.map(period(options.period.start, options.period.end), (current) => {
    const previous = previousPeriod(current)
    const start = Date.parse(current.start)
    const end = Date.parse(current.end)
    const previousStart = Date.parse(previous.start)

    // The days the period touches, as core's `Usage` keys them (UTC `YYYY-MM-DD`).
    const firstDay = Math.floor(start / DAY)
    const dayKeys: Array<string> = []
    for (let d = firstDay; d * DAY < end; d++) dayKeys.push(new Date(d * DAY).toISOString().slice(0, 10))

    const workflowKey = keyOf("workflow")
    const userKey = keyOf("user")
    const byWorkflow = makeAccumulator()
    // Per user and per day the report shows counts only: these two accumulators get a stand-in
    // with the execution's status and task count but no duration, so they keep no durations
    // (8 bytes per execution each) and sort none. One object, reused for every execution.
    const byUser = makeAccumulator()
    const byDay = makeAccumulator()
    const counted = { id: "-", status: "", dateStarted: "", taskCount: 0 }
    const previousTotal = makeAccumulator()
    // Core's Usage stops at p95: p99 and the maximum come from the same nearest rank over these.
    const durations = new Map<string, Durations>()
    const hours = Array.from({ length: 7 }, () => new Array<number>(24).fill(0))
    const errors = new Map<string, ErrorGroup>()
    let errorSteps = 0
    let withErrors = options.withErrors === true
    let outside = 0

    const add = (e: WorkflowExecution): void => {
      const t = Date.parse(e.dateStarted)
      if (t >= start && t < end) {
        const workflow = workflowKey(e)
        byWorkflow.add(workflow, e)
        counted.status = e.status
        counted.taskCount = e.taskCount ?? 0
        byUser.add(userKey(e), counted)
        const day = Math.floor(t / DAY)
        byDay.add(dayKeys[day - firstDay]!, counted)
        // 1970-01-01 was a Thursday: weekday 3 when Monday is 0.
        hours[(day + 3) % 7]![Math.floor((t - day * DAY) / HOUR)]!++
        const d = e.runDuration
        if (typeof d === "number") {
          let store = durations.get(workflow)
          if (store === undefined) {
            store = new Durations()
            durations.set(workflow, store)
          }
          store.push(d)
        }
      } else if (t >= previousStart && t < start) {
        previousTotal.add("previous", e)
      } else {
        outside++
      }
    }

    const addError = (error: StepError): void => {
      withErrors = true
      errorSteps++
      const workflowId =
        error.workflowId === undefined || error.workflowId === null || error.workflowId === ""
          ? missingKey
          : error.workflowId
      const message = normalizeMessage(error.errorMessage)
      const key = `${workflowId}\u0000${message ?? "\u0001"}`
      let group = errors.get(key)
      if (group === undefined) {
        group = { workflowId, message, steps: 0, executions: new Set() }
        errors.set(key, group)
      }
      group.steps++
      group.executions.add(error.executionId)
    }

    const errorsResult = (): Errors => {
      const rows: Array<ErrorRow> = [...errors.values()].map((g) => ({
        workflowId: g.workflowId,
        message: g.message,
        steps: g.steps,
        executions: g.executions.size
      }))
      rows.sort(
        (a, b) =>
          b.executions - a.executions ||
          b.steps - a.steps ||
          byKey(a.workflowId, b.workflowId) ||
          byKey(a.message ?? "", b.message ?? "")
      )
      const rest = rows.slice(top)
      return {
        top: rows.slice(0, top),
        other:
          rest.length === 0
            ? undefined
            : { groups: rest.length, steps: rest.reduce((n, r) => n + r.steps, 0) },
        steps: errorSteps,
        groups: rows.length
      }
    }

    const durationsResult = (workflows: ReadonlyArray<UsageRow>, total: UsageRow) => {
      const timed = workflows.filter((r) => r.withDuration > 0)
      const topRows: Array<DurationRow> = timed.slice(0, top).map((r) => {
        const sorted = durations.get(r.group)!.sorted()
        return { ...durationRow(r.group, sorted), p50: r.p50RunDuration, p95: r.p95RunDuration }
      })
      const rest = timed.slice(top)
      const other =
        rest.length === 0
          ? undefined
          : {
              ...durationRow("other", Durations.mergeSorted(rest.map((r) => durations.get(r.group)!))),
              groups: rest.length
            }
      const all = durationRow("total", Durations.mergeSorted(durations.values()))
      return { top: topRows, other, total: { ...all, p50: total.p50RunDuration, p95: total.p95RunDuration } }
    }

    const hoursResult = (): Hours => {
      let peak: Hours["peak"]
      for (let weekday = 0; weekday < 7; weekday++) {
        for (let hour = 0; hour < 24; hour++) {
          const executions = hours[weekday]![hour]!
          if (executions > 0 && (peak === undefined || executions > peak.executions)) {
            peak = { weekday, hour, executions }
          }
        }
      }
      return { executions: hours.map((row) => [...row]), peak }
    }

    const result = (): ReportData => {
      const workflows = byWorkflow.report("workflow")
      const users = byUser.report("user")
      const days = byDay.report("day")
      const before = previousTotal.report("workflow").total
      const dayRows = new Map(days.groups.map((r) => [r.group, countsOf(r)]))
      return {
        period: current,
        previousPeriod: previous,
        top,
        headline: {
          current: workflows.total,
          previous: before,
          change: change(workflows.total, before),
          workflows: workflows.groups.length,
          users: users.groups.length
        },
        days: dayKeys.map((day) => dayRows.get(day) ?? emptyRow(day)),
        failuresByWorkflow: rank(
          workflows.groups,
          workflows.total,
          top,
          (a, b) =>
            b.failures - a.failures ||
            b.failureRate - a.failureRate ||
            b.executions - a.executions ||
            byKey(a.group, b.group)
        ),
        tasksByUser: rank(
          users.groups.map(countsOf),
          countsOf(users.total),
          top,
          (a, b) => b.tasks - a.tasks || b.executions - a.executions || byKey(a.group, b.group)
        ),
        durationsByWorkflow: durationsResult(workflows.groups, workflows.total),
        hours: hoursResult(),
        errors: withErrors ? errorsResult() : undefined,
        outside
      }
    }

    return { add, addError, result }
  })
}
