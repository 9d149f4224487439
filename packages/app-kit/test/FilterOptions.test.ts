import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as FilterOptions from "../src/FilterOptions.js"

const none: FilterOptions.FilterFlags = {
  integration: Option.none(),
  workflowId: Option.none(),
  userId: Option.none(),
  status: Option.none(),
  after: Option.none(),
  before: Option.none(),
  sort: Option.none()
}

describe("FilterOptions.make", () => {
  it("normalises status, sort and dates", () => {
    const query = FilterOptions.make({
      ...none,
      integration: Option.some("slack"),
      status: Option.some("failed"),
      after: Option.some("2023-02-16"),
      before: Option.some("2023-02-17T00:00:00+02:00"),
      sort: Option.some("asc")
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
    const date = FilterOptions.make({ ...none, after: Option.some("2023-02-30") })
    expect(Either.isLeft(date) && date.left).toContain('--after "2023-02-30"')
    const sort = FilterOptions.make({ ...none, sort: Option.some("up") })
    expect(Either.isLeft(sort) && sort.left).toContain('--sort "up"')
  })
})
