import { describe, expect, it } from "@effect/vitest"
import { errorMessageOf, problemOf, rowOf } from "../src/internal/stepRecords.js"

describe("stepRecords", () => {
  it("finds the error message in the shapes it knows, and only there", () => {
    expect(errorMessageOf({ error: { message: "Request failed", code: "X" } })).toBe("Request failed")
    expect(errorMessageOf("Error: token expired")).toBe("token expired")
    expect(errorMessageOf({ error: "Error: boom" })).toBe("boom")
    expect(errorMessageOf({ errorMessage: " spaced " })).toBe("spaced")
    expect(errorMessageOf("all good")).toBeUndefined()
    expect(errorMessageOf({ response: { body: { errors: [{ message: "nested" }] } } })).toBeUndefined()
    expect(errorMessageOf(["Error: in an array"])).toBeUndefined()
    expect(errorMessageOf(null)).toBeUndefined()
    expect(errorMessageOf(42)).toBeUndefined()
    expect(errorMessageOf("https://storage.local/x/output.json", true)).toBeUndefined()
    expect(errorMessageOf({ error: { message: "" } })).toBeUndefined()
    expect(errorMessageOf(`Error: ${"x".repeat(5000)}`)!.length).toBe(2000)
  })

  it("keeps unknown fields in raw and types only what has the expected type", () => {
    const record = { id: "s1", stepId: 7, type: "ACTION", status: "FAILED", dateStarted: "nope", extra: [1] }
    const row = rowOf("e1", record, { output: ["a", { b: 1 }], isLargeOutput: false })
    expect(row).toEqual({
      id: "s1",
      executionId: "e1",
      stepId: undefined,
      type: "ACTION",
      status: "FAILED",
      dateStarted: undefined,
      dateEnded: undefined,
      errorMessage: undefined,
      outputRaw: JSON.stringify(["a", { b: 1 }]),
      raw: JSON.stringify(record)
    })
    expect(rowOf("e1", { id: "s2", status: "SUCCEEDED" }, undefined).outputRaw).toBeUndefined()
  })

  it("tells a malformed step record", () => {
    expect(problemOf({ id: "s" })).toBeUndefined()
    expect(problemOf({ id: "" })).toMatch(/without a string id/)
    expect(problemOf("x")).toMatch(/not an object/)
    expect(problemOf(null)).toMatch(/not an object/)
  })
})
