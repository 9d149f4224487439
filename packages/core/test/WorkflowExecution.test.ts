import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as WorkflowExecution from "../src/WorkflowExecution.js"

const valid = {
  id: "e1",
  userId: "u1",
  workflowId: "w1",
  status: "SUCCEEDED",
  taskCount: 3,
  runDuration: 1200,
  dateStarted: "2023-02-20T06:21:42.274Z",
  dateEnded: "2023-02-20T06:21:43.474Z"
}

describe("WorkflowExecution", () => {
  it("decodeExecution agrees with the schema on valid and invalid records, and returns the same object", () => {
    const inputs: Array<unknown> = [
      valid,
      { ...valid, extra: { nested: [1, 2] }, status: "SOMETHING_NEW" },
      {
        id: "e2",
        status: "EXECUTING",
        dateStarted: "2023-02-20T06:21:42Z",
        dateEnded: null,
        runDuration: null
      },
      { ...valid, userId: undefined },
      { ...valid, id: "" },
      { ...valid, id: 7 },
      { ...valid, status: null },
      { ...valid, dateStarted: "yesterday" },
      { ...valid, dateEnded: "never" },
      { ...valid, taskCount: -1 },
      { ...valid, taskCount: "3" },
      { ...valid, runDuration: Number.NaN },
      { ...valid, userId: 5 },
      { status: "FAILED", dateStarted: valid.dateStarted },
      null,
      [valid],
      "e1"
    ]
    const schema = Schema.validateEither(WorkflowExecution.WorkflowExecution)
    for (const input of inputs) {
      const ours = WorkflowExecution.decodeExecution(input)
      expect(ours._tag).toBe(Either.isRight(schema(input)) ? "Right" : "Left")
      if (ours._tag === "Right") expect(ours.right).toBe(input)
    }
  })

  it("the fast date check accepts exactly the start dates Date.parse accepts", () => {
    const dates = [
      "2023-02-20T06:21:42.274Z",
      "2023-02-20T06:21:42Z",
      "2023-02-20T06:21:42.123456789+05:30",
      "2023-02-31T00:00:00Z", // rolled over by Date.parse: accepted
      "2023-01-01T24:00:00Z", // midnight at the end of the day: accepted
      "2023-13-01T00:00:00Z",
      "2023-00-10T00:00:00Z",
      "2023-01-01T00:60:00Z",
      "2023-01-01T00:00:00+24:00",
      "2023-01-01",
      "2023-01-01 10:00:00",
      "Mon, 20 Feb 2023 06:21:42 GMT",
      "20 February 2023",
      "2023-02-20T06:21:42.274",
      "",
      "not a date"
    ]
    for (const dateStarted of dates) {
      const ours = WorkflowExecution.decodeExecution({ ...valid, dateStarted, dateEnded: dateStarted })
      expect([dateStarted, ours._tag]).toEqual([
        dateStarted,
        Number.isNaN(Date.parse(dateStarted)) ? "Left" : "Right"
      ])
    }
  })

  it("describeInvalid names the failing field", () => {
    expect(WorkflowExecution.describeInvalid({ ...valid, dateStarted: 12 })).toContain("dateStarted")
    expect(WorkflowExecution.describeInvalid({ ...valid, taskCount: "3" })).toContain("taskCount")
    expect(WorkflowExecution.describeInvalid({ status: "FAILED", dateStarted: valid.dateStarted })).toContain(
      "id"
    )
  })

  it("toExecutionPage accepts both array keys and keeps invalid records apart with their index", () => {
    const page = WorkflowExecution.toExecutionPage(
      { workflowExecutions: [valid, { id: "bad" }], total: 2, nextLink: null },
      100
    )
    expect(page.records).toEqual([valid])
    expect(page.invalid.map((i) => i.index)).toEqual([1])
    expect(page).toMatchObject({ total: 2, nextLink: undefined, offset: 100 })
  })
})
