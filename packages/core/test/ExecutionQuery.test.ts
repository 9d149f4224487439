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
})
