import { describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import * as Alerts from "../src/Alerts.js"

const H = 3_600_000
const T0 = Date.parse("2026-11-10T12:00:00.000Z")

const exec = (id: string, workflowId: string, status: string, startedMs: number): WorkflowExecution =>
  ({
    id,
    workflowId,
    userId: `u-${workflowId}`,
    status,
    dateStarted: new Date(startedMs).toISOString()
  }) as WorkflowExecution

const rule = (patch: Partial<Alerts.Rule> = {}): Alerts.Rule => ({
  name: "r",
  by: "workflow",
  condition: { _tag: "FailureRate", threshold: 0.2 },
  windowMs: H,
  minExecutions: 1,
  cooldownMs: 0,
  notify: ["ops"],
  ...patch
})

const evaluate = (
  rules: ReadonlyArray<Alerts.Rule>,
  executions: ReadonlyArray<WorkflowExecution>,
  end: number
) => {
  const a = Alerts.aggregate(rules, end)
  for (const e of executions) a.add(e)
  return a.result()
}

const states = (step: Alerts.Step) =>
  step.queued.map((q) => `${q.message.state} ${q.message.group.workflowId ?? "all"}`)

describe("Alerts.step", () => {
  it("fires once when a rule starts to hold, resolves once when it stops", () => {
    const rules = [rule()]
    const spike = [
      exec("1", "a", "FAILED", T0 - 10),
      exec("2", "a", "SUCCEEDED", T0 - 20),
      exec("3", "b", "SUCCEEDED", T0 - 30)
    ]
    const first = Alerts.step(rules, Alerts.emptyState, evaluate(rules, spike, T0), T0)
    expect(states(first)).toEqual(["firing a"])
    expect(first.queued[0]!.message).toMatchObject({
      failures: 1,
      executions: 2,
      failureRate: 0.5,
      windowEnd: new Date(T0).toISOString()
    })
    const again = Alerts.step(rules, first.state, evaluate(rules, spike, T0 + 1000), T0 + 1000)
    expect(again.queued).toEqual([])
    // An hour later the failure has left the window.
    const later = Alerts.step(rules, again.state, evaluate(rules, spike, T0 + 2 * H), T0 + 2 * H)
    expect(states(later)).toEqual(["resolved a"])
    expect(Alerts.step(rules, later.state, evaluate(rules, spike, T0 + 3 * H), T0 + 3 * H).queued).toEqual([])
    // Both notifications are in the outbox until delivered.
    expect(later.state.outbox.map((p) => p.message.state)).toEqual(["firing", "resolved"])
  })

  it("minExecutions, final statuses only, and the window up to the export's read-through", () => {
    const rules = [rule({ minExecutions: 3 })]
    const few = [
      exec("1", "a", "FAILED", T0 - 10),
      exec("2", "a", "EXECUTING", T0 - 20),
      exec("3", "a", "FAILED", T0 + 10)
    ]
    expect(Alerts.step(rules, Alerts.emptyState, evaluate(rules, few, T0), T0).queued).toEqual([])
  })

  it("a cooldown holds back a new firing, not the resolved", () => {
    const rules = [rule({ cooldownMs: 2 * H, windowMs: 10 * 60_000 })]
    const at = (ms: number) => [exec(`f${ms}`, "a", "FAILED", ms - 1)]
    const s1 = Alerts.step(rules, Alerts.emptyState, evaluate(rules, at(T0), T0), T0)
    const s2 = Alerts.step(rules, s1.state, evaluate(rules, [], T0 + H), T0 + H)
    expect(states(s2)).toEqual(["resolved a"])
    // Fails again within the cooldown: no message; after it, the firing goes out.
    const s3 = Alerts.step(rules, s2.state, evaluate(rules, at(T0 + 1.5 * H), T0 + 1.5 * H), T0 + 1.5 * H)
    expect(s3.queued).toEqual([])
    const s4 = Alerts.step(rules, s3.state, evaluate(rules, at(T0 + 2.5 * H), T0 + 2.5 * H), T0 + 2.5 * H)
    expect(states(s4)).toEqual(["firing a"])
  })

  it("failures above a count, per user or over all", () => {
    const rules = [
      rule({ name: "count", by: "all", condition: { _tag: "Failures", threshold: 1 } }),
      rule({ name: "user", by: "user", condition: { _tag: "Failures", threshold: 0 } })
    ]
    const data = [
      exec("1", "a", "FAILED", T0 - 1),
      exec("2", "b", "FAILED", T0 - 2),
      exec("3", "b", "SUCCEEDED", T0 - 3)
    ]
    const step = Alerts.step(rules, Alerts.emptyState, evaluate(rules, data, T0), T0)
    expect(step.queued.map((q) => [q.message.rule, q.message.group])).toEqual([
      ["count", {}],
      ["user", { userId: "u-a" }],
      ["user", { userId: "u-b" }]
    ])
  })

  it("silentFor: a group that ran goes silent, stays firing after it leaves the window, resolves when it runs", () => {
    const rules = [rule({ condition: { _tag: "Silent", forMs: 6 * H }, windowMs: 24 * H })]
    const ran = [exec("1", "a", "SUCCEEDED", T0 - 7 * H), exec("2", "b", "SUCCEEDED", T0 - H)]
    const s1 = Alerts.step(rules, Alerts.emptyState, evaluate(rules, ran, T0), T0)
    expect(states(s1)).toEqual(["firing a"])
    const s2 = Alerts.step(rules, s1.state, evaluate(rules, ran, T0 + 10 * H), T0 + 10 * H)
    expect(states(s2)).toEqual(["firing b"])
    // Both have left the window and are still silent: no resolved.
    const s3 = Alerts.step(rules, s2.state, evaluate(rules, ran, T0 + 48 * H), T0 + 48 * H)
    expect(s3.queued).toEqual([])
    expect(
      Alerts.holding(rules, s3.state, evaluate(rules, ran, T0 + 48 * H))
        .map((h) => h.stats.group.workflowId)
        .sort()
    ).toEqual(["a", "b"])
    const back = [...ran, exec("3", "a", "SUCCEEDED", T0 + 48 * H - 1)]
    const s4 = Alerts.step(rules, s3.state, evaluate(rules, back, T0 + 48 * H), T0 + 48 * H)
    expect(states(s4)).toEqual(["resolved a"])
  })

  it("the outbox: one entry per webhook, removed by id; a state that cannot be read starts empty", () => {
    const rules = [rule({ notify: ["ops", "chat"] })]
    const step = Alerts.step(
      rules,
      Alerts.emptyState,
      evaluate(rules, [exec("1", "a", "FAILED", T0 - 1)], T0),
      T0
    )
    expect(step.state.outbox.map((p) => p.webhook)).toEqual(["ops", "chat"])
    const left = Alerts.removeFromOutbox(step.state, new Set([step.state.outbox[0]!.id]))
    expect(left.outbox.map((p) => p.webhook)).toEqual(["chat"])
    expect(Alerts.decodeState({ _tag: "Some", value: "garbage" } as never)).toEqual(Alerts.emptyState)
  })
})
