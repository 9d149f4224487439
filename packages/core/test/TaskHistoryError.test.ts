import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import * as E from "../src/TaskHistoryError.js"

describe("TaskHistoryError", () => {
  it("maps errors to the contract's exit codes", () => {
    const request = {
      method: "GET",
      url: "https://api.useparagon.com/projects/p/task-history/workflow-executions"
    }
    expect(E.exitCode(new E.InvalidInput({ field: "f", value: "v", expected: "x" }))).toBe(2)
    expect(E.exitCode(new E.Unauthorized({ request }))).toBe(3)
    expect(E.exitCode(new E.NotFound({ resource: "execution e1" }))).toBe(4)
    expect(E.exitCode(new E.RateLimited({ retryAfter: Duration.seconds(3) }))).toBe(5)
    expect(E.exitCode(new E.ServerError({ status: 503 }))).toBe(6)
    expect(E.exitCode(new E.TransportError({ reason: "Reset" }))).toBe(6)
    const cause = new E.ServerError({ status: 502 })
    expect(E.exitCode(new E.ReplayOutcomeUnknown({ executionId: "e1", cause }))).toBe(7)
  })

  it("messages say what to do", () => {
    expect(new E.RateLimited({ retryAfter: Duration.seconds(3) }).message).toContain("3s")
    expect(new E.TransportError({ reason: "ConnectionRefused" }).message).toContain("connection refused")
    expect(E.isTaskHistoryError(new E.ServerError({ status: 500 }))).toBe(true)
    expect(E.isRetryable(new E.NotFound({ resource: "x" }))).toBe(false)
    expect(E.excerpt("a\n  b ".repeat(100), 10)).toBe("a b a b a …")
  })
})
