/**
 * Test data and an independent reference: records built from a seeded generator, and the
 * report's headline figures computed by plain loops (no Usage, no Report code).
 */
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"

/** A small seeded generator (mulberry32): the same seed gives the same records. */
export const random = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Shape {
  readonly count: number
  readonly seed?: number
  /** Start dates are spread over [from, to). */
  readonly from: string
  readonly to: string
  readonly workflows?: number
  readonly users?: number
  readonly failureRate?: number
  /** Id prefixes, e.g. long or hostile ones. */
  readonly workflowPrefix?: string
  readonly userPrefix?: string
}

const STATUSES_OTHER = ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "EXECUTING", "DELAYED"] as const

/** `count` executions with skewed workflows and users, some without duration, user or task count. */
export function* executions(shape: Shape): Generator<WorkflowExecution> {
  const rnd = random(shape.seed ?? 1)
  const from = Date.parse(shape.from)
  const span = Date.parse(shape.to) - from
  const workflows = shape.workflows ?? 12
  const users = shape.users ?? 40
  const failureRate = shape.failureRate ?? 0.08
  for (let i = 0; i < shape.count; i++) {
    // Skew: low indices are picked far more often.
    const w = Math.floor(workflows * rnd() ** 2.5)
    const u = Math.floor(users * rnd() ** 2)
    const failed = rnd() < failureRate * (1 + (w % 4))
    const started = from + Math.floor(rnd() * span)
    const noDuration = rnd() < 0.03
    const record: Record<string, unknown> = {
      id: `exec-${shape.seed ?? 1}-${i}`,
      workflowId: rnd() < 0.005 ? undefined : `${shape.workflowPrefix ?? "wf-"}${w}`,
      userId: rnd() < 0.01 ? "" : `${shape.userPrefix ?? "user-"}${u}`,
      status: failed ? "FAILED" : STATUSES_OTHER[Math.floor(rnd() * STATUSES_OTHER.length)],
      taskCount: rnd() < 0.02 ? undefined : 1 + Math.floor(rnd() * 20),
      runDuration: noDuration ? null : Math.round(50 + 2000 * Math.exp(2 * (rnd() - 0.5)) * (1 + (w % 3))),
      dateStarted: new Date(started).toISOString(),
      dateEnded: noDuration ? null : new Date(started + 1000).toISOString(),
      integration: `int-${w % 5}`
    }
    if (record.workflowId === undefined) delete record.workflowId
    if (record.taskCount === undefined) delete record.taskCount
    yield record as WorkflowExecution
  }
}

export interface Reference {
  readonly executions: number
  readonly tasks: number
  readonly failures: number
  readonly failureRate: number
  /** `[weekday Mon=0][hour]`, UTC. */
  readonly hours: ReadonlyArray<ReadonlyArray<number>>
  readonly perDay: ReadonlyMap<string, { executions: number; failures: number; tasks: number }>
}

/** The figures of the executions started in `[start, end)`, by plain loops over the records. */
export const reference = (
  records: Iterable<Readonly<Record<string, unknown>>>,
  start: string,
  end: string
): Reference => {
  const s = new Date(start).getTime()
  const e = new Date(end).getTime()
  let executions = 0
  let tasks = 0
  let failures = 0
  const hours = Array.from({ length: 7 }, () => new Array<number>(24).fill(0))
  const perDay = new Map<string, { executions: number; failures: number; tasks: number }>()
  for (const r of records) {
    const started = new Date(String(r.dateStarted))
    const t = started.getTime()
    if (!(t >= s && t < e)) continue
    executions++
    const taskCount = typeof r.taskCount === "number" ? r.taskCount : 0
    tasks += taskCount
    const failed = r.status === "FAILED"
    if (failed) failures++
    hours[(started.getUTCDay() + 6) % 7]![started.getUTCHours()]!++
    const day = started.toISOString().slice(0, 10)
    const d = perDay.get(day) ?? { executions: 0, failures: 0, tasks: 0 }
    d.executions++
    d.tasks += taskCount
    if (failed) d.failures++
    perDay.set(day, d)
  }
  return {
    executions,
    tasks,
    failures,
    failureRate: executions === 0 ? 0 : failures / executions,
    hours,
    perDay
  }
}
