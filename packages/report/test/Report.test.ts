import { describe, expect, it } from "@effect/vitest"
import * as Usage from "@taskhistory/core/Usage"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Either, Stream } from "effect"
import * as Report from "../src/Report.js"
import { executions, reference } from "./fixtures.js"

const START = "2026-09-01T00:00:00.000Z"
const END = "2026-09-15T00:00:00.000Z"
const period = Either.getOrThrow(Report.period(START, END))
// The previous period (Aug 18 - Sep 1), this one, and a few days after it.
const records: ReadonlyArray<WorkflowExecution> = [
  ...executions({ count: 6000, seed: 7, from: "2026-08-10T00:00:00Z", to: "2026-09-20T00:00:00Z" })
]
const inPeriod = (e: WorkflowExecution, p: Report.Period) => {
  const t = Date.parse(e.dateStarted)
  return t >= Date.parse(p.start) && t < Date.parse(p.end)
}
const current = records.filter((e) => inPeriod(e, period))
const previous = records.filter((e) => inPeriod(e, Report.previousPeriod(period)))

/** The counts of a Usage row (the report keeps no duration percentiles per user or per day). */
const counts = ({ group, executions, tasks, failures, failureRate }: Usage.UsageRow) => ({
  group,
  executions,
  tasks,
  failures,
  failureRate
})

const run = (input: ReadonlyArray<WorkflowExecution>, options: Partial<Report.AggregateOptions> = {}) =>
  Report.fromStream(Stream.fromIterable(input).pipe(Stream.rechunk(97)), { period, ...options })

describe("Report.period", () => {
  it("normalises the bounds to ISO UTC and refuses bad ones with InvalidInput", () => {
    expect(Report.period("2026-09-01", "2026-09-02T02:00:00+02:00")).toEqual(
      Either.right({ start: "2026-09-01T00:00:00.000Z", end: "2026-09-02T00:00:00.000Z" })
    )
    const bad = Report.period("yesterday", END)
    expect(Either.isLeft(bad) && bad.left._tag).toBe("InvalidInput")
    expect(Either.isLeft(bad) && bad.left.message).toContain('"yesterday"')
    const reversed = Report.period(END, START)
    expect(Either.isLeft(reversed) && reversed.left.message).toContain("a start before the end")
  })

  it("the previous period has the same length and ends where the period starts", () => {
    expect(Report.previousPeriod(period)).toEqual({ start: "2026-08-18T00:00:00.000Z", end: START })
  })
})

