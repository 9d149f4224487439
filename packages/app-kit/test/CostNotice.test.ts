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
    const plan: CostPlan = {
      total: 250,
      requests: 3,
      listRequests: 3,
      estimatedDuration: Duration.seconds(90),
      firstPage
    }
    expect(CostNotice.isLong(plan)).toBe(true)
    expect(CostNotice.describe(plan, rate, "this read")).toBe(
      "this read needs 3 requests for 250 executions, about 1m 30s at the rate limit of 1000/10m (--rate-limit)"
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
    expect(CostNotice.describe(plan, rate, "this read")).toBe(
      "this read needs about 23 requests (3 list page request(s) for 250 executions + about 20 step request(s), an estimate: one per failed execution (10) and one per failed step, counted as one per failed execution (10)), about 30s at the rate limit of 1000/10m (--rate-limit)"
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
