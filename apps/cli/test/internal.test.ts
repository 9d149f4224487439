import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect } from "effect"
import * as DetailFormat from "../src/internal/detailFormat.js"
import * as Format from "../src/internal/format.js"
import * as ReplayLog from "../src/internal/replayLog.js"

const record = (id: string, extra: Record<string, unknown> = {}): WorkflowExecution => ({
  id,
  status: "FAILED",
  dateStarted: "2023-02-20T06:21:42.274Z",
  ...extra
})

describe("formats", () => {
  it("json is one array across chunks, and [] when empty", () => {
    const p = Format.printer("json")
    const text = p.chunk([record("a")]) + p.chunk([]) + p.chunk([record("b", { z: 1 })]) + p.end()
    expect(JSON.parse(text)).toEqual([record("a"), record("b", { z: 1 })])
    const empty = Format.printer("json")
    expect(empty.end()).toBe("[]\n")
  })

  it("csv has one header and escapes commas, quotes and newlines", () => {
    const p = Format.printer("csv")
    const text =
      p.chunk([record("a", { workflowId: 'say "hi", then\nbye', taskCount: 3, runDuration: null })]) + p.end()
    expect(text).toBe(
      'id,status,workflowId,userId,taskCount,runDuration,dateStarted,dateEnded\na,FAILED,"say ""hi"", then\nbye",,3,,2023-02-20T06:21:42.274Z,\n'
    )
    expect(Format.printer("csv").end()).toBe(
      "id,status,workflowId,userId,taskCount,runDuration,dateStarted,dateEnded\n"
    )
  })

  it("ndjson keeps unknown fields and key order", () => {
    const r = { zeta: 1, id: "a", status: "NEW", dateStarted: "2023-02-20T06:21:42.274Z", alpha: [1] }
    expect(Format.printer("ndjson").chunk([r])).toBe(`${JSON.stringify(r)}\n`)
  })

  it("humanMs", () => {
    expect(Format.humanMs(undefined)).toBe("-")
    expect(Format.humanMs(850)).toBe("850ms")
    expect(Format.humanMs(12_300)).toBe("12.3s")
    expect(Format.humanMs(245_000)).toBe("4m05s")
    expect(Format.humanMs(7_800_000)).toBe("2h10m")
  })
})

describe("replay log", () => {
  it.effect("settles replayed, unknown and in-flight ids; retries failed ones; survives a torn line", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "replay-log-"))
      const path = join(dir, "log")
      writeFileSync(
        path,
        [
          '{"id":"a","event":"sending"}',
          '{"id":"a","event":"replayed","newId":"a2"}',
          '{"id":"b","event":"sending"}',
          '{"id":"c","event":"sending"}',
          '{"id":"c","event":"failed"}',
          '{"id":"d","event":"sending"}',
          '{"id":"d","event":"unknown"}',
          '{"id":"e","event":"sen'
        ].join("\n")
      )
      const state = yield* ReplayLog.load(path)
      expect(["a", "b", "c", "d", "e"].map((id) => ReplayLog.isSettled(state.get(id)))).toEqual([
        true,
        true,
        false,
        true,
        false
      ])
      const missing = yield* ReplayLog.load(join(dir, "none"))
      expect(missing.size).toBe(0)
      rmSync(dir, { recursive: true, force: true })
    })
  )
})

describe("a failed step's error", () => {
  it("is found in the output's error.message, error, message, errorMessage or errors[0], with its code", () => {
    const step = (output: unknown, extra: Record<string, unknown> = {}) => ({ id: "s", output, ...extra })
    expect(DetailFormat.errorMessageOf(step({ error: { message: "Bad request", code: "E400" } }))).toBe(
      "Bad request (E400)"
    )
    expect(DetailFormat.errorMessageOf(step({ error: "timeout" }))).toBe("timeout")
    expect(DetailFormat.errorMessageOf(step({ message: "nope", code: "X" }))).toBe("nope (X)")
    expect(DetailFormat.errorMessageOf(step({ errorMessage: "a\n  b" }))).toBe("a b")
    expect(DetailFormat.errorMessageOf(step({ errors: [{ message: "first" }, { message: "second" }] }))).toBe(
      "first"
    )
    expect(DetailFormat.errorMessageOf(step({ ok: true }))).toBeUndefined()
    expect(
      DetailFormat.errorMessageOf(
        step({ response: { status: 400, body: { errors: [{ message: "deep" }] } } })
      )
    ).toBe("deep")
    expect(DetailFormat.errorMessageOf(step("Error: Connection reset by peer"))).toBe(
      "Error: Connection reset by peer"
    )
    expect(DetailFormat.errorMessageOf(step("https://x/y.json", { isLargeOutput: true }))).toBeUndefined()
    expect(DetailFormat.errorMessageOf(step({ error: { message: "x".repeat(2000) } }))?.length).toBe(500)
  })

  it("shows in the table of a failed execution; control characters are escaped", () => {
    const detail = {
      id: "e1",
      status: "FAILED",
      dateStarted: "2023-02-20T06:21:42.274Z",
      stepExecutions: [
        {
          id: "s1",
          status: "SUCCEEDED",
          dateStarted: "2023-02-20T06:21:42.274Z",
          dateEnded: "2023-02-20T06:21:43.274Z"
        },
        { id: "s2", name: "Call\u001b[31m", status: "FAILED", dateStarted: "2023-02-20T06:21:43.274Z" }
      ]
    }
    expect(DetailFormat.failedStep(detail)?.id).toBe("s2")
    const text = DetailFormat.executionTable(detail, { _tag: "Found", stepId: "s2", message: "boom" })
    expect(text).toContain("failed step  s2\nerror        boom\n")
    expect(text).toMatch(/^1 {2}s1 {4}-\s+SUCCEEDED .* 1\.0s$/m)
    expect(text).not.toContain("\u001b")
    expect(text).toContain("\\x1b")
    expect(DetailFormat.executionTable({ ...detail, stepExecutions: [] })).toContain("no step executions")
    expect(DetailFormat.executionTable(detail, { _tag: "NoFailedStep" })).toContain(
      "error        no step is marked FAILED\n"
    )
    expect(
      DetailFormat.executionTable(detail, { _tag: "Unreadable", stepId: "s2", reason: "rate limited" })
    ).toContain("failed step  s2\nerror        could not be read: rate limited\n")
    expect(
      DetailFormat.executionTable(detail, {
        _tag: "NotInOutput",
        stepId: "s2",
        largeOutput: "https://x/o.json"
      })
    ).toContain("error        not in the step's output, which is stored apart: https://x/o.json\n")
    expect(
      DetailFormat.executionTable(detail, { _tag: "NotInOutput", stepId: "s2", largeOutput: undefined })
    ).toContain("the step's output holds no error message")
  })
})
