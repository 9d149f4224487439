import { describe, expect, it } from "@effect/vitest"
import type { CostPlan } from "@taskhistory/core/TaskHistoryClient"
import { Duration } from "effect"
import * as CostNotice from "../src/CostNotice.js"

const rate = { limit: 1000, window: Duration.minutes(10) }
const firstPage = {
  records: [],
  invalid: [],
  total: 250,
  nextLink: undefined,
  offset: 0
} as unknown as CostPlan["firstPage"]

describe("CostNotice", () => {
  it("a list read: requests and executions", () => {
    // 1,500 requests at 1000/10m: one window's wait (10m) and 1,500 x 250 ms / 4 at once.
    const plan: CostPlan = {
      total: 150_000,
      requests: 1500,
      listRequests: 1500,
      estimatedDuration: Duration.millis(600_000 + 93_750),
      firstPage
    }
    expect(CostNotice.isLong(plan)).toBe(true)
    expect(CostNotice.describe(plan, rate, "this read")).toBe(
      "this read needs 1500 requests for 150000 executions, about 11m 34s at the rate limit of 1000/10m (--rate-limit)"
    )
  })

  it("a read the rate limit does not slow: the estimate is said to be the requests' own time", () => {
    // 10,000 requests at 100000/1s: no wait, 10,000 x 250 ms / 4 at once.
    const plan: CostPlan = {
      total: 1_000_000,
      requests: 10_000,
      listRequests: 10_000,
      estimatedDuration: Duration.millis(625_000),
      firstPage
    }
    expect(CostNotice.describe(plan, { limit: 100_000, window: Duration.seconds(1) }, "this read")).toBe(
      "this read needs 10000 requests for 1000000 executions, about 10m 25s, mostly the requests' own time (assumed 250 ms each); the rate limit of 100000/1s (--rate-limit) does not hold it back"
    )
  })

  it("with steps: the step requests counted, and said to be an estimate; unknown counts said so", () => {
    const plan: CostPlan = {
      total: 250,
      requests: 23,
      listRequests: 3,
      steps: { scope: "failed", executions: 10, failed: 10, requests: 20, estimate: true },
      estimatedDuration: Duration.seconds(30),
      firstPage
    }
    expect(CostNotice.isLong(plan)).toBe(false)
    // (a plan held back by the limit: 23 requests against 10 per minute)
    const tight = { limit: 10, window: Duration.minutes(1) }
    expect(
      CostNotice.describe({ ...plan, estimatedDuration: Duration.seconds(121) }, tight, "this read")
    ).toBe(
      "this read needs about 23 requests (3 list page request(s) for 250 executions + about 20 step request(s), an estimate: one per failed execution (10) and one per failed step, counted as one per failed execution (10)), about 2m 1s at the rate limit of 10/1m (--rate-limit)"
    )
    const unknown: CostPlan = {
      total: undefined,
      requests: 2,
      listRequests: 2,
      steps: { scope: "all", executions: undefined, failed: undefined, requests: 0, estimate: true },
      estimatedDuration: Duration.seconds(1),
      firstPage
    }
    expect(CostNotice.describe(unknown, rate, "this read")).toContain(
      "one per execution (how many is unknown: the API sent no total)"
    )
  })
})