describe("Report.fromStream", () => {
  it.effect("agrees with core's Usage over the same records (workflows, users, days, totals)", () =>
    Effect.gen(function* () {
      const data = yield* run(records, { top: 5 })
      const byWorkflow = yield* Usage.fromStream(Stream.fromIterable(current), "workflow")
      const byUser = yield* Usage.fromStream(Stream.fromIterable(current), "user")
      const byDay = yield* Usage.fromStream(Stream.fromIterable(current), "day")
      const before = yield* Usage.fromStream(Stream.fromIterable(previous), "workflow")

      expect(data.headline.current).toEqual(byWorkflow.total)
      expect(data.headline.previous).toEqual({ ...before.total, group: "total" })
      expect(data.headline.workflows).toBe(byWorkflow.groups.length)
      expect(data.headline.users).toBe(byUser.groups.length)

      // Every ranked row is the Usage row of its group.
      const workflowRows = new Map(byWorkflow.groups.map((r) => [r.group, r]))
      const userRows = new Map(byUser.groups.map((r) => [r.group, r]))
      for (const r of data.failuresByWorkflow.top) expect(r).toEqual(workflowRows.get(r.group))
      for (const r of data.tasksByUser.top) expect(r).toEqual(counts(userRows.get(r.group)!))
      expect(data.failuresByWorkflow.total).toEqual(byWorkflow.total)
      expect(data.tasksByUser.total).toEqual(counts(byUser.total))

      // Days: Usage's rows, plus zero rows for the days without executions.
      const dayRows = new Map(byDay.groups.map((r) => [r.group, r]))
      expect(data.days.map((d) => d.group)).toEqual(
        Array.from({ length: 14 }, (_, i) => `2026-09-${String(i + 1).padStart(2, "0")}`)
      )
      for (const d of data.days) {
        const row = dayRows.get(d.group)
        expect(d).toEqual(
          row === undefined
            ? { group: d.group, executions: 0, tasks: 0, failures: 0, failureRate: 0 }
            : counts(row)
        )
      }

      // Durations: p50/p95 are Usage's; p99 and max by the same nearest rank.
      for (const r of data.durationsByWorkflow.top) {
        const u = workflowRows.get(r.group)!
        const sorted = current
          .filter((e) => Usage.keyOf("workflow")(e) === r.group && typeof e.runDuration === "number")
          .map((e) => e.runDuration as number)
          .sort((a, b) => a - b)
        expect([r.withDuration, r.p50, r.p95]).toEqual([u.withDuration, u.p50RunDuration, u.p95RunDuration])
        expect(r.p50).toBe(Usage.percentile(sorted, 50))
        expect(r.p99).toBe(Usage.percentile(sorted, 99))
        expect(r.max).toBe(sorted[sorted.length - 1])
      }
      expect([data.durationsByWorkflow.total.p50, data.durationsByWorkflow.total.p95]).toEqual([
        byWorkflow.total.p50RunDuration,
        byWorkflow.total.p95RunDuration
      ])
      expect(data.outside).toBe(records.length - current.length - previous.length)
    })
  )

  it.effect("equals plain loops over the records (headline, per day, hours)", () =>
    Effect.gen(function* () {
      const data = yield* run(records)
      const ref = reference(records, START, END)
      expect(data.headline.current.executions).toBe(ref.executions)
      expect(data.headline.current.tasks).toBe(ref.tasks)
      expect(data.headline.current.failures).toBe(ref.failures)
      expect(data.headline.current.failureRate).toBe(ref.failureRate)
      expect(data.hours.executions).toEqual(ref.hours)
      for (const d of data.days) {
        const r = ref.perDay.get(d.group) ?? { executions: 0, failures: 0, tasks: 0 }
        expect([d.executions, d.failures, d.tasks]).toEqual([r.executions, r.failures, r.tasks])
      }
      const peak = data.hours.peak!
      expect(peak.executions).toBe(Math.max(...ref.hours.flat()))
      expect(ref.hours[peak.weekday]![peak.hour]).toBe(peak.executions)

      const prev = reference(records, Report.previousPeriod(period).start, START)
      expect(data.headline.change.executions).toBeCloseTo(
        (ref.executions - prev.executions) / prev.executions,
        12
      )
      expect(data.headline.change.failureRate).toBeCloseTo(ref.failureRate - prev.failureRate, 12)
    })
  )

  it.effect("ranks top N and adds the rest up in an other row", () =>
    Effect.gen(function* () {
      const data = yield* run(records, { top: 3 })
      const fw = data.failuresByWorkflow
      expect(fw.top).toHaveLength(3)
      const failures = fw.top.map((r) => r.failures)
      expect(failures).toEqual([...failures].sort((a, b) => b - a))
      expect(fw.other!.groups).toBe(fw.groups - 3)
      expect(fw.top.reduce((n, r) => n + r.executions, 0) + fw.other!.executions).toBe(fw.total.executions)
      expect(fw.top.reduce((n, r) => n + r.failures, 0) + fw.other!.failures).toBe(fw.total.failures)
      expect(fw.other!.failureRate).toBe(fw.other!.failures / fw.other!.executions)

      const tu = data.tasksByUser
      expect(tu.top.reduce((n, r) => n + r.tasks, 0) + tu.other!.tasks).toBe(tu.total.tasks)
      const tasks = tu.top.map((r) => r.tasks)
      expect(tasks).toEqual([...tasks].sort((a, b) => b - a))
      const byUser = yield* Usage.fromStream(Stream.fromIterable(current), "user")
      expect(tasks[0]).toBe(Math.max(...byUser.groups.map((g) => g.tasks)))

      const dw = data.durationsByWorkflow
      expect(dw.top).toHaveLength(3)
      expect(dw.top.reduce((n, r) => n + r.withDuration, 0) + dw.other!.withDuration).toBe(
        dw.total.withDuration
      )

      const all = yield* run(records, { top: 1000 })
      expect(all.failuresByWorkflow.other).toBeUndefined()
      expect(all.tasksByUser.other).toBeUndefined()
      expect(all.durationsByWorkflow.other).toBeUndefined()
    })
  )

  it.effect("includes the start, excludes the end, and reads offsets as UTC", () =>
    Effect.gen(function* () {
      const at = (id: string, dateStarted: string, status = "SUCCEEDED"): WorkflowExecution => ({
        id,
        status,
        dateStarted,
        workflowId: "w",
        userId: "u",
        taskCount: 2
      })
      const data = yield* run([
        at("start", START),
        at("end", END),
        at("offset", "2026-09-01T01:30:00+02:00", "FAILED"), // 2026-08-31T23:30Z: previous period
        at("monday-9", "2026-09-07T09:15:00Z")
      ])
      expect(data.headline.current.executions).toBe(2)
      expect(data.headline.previous.executions).toBe(1)
      expect(data.headline.previous.failures).toBe(1)
      expect(data.outside).toBe(1)
      expect(data.days[0]!.executions).toBe(1)
      expect(data.hours.executions[0]![9]).toBe(1) // Monday 09:00 UTC
      expect(data.hours.executions[1]![0]).toBe(1) // 2026-09-01 is a Tuesday
      expect(data.headline.change.executions).toBe(1) // 1 -> 2
      expect(data.headline.change.failureRate).toBe(-1) // 100% -> 0%
    })
  )

  it.effect("with nothing in the previous period, the change is undefined (not infinite)", () =>
    Effect.gen(function* () {
      const data = yield* run(current)
      expect(data.headline.previous.executions).toBe(0)
      expect(data.headline.change).toEqual({
        executions: undefined,
        tasks: undefined,
        failures: undefined,
        failureRate: undefined
      })
      const none = yield* run([])
      expect(none.headline.current.executions).toBe(0)
      expect(none.days).toHaveLength(14)
      expect(none.hours.peak).toBeUndefined()
      expect(none.durationsByWorkflow.top).toEqual([])
      expect(none.errors).toBeUndefined()
    })
  )

  it.effect("groups step errors by workflow and message, counting distinct executions", () =>
    Effect.gen(function* () {
      const errors: ReadonlyArray<Report.StepError> = [
        { executionId: "e1", workflowId: "w1", stepId: "s1", errorMessage: "Error: timeout" },
        { executionId: "e1", workflowId: "w1", stepId: "s2", errorMessage: "Error:  timeout\n" },
        { executionId: "e2", workflowId: "w1", stepId: "s1", errorMessage: "Error: timeout" },
        { executionId: "e3", workflowId: "w2", stepId: "s1", errorMessage: "Error: timeout" },
        { executionId: "e4", workflowId: "w2", stepId: "s1", errorMessage: null },
        { executionId: "e5", workflowId: null, stepId: "s1", errorMessage: "x".repeat(5000) }
      ]
      const data = yield* run(records, { errors: Stream.fromIterable(errors), top: 3 })
      const e = data.errors!
      expect(e.steps).toBe(6)
      expect(e.groups).toBe(4)
      expect(e.top[0]).toEqual({ workflowId: "w1", message: "Error: timeout", steps: 3, executions: 2 })
      expect(e.top).toHaveLength(3)
      expect(e.other).toEqual({ groups: 1, steps: 1 })
      // Ties (one execution, one step each): by workflow id, then message (none before text).
      expect(e.top.slice(1).map((r) => [r.workflowId, r.message?.length ?? null])).toEqual([
        [Usage.missingKey, 1000],
        ["w2", null]
      ])
      expect(e.top[1]!.message!.endsWith("…")).toBe(true)
      const none = yield* run(records, { errors: Stream.empty })
      expect(none.errors).toEqual({ top: [], other: undefined, steps: 0, groups: 0 })
    })
  )

  it.effect("refuses a bad top N with InvalidInput, and Report.sink gives the same figures", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(run(records, { top: 0 }))
      expect(bad._tag).toBe("InvalidInput")
      expect(bad.message).toContain("top")
      const viaSink = yield* Stream.run(Stream.fromIterable(records), Report.sink({ period, top: 4 }))
      expect(viaSink).toEqual(yield* run(records, { top: 4 }))
    })
  )

  it.effect("fails with the stream's own error, typed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Report.fromStream(Stream.concat(Stream.fromIterable(records), Stream.fail("boom" as const)), {
          period
        })
      )
      expect(error).toBe("boom")
    })
  )
})
