import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as Dates from "../src/Dates.js"
import * as FilterOptions from "../src/FilterOptions.js"

const NOW = Date.parse("2026-12-01T12:00:00.000Z")

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
    const query = FilterOptions.make(
      {
        ...none,
        integration: Option.some("slack"),
        status: Option.some("failed"),
        afterDate: Option.some("2023-02-16"),
        beforeDate: Option.some("2023-02-17T00:00:00+02:00"),
        sortBy: Option.some("asc")
      },
      NOW
    )
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
    expect(FilterOptions.make({ ...none, status: Option.some("DONE") }, NOW)).toEqual(
      Either.left('invalid --status "DONE": expected SUCCEEDED, FAILED, EXECUTING, DELAYED')
    )
    const date = FilterOptions.make({ ...none, afterDate: Option.some("2023-02-30") }, NOW)
    expect(Either.isLeft(date) && date.left).toContain('--after "2023-02-30"')
    const sort = FilterOptions.make({ ...none, sortBy: Option.some("up") }, NOW)
    expect(Either.isLeft(sort) && sort.left).toContain('--sort "up"')
  })
})

describe("FilterOptions.validate", () => {
  it("validates a subset of the flags (the selection) into the query, naming the flag of a bad value", () => {
    const selection = { integration: Option.some("slack"), workflowId: Option.none(), userId: Option.none() }
    expect(FilterOptions.validate({ ...selection, status: Option.some("failed") }, NOW)).toEqual(
      Either.right({ integration: "slack", status: "FAILED" })
    )
    const bad = FilterOptions.validate(
      { ...selection, workflowId: Option.some(" "), status: Option.none() },
      NOW
    )
    expect(Either.isLeft(bad) && bad.left.field).toBe("--workflow-id")
    const order = FilterOptions.validate(
      {
        afterDate: Option.some("2023-03-01"),
        beforeDate: Option.some("2023-02-01")
      },
      NOW
    )
    expect(Either.isLeft(order) && order.left.message).toContain('--before "2023-02-01T00:00:00.000Z"')
    expect(Either.isLeft(order) && order.left.message).toContain("--after")
    expect(Either.isLeft(order) && order.left.message).not.toContain("afterDate")
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

describe("relative dates", () => {
  it("takes 30m, 24h, 7d, 2w (and s) as that long before now, ISO as before, in every date flag", () => {
    expect(Dates.resolve("30m", NOW)).toBe("2026-12-01T11:30:00.000Z")
    expect(Dates.resolve("24h", NOW)).toBe("2026-11-30T12:00:00.000Z")
    expect(Dates.resolve("7d", NOW)).toBe("2026-11-24T12:00:00.000Z")
    expect(Dates.resolve(" 2W ", NOW)).toBe("2026-11-17T12:00:00.000Z")
    expect(Dates.resolve("90s", NOW)).toBe("2026-12-01T11:58:30.000Z")
    expect(Dates.resolve("2023-02-16", NOW)).toBe("2023-02-16T00:00:00.000Z")
    const query = FilterOptions.make(
      { ...none, afterDate: Option.some("7d"), beforeDate: Option.some("1h") },
      NOW
    )
    expect(query).toEqual(
      Either.right({ afterDate: "2026-11-24T12:00:00.000Z", beforeDate: "2026-12-01T11:00:00.000Z" })
    )
  })

  it("refuses a bare number, an unknown unit and a non-date, naming the flag and both forms", () => {
    for (const bad of ["7", "7y", "yesterday", "-7d", "2023-02-30"]) {
      const result = FilterOptions.make({ ...none, afterDate: Option.some(bad) }, NOW)
      expect(Either.isLeft(result) && result.left).toBe(
        `invalid --after ${JSON.stringify(bad)}: expected ${Dates.expected}`
      )
    }
    const since = Dates.parse("5", "--since", NOW)
    expect(Either.isLeft(since) && since.left.message).toContain('--since "5"')
  })
})
