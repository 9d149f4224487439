import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { TaskHistoryClient, type TaskHistoryClientShape } from "../src/TaskHistoryClient.js"
import * as Usage from "../src/Usage.js"
import type { WorkflowExecution } from "../src/WorkflowExecution.js"

const exec = (
  id: string,
  fields: Partial<Omit<WorkflowExecution, "id">> & { integration?: string } = {}
): WorkflowExecution => ({
  id,
  status: "SUCCEEDED",
  dateStarted: "2023-02-20T06:21:42.274Z",
  ...fields
})

const records: ReadonlyArray<WorkflowExecution> = [
  exec("a", { workflowId: "w1", userId: "u1", taskCount: 3, runDuration: 100, integration: "slack" }),
  exec("b", {
    workflowId: "w1",
    userId: "u2",
    taskCount: 2,
    runDuration: 300,
    status: "FAILED",
    integration: "slack"
  }),
  exec("c", {
    workflowId: "w2",
    userId: "u1",
    taskCount: 1,
    runDuration: 200,
    dateStarted: "2023-02-21T23:59:59.999+00:00",
    integration: "hubspot"
  }),
  exec("d", {
    workflowId: "w1",
    taskCount: 5,
    runDuration: null,
    status: "EXECUTING",
    dateStarted: "2023-02-22T00:30:00+02:00",
    integration: "slack"
  }),
  exec("e", { workflowId: "w2", userId: "u1", status: "NEW_STATUS", integration: "hubspot" })
]

describe("Usage", () => {
  it("percentile uses the nearest rank", () => {
    expect(Usage.percentile([], 50)).toBeUndefined()
    expect(Usage.percentile([7], 95)).toBe(7)
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(Usage.percentile(hundred, 50)).toBe(50)
    expect(Usage.percentile(hundred, 95)).toBe(95)
    expect(Usage.percentile([1, 2, 3, 4], 50)).toBe(2)
  })

  it.effect("groups by workflow with counts, tasks, failures and percentiles", () =>
    Effect.gen(function* () {
      const report = yield* Usage.fromStream(Stream.fromIterable(records).pipe(Stream.rechunk(2)), "workflow")
      expect(report.by).toBe("workflow")
      expect(report.groups).toEqual([
        {
          group: "w1",
          executions: 3,
          tasks: 10,
          failures: 1,
          failureRate: 1 / 3,
          withDuration: 2,
          p50RunDuration: 100,
          p95RunDuration: 300
        },
        {
          group: "w2",
          executions: 2,
          tasks: 1,
          failures: 0,
          failureRate: 0,
          withDuration: 1,
          p50RunDuration: 200,
          p95RunDuration: 200
        }
      ])
      expect(report.total).toEqual({
        group: "total",
        executions: 5,
        tasks: 11,
        failures: 1,
        failureRate: 0.2,
        withDuration: 3,
        p50RunDuration: 200,
        p95RunDuration: 300
      })
    })
  )

  it.effect("groups by user, status and UTC day; missing fields and unknown statuses are kept", () =>
    Effect.gen(function* () {
      const byUser = yield* Usage.fromStream(Stream.fromIterable(records), "user")
      expect(byUser.groups.map((r) => [r.group, r.executions])).toEqual([
        ["u1", 3],
        ["(none)", 1],
        ["u2", 1]
      ])
      const byStatus = yield* Usage.fromStream(Stream.fromIterable(records), "status")
      expect(byStatus.groups.map((r) => [r.group, r.executions, r.failures])).toEqual([
        ["SUCCEEDED", 2, 0],
        ["EXECUTING", 1, 0],
        ["FAILED", 1, 1],
        ["NEW_STATUS", 1, 0]
      ])
      const byDay = yield* Usage.fromStream(Stream.fromIterable(records), "day")
      expect(byDay.groups.map((r) => [r.group, r.executions])).toEqual([
        ["2023-02-20", 3],
        ["2023-02-21", 2]
      ])
      const empty = yield* Usage.fromStream(Stream.empty, "day")
      expect(empty.groups).toEqual([])
      expect(empty.total.executions).toBe(0)
      expect(empty.total.p50RunDuration).toBeUndefined()
    })
  )

  it.effect("byIntegration runs one query per integration and lists empty ones", () => {
    const queries: Array<string | undefined> = []
    const client = {
      executions: (query) => {
        queries.push(query.integration)
        return Stream.fromIterable(records.filter((r) => r.integration === query.integration))
      }
    } as Pick<TaskHistoryClientShape, "executions"> as TaskHistoryClientShape
    return Effect.gen(function* () {
      const report = yield* Usage.byIntegration(["slack", "hubspot", "gmail"], { status: undefined })
      expect(queries).toEqual(["slack", "hubspot", "gmail"])
      expect(report.groups.map((r) => [r.group, r.executions, r.tasks, r.failures])).toEqual([
        ["slack", 3, 10, 1],
        ["hubspot", 2, 1, 0],
        ["gmail", 0, 0, 0]
      ])
      expect(report.total.executions).toBe(5)
    }).pipe(Effect.provide(Layer.succeed(TaskHistoryClient, client)))
  })
})
