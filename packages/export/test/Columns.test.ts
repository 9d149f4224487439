import { describe, expect, it } from "@effect/vitest"
import * as Columns from "../src/Columns.js"

describe("Columns", () => {
  it("projects a record onto the columns, in table order, with null for what is missing", () => {
    const record = {
      id: "e1",
      status: "FAILED",
      userId: "u1",
      taskCount: 3,
      runDuration: null,
      dateStarted: "2026-11-01T10:00:00.000Z",
      extra: { kept: "in raw only" }
    }
    expect(Columns.names).toEqual([
      "id",
      "user_id",
      "workflow_id",
      "status",
      "task_count",
      "run_duration_ms",
      "date_started",
      "date_ended"
    ])
    expect(Columns.values(record)).toEqual([
      "e1",
      "u1",
      null,
      "FAILED",
      3,
      null,
      "2026-11-01T10:00:00.000Z",
      null
    ])
  })

  it("picks fields by their API names, in the order asked, and refuses values of the wrong type", () => {
    const row = Columns.projection(["status", "id", "taskCount"])
    expect(row({ id: "e1", status: "SUCCEEDED", taskCount: 2 })).toEqual(["SUCCEEDED", "e1", 2])
    expect(row({ id: 7, status: "SUCCEEDED", taskCount: "2" })).toEqual(["SUCCEEDED", null, null])
    expect(row({ id: "e1", status: "SUCCEEDED", taskCount: Number.NaN })).toEqual(["SUCCEEDED", "e1", null])
  })
})
