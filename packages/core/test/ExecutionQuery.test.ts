import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as ExecutionQuery from "../src/ExecutionQuery.js"

const right = <R, L>(either: Either.Either<R, L>): R => {
  if (Either.isLeft(either)) throw new Error(`expected a Right, got ${String(either.left)}`)
  return either.right
}
const left = <R, L>(either: Either.Either<R, L>): L => {
  if (Either.isRight(either)) throw new Error("expected a Left")
  return either.left
}

describe("ExecutionQuery.make", () => {
  it("normalises statuses, sort orders and dates", () => {
    const query = right(
      ExecutionQuery.make({
        status: "failed",
        sortBy: "asc",
        afterDate: "2023-02-16",
        beforeDate: "2023-02-16T12:30:00+02:00",
        integration: "slack"
      })
    )
    expect(query).toEqual({
      integration: "slack",
      status: "FAILED",
      sortBy: "ASC",
      afterDate: "2023-02-16T00:00:00.000Z",
      beforeDate: "2023-02-16T10:30:00.000Z"
    })
    expect(right(ExecutionQuery.make({ afterDate: "2023-02-16T00:00:00+14:00" })).afterDate).toBe(
      "2023-02-15T10:00:00.000Z"
    )
    expect(right(ExecutionQuery.make({ afterDate: "2023-02-16T00:00:00" })).afterDate).toBe(
      "2023-02-16T00:00:00.000Z"
    )
    expect(right(ExecutionQuery.make({ afterDate: new Date(Date.UTC(2024, 0, 2)) })).afterDate).toBe(
      "2024-01-02T00:00:00.000Z"
    )
  })

  it("refuses bad values with InvalidInput naming the field and value", () => {
    const cases: Array<[ExecutionQuery.ExecutionQueryInput, string, string]> = [
      [{ status: "PAUSED" }, "status", "PAUSED"],
      [{ sortBy: "up" }, "sortBy", "up"],
      [{ afterDate: "2023-02-30" }, "afterDate", "2023-02-30"],
      [{ beforeDate: "yesterday" }, "beforeDate", "yesterday"],
      [{ integration: " " }, "integration", " "],
      [{ afterDate: "2026-01-01T00:00:00+99:99" }, "afterDate", "2026-01-01T00:00:00+99:99"],
      [{ afterDate: "2026-01-01T00:00:00-19:00" }, "afterDate", "2026-01-01T00:00:00-19:00"],
      [{ afterDate: "2026-01-01T00:00:00+0160" }, "afterDate", "2026-01-01T00:00:00+0160"],
      [{ afterDate: "2023-03-01", beforeDate: "2023-02-01" }, "beforeDate", "2023-02-01T00:00:00.000Z"]
    ]
    for (const [input, field, value] of cases) {
      const error = left(ExecutionQuery.make(input))
      expect(error._tag).toBe("InvalidInput")
      expect(error.field).toBe(field)
      expect(error.message).toContain(JSON.stringify(value))
    }
  })

  it("toUrlParams is stable and never carries an offset", () => {
    const query = right(
      ExecutionQuery.make({ sortBy: "desc", userId: "u1", workflowId: "w1", status: "SUCCEEDED" })
    )
    expect(ExecutionQuery.toUrlParams(query)).toEqual([
      ["workflowId", "w1"],
      ["userId", "u1"],
      ["status", "SUCCEEDED"],
      ["sortBy", "DESC"]
    ])
  })

  it("fromUrlParams reads back what toUrlParams wrote, and validates like make", () => {
    const query = right(
      ExecutionQuery.make({ integration: "slack", status: "failed", afterDate: "2023-02-16", sortBy: "asc" })
    )
    const params = new URLSearchParams(ExecutionQuery.toUrlParams(query) as Array<[string, string]>)
    params.set("offset", "100")
    expect(right(ExecutionQuery.fromUrlParams(params))).toEqual(query)
    const bad = left(ExecutionQuery.fromUrlParams(new URLSearchParams("status=PAUSED")))
    expect(bad.field).toBe("status")
  })

  it("one table of fields: the schema, the selection and the flags agree with it", () => {
    expect(ExecutionQuery.fieldNames).toEqual([
      "integration",
      "workflowId",
      "userId",
      "status",
      "afterDate",
      "beforeDate",
      "sortBy"
    ])
    expect(Object.keys(ExecutionQuery.ExecutionQuery.fields)).toEqual(ExecutionQuery.fieldNames)
    expect(ExecutionQuery.selectionFields).toEqual(["integration", "workflowId", "userId", "status"])
    const query = right(ExecutionQuery.make({ workflowId: "w", status: "failed", afterDate: "2023-02-16" }))
    expect(ExecutionQuery.selection(query)).toEqual({ workflowId: "w", status: "FAILED" })
    expect(ExecutionQuery.isField("afterDate")).toBe(true)
    expect(ExecutionQuery.isField("offset")).toBe(false)
  })

  it("an invalid Date is an InvalidInput, not a defect", () => {
    const error = left(ExecutionQuery.make({ afterDate: new Date(Number.NaN) }))
    expect(error.field).toBe("afterDate")
  })
})
