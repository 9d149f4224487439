import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as FilterOptions from "../src/FilterOptions.js"

const none: FilterOptions.FilterFlags = {
  integration: Option.none(),
  workflowId: Option.none(),
  userId: Option.none(),
  status: Option.none(),
  afterDate: Option.none(),
  beforeDate: Option.none(),
  sortBy: Option.none()
}

describe("FilterOptions.make", () => {
  it("normalises status, sort and dates", () => {
    const query = FilterOptions.make({
      ...none,
      integration: Option.some("slack"),
      status: Option.some("failed"),
      afterDate: Option.some("2023-02-16"),
      beforeDate: Option.some("2023-02-17T00:00:00+02:00"),
      sortBy: Option.some("asc")
    })
    expect(query).toEqual(
      Either.right({
        integration: "slack",
        status: "FAILED",
        afterDate: "2023-02-16T00:00:00.000Z",
        beforeDate: "2023-02-16T22:00:00.000Z",
        sortBy: "ASC"
      })
    )
  })

  it("names the flag and the value of a bad filter", () => {
    expect(FilterOptions.make({ ...none, status: Option.some("DONE") })).toEqual(
      Either.left('invalid --status "DONE": expected SUCCEEDED, FAILED, EXECUTING, DELAYED')
    )
    const date = FilterOptions.make({ ...none, afterDate: Option.some("2023-02-30") })
    expect(Either.isLeft(date) && date.left).toContain('--after "2023-02-30"')
    const sort = FilterOptions.make({ ...none, sortBy: Option.some("up") })
    expect(Either.isLeft(sort) && sort.left).toContain('--sort "up"')
  })
})

describe("FilterOptions.validate", () => {
  it("validates a subset of the flags (the selection) into the query, naming the flag of a bad value", () => {
    const selection = { integration: Option.some("slack"), workflowId: Option.none(), userId: Option.none() }
    expect(FilterOptions.validate({ ...selection, status: Option.some("failed") })).toEqual(
      Either.right({ integration: "slack", status: "FAILED" })
    )
    const bad = FilterOptions.validate({ ...selection, workflowId: Option.some(" "), status: Option.none() })
    expect(Either.isLeft(bad) && bad.left.field).toBe("--workflow-id")
    const order = FilterOptions.validate({
      afterDate: Option.some("2023-03-01"),
      beforeDate: Option.some("2023-02-01")
    })
    expect(Either.isLeft(order) && order.left.message).toContain('--before "2023-02-01T00:00:00.000Z"')
  })

  it("names every filter's flag as the contract spells it", () => {
    const names: ReadonlyArray<keyof FilterOptions.FilterFlags> = [
      "integration",
      "workflowId",
      "userId",
      "status",
      "afterDate",
      "beforeDate",
      "sortBy"
    ]
    expect(names.map(FilterOptions.flagOf)).toEqual([
      "--integration",
      "--workflow-id",
      "--user-id",
      "--status",
      "--after",
      "--before",
      "--sort"
    ])
  })
})
