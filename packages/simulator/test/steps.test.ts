import { describe, expect, it } from "@effect/vitest"
import { StepExecution, WorkflowExecutionDetail } from "@taskhistory/core/WorkflowExecution"
import { Simulator } from "@taskhistory/simulator"
import { Effect, Schema } from "effect"
import { apiGet } from "./helpers.js"

const NOW = "2026-11-28T12:00:00.000Z"

describe("step executions", () => {
  it.scoped("failed steps carry a handful of recurring errors per workflow, in several shapes", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 3000, seed: 5, now: NOW })
      const failed = (yield* sim.dataset).filter((r) => r.status === "FAILED")
      expect(failed.length).toBeGreaterThan(50)
      const byWorkflow = new Map<string, Set<string>>()
      const shapes = new Set<string>()
      for (const execution of failed) {
        const steps = (yield* sim.steps(execution.id as string))!
        const last = steps[steps.length - 1]!
        expect(last.summary.status).toBe("FAILED")
        expect(steps.slice(0, -1).every((s) => s.summary.status === "SUCCEEDED")).toBe(true)
        expect(typeof last.summary.stepId).toBe("string")
        expect(typeof last.summary.type).toBe("string")
        const output = last.detail.output
        let message: string | undefined
        if (typeof output === "string" && output.startsWith("Error: ")) {
          shapes.add("string")
          message = output.slice(7)
        } else if (typeof output === "string") {
          shapes.add("large")
          expect(last.detail.isLargeOutput).toBe(true)
        } else if ((output as { error?: unknown }).error !== undefined) {
          shapes.add("object")
          message = (output as { error: { message: string } }).error.message
        } else {
          shapes.add("nested")
          message = (output as { response: { body: { errors: Array<{ message: string }> } } }).response.body
            .errors[0]!.message
        }
        if (message === undefined) continue
        const wf = execution.workflowId as string
        const set = byWorkflow.get(wf) ?? new Set()
        set.add(message)
        byWorkflow.set(wf, set)
      }
      expect([...shapes].sort()).toEqual(["large", "nested", "object", "string"])
      for (const messages of byWorkflow.values()) expect(messages.size).toBeLessThanOrEqual(5)
      const all = new Set([...byWorkflow.values()].flatMap((m) => [...m]))
      expect(all.size).toBeGreaterThan(3)
    })
  )

  it.scoped("what the handle says is what the API serves; a status change changes the steps", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 200, seed: 9, now: NOW })
      const running = (yield* sim.dataset).find((r) => r.status === "EXECUTING")!
      const before = (yield* sim.steps(running.id as string))!
      const served = Schema.decodeUnknownSync(WorkflowExecutionDetail)(
        (yield* apiGet(sim, `/${running.id}`)).json
      )
      expect(served.stepExecutions).toEqual(before.map((s) => s.summary))
      for (const s of before) {
        const detail = yield* apiGet(sim, `/${running.id}/step-executions/${s.summary.id}`)
        expect(Schema.decodeUnknownSync(StepExecution)(detail.json)).toEqual(s.detail)
      }
      expect(before.some((s) => s.summary.status === "FAILED")).toBe(false)
      yield* sim.setStatus(running.id as string, "FAILED")
      const after = (yield* sim.steps(running.id as string))!
      expect(after.map((s) => s.summary.id)).toEqual(before.map((s) => s.summary.id))
      expect(after[after.length - 1]!.summary.status).toBe("FAILED")
      expect(yield* sim.steps("00000000-0000-4000-8000-000000000000")).toBeUndefined()
    })
  )

  it.scoped("step endpoints are rate limited like the list", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 20, now: NOW, rateLimit: "3/10s" })
      const row = (yield* sim.dataset)[0]!
      const steps = (yield* sim.steps(row.id as string))!
      const codes: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const path = i % 2 === 0 ? `/${row.id}` : `/${row.id}/step-executions/${steps[0]!.summary.id}`
        codes.push((yield* apiGet(sim, path)).status)
      }
      expect(codes).toEqual([200, 200, 200, 429, 429])
      const stats = yield* sim.stats
      expect(stats.rateLimited).toBe(2)
      expect(stats.byRoute.step).toBeGreaterThan(0)
    })
  )
})
