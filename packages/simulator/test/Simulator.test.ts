import { describe, expect, it, layer } from "@effect/vitest"
import {
  decodeExecution,
  RawExecutionPage,
  StepExecution,
  WorkflowExecutionDetail
} from "@taskhistory/core/WorkflowExecution"
import { Simulator } from "@taskhistory/simulator"
import { Effect, Schema } from "effect"
import {
  apiGet,
  asPage,
  auth,
  type ExpectedFilter,
  executionsUrl,
  expectedIds,
  type Row,
  readAll,
  request
} from "./helpers.js"

const NOW = "2026-11-28T12:00:00.000Z"
const SAME = "2026-11-01T08:00:00.000Z"

const mostCommon = (rows: ReadonlyArray<Row>, key: string) => {
  const counts = new Map<string, number>()
  for (const r of rows) counts.set(r[key] as string, (counts.get(r[key] as string) ?? 0) + 1)
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1])
  return { top: sorted[0]![0], rare: sorted[sorted.length - 1]![0] }
}

layer(
  Simulator.layer({
    records: 1500,
    seed: 11,
    now: NOW,
    span: 30,
    churn: { sameStartDate: { count: 230, date: SAME } }
  })
)("filters, sorting and paging", (it) => {
  it.effect("every record is a valid execution with the extra fields kept", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const rows = yield* sim.dataset
      expect(rows.length).toBe(1500 + 230)
      for (const r of rows) expect(decodeExecution(r)._tag).toBe("Right")
      const statuses = new Set(rows.map((r) => r.status))
      expect([...statuses].sort()).toEqual(["DELAYED", "EXECUTING", "FAILED", "SUCCEEDED"])
      for (const r of rows) {
        expect(typeof r.integration).toBe("string")
        expect(r.projectId).toBe(sim.projectId)
        expect(r.attempt).toBeGreaterThanOrEqual(1)
        if (r.status === "EXECUTING" || r.status === "DELAYED") {
          expect(r.dateEnded).toBeNull()
          expect(Date.parse(NOW) - Date.parse(r.dateStarted as string)).toBeLessThanOrEqual(24 * 3_600_000)
        } else {
          expect(Date.parse(r.dateEnded as string) - Date.parse(r.dateStarted as string)).toBe(r.runDuration)
        }
      }
      // Zipf-like skew: the heaviest user has many more executions than the median one.
      const perUser = new Map<string, number>()
      for (const r of rows) perUser.set(r.userId as string, (perUser.get(r.userId as string) ?? 0) + 1)
      const counts = [...perUser.values()].sort((a, b) => b - a)
      expect(counts[0]!).toBeGreaterThan(5 * counts[Math.floor(counts.length / 2)]!)
      const first = yield* apiGet(sim, "")
      expect(Schema.is(RawExecutionPage)(first.json)).toBe(true)
    })
  )

  it.effect("every filter and both sorts agree with a straightforward computation, to the last page", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const rows = yield* sim.dataset
      const users = mostCommon(rows, "userId")
      const workflows = mostCommon(rows, "workflowId")
      const mid = rows[700]!.dateStarted as string
      const late = rows[1400]!.dateStarted as string
      const filters: Array<ExpectedFilter> = [
        {},
        { integration: "salesforce" },
        { integration: rows[3]!.integration as string },
        { workflowId: workflows.top },
        { workflowId: workflows.rare },
        { userId: users.top },
        { userId: users.rare },
        { userId: "nobody" },
        { status: "SUCCEEDED" },
        { status: "FAILED" },
        { status: "EXECUTING" },
        { status: "DELAYED" },
        { afterDate: mid },
        { beforeDate: mid },
        { afterDate: mid, beforeDate: late },
        { afterDate: SAME, beforeDate: SAME },
        { status: "SUCCEEDED", integration: rows[5]!.integration as string, afterDate: mid },
        { userId: users.top, status: "FAILED", beforeDate: late }
      ]
      for (const filter of filters) {
        for (const sortBy of [undefined, "ASC", "DESC"] as const) {
          const f = { ...filter, sortBy }
          const got = yield* readAll(sim, f)
          const want = expectedIds(rows, f, true)
          expect(got.ids, JSON.stringify(f)).toEqual(want)
          expect(got.pages).toBe(Math.max(1, Math.ceil(want.length / 100)))
          const first = asPage(yield* apiGet(sim, "", f))
          expect(first.total).toBe(want.length)
        }
      }
    })
  )

  it.effect("date bounds are inclusive by default and exclusive on demand", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const rows = yield* sim.dataset
      const inclusive = yield* readAll(sim, { afterDate: SAME, beforeDate: SAME })
      expect(inclusive.ids.length).toBe(230)
      expect(new Set(inclusive.ids).size).toBe(230)
      yield* sim.configure({ inclusiveDates: false })
      const mid = rows[900]!.dateStarted as string
      for (const f of [{ afterDate: mid }, { beforeDate: mid }, { afterDate: SAME }, { beforeDate: SAME }]) {
        expect((yield* readAll(sim, f)).ids).toEqual(expectedIds(rows, f, false))
      }
      expect((yield* readAll(sim, { afterDate: SAME, beforeDate: SAME })).ids).toEqual([])
      yield* sim.configure({ inclusiveDates: true })
    })
  )

  it.effect("accepts the documented date forms (no zone, date only, offset)", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const rows = yield* sim.dataset
      const a = asPage(yield* apiGet(sim, "", { afterDate: "2026-11-20T00:00:00" })).total
      const b = asPage(yield* apiGet(sim, "", { afterDate: "2026-11-20" })).total
      const c = asPage(yield* apiGet(sim, "", { afterDate: "2026-11-20T02:00:00+02:00" })).total
      expect(a).toBe(expectedIds(rows, { afterDate: "2026-11-20T00:00:00Z" }, true).length)
      expect(b).toBe(a)
      expect(c).toBe(a)
    })
  )

  it.effect("offset past the end gives an empty page without nextLink", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const page = asPage(yield* apiGet(sim, "", { offset: "5000" }))
      expect(page.records).toEqual([])
      expect(page.nextLink).toBeNull()
      expect(page.total).toBe(1730)
    })
  )

  it.effect("nextLink is absolute, repeats the filters, and carries sortBy=ASC when none was sent", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const page = asPage(yield* apiGet(sim, "", { status: "SUCCEEDED", afterDate: "2026-11-01" }))
      const link = new URL(page.nextLink!)
      expect(link.origin).toBe(sim.url)
      expect(link.pathname).toBe(`/projects/${sim.projectId}/task-history/workflow-executions`)
      expect(link.searchParams.get("status")).toBe("SUCCEEDED")
      expect(link.searchParams.get("afterDate")).toBe("2026-11-01T00:00:00.000Z")
      expect(link.searchParams.get("sortBy")).toBe("ASC")
      expect(link.searchParams.get("offset")).toBe("100")
      const desc = asPage(yield* apiGet(sim, "", { sortBy: "DESC", offset: "200" }))
      expect(new URL(desc.nextLink!).searchParams.get("sortBy")).toBe("DESC")
      expect(new URL(desc.nextLink!).searchParams.get("offset")).toBe("300")
      yield* sim.configure({ nextLinkSortAsc: false })
      const plain = asPage(yield* apiGet(sim, ""))
      expect(new URL(plain.nextLink!).searchParams.has("sortBy")).toBe(false)
      yield* sim.configure({ nextLinkSortAsc: true })
    })
  )

  it.effect("page shape and total are knobs", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const docs = (yield* apiGet(sim, "")).json as Record<string, unknown>
      expect(Object.keys(docs)).toEqual(["workflowExecutions", "nextLink", "total"])
      yield* sim.configure({ pageShape: "data", includeTotal: false })
      const openapi = (yield* apiGet(sim, "")).json as Record<string, unknown>
      expect(Object.keys(openapi)).toEqual(["data", "nextLink"])
      expect((openapi.data as Array<unknown>).length).toBe(100)
      yield* sim.configure({ pageShape: "workflowExecutions", includeTotal: true })
    })
  )

  it.effect("one execution with its steps, and one step's input and output", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const rows = yield* sim.dataset
      const target = rows.find((r) => r.status === "FAILED")!
      const detail = yield* apiGet(sim, `/${target.id}`)
      expect(detail.status).toBe(200)
      const decoded = Schema.decodeUnknownSync(WorkflowExecutionDetail)(detail.json)
      const { stepExecutions, ...rest } = detail.json as Record<string, unknown>
      expect(rest).toEqual(target)
      expect(decoded.stepExecutions.length).toBeGreaterThan(0)
      const again = (yield* apiGet(sim, `/${target.id}`)).json as { stepExecutions: unknown }
      expect(again.stepExecutions).toEqual(stepExecutions)
      const last = decoded.stepExecutions[decoded.stepExecutions.length - 1]!
      expect(last.status).toBe("FAILED")
      const step = yield* apiGet(sim, `/${target.id}/step-executions/${last.id}`)
      expect(step.status).toBe(200)
      const s = Schema.decodeUnknownSync(StepExecution)(step.json)
      expect(Object.keys(step.json as object)).toEqual([
        "id",
        "input",
        "output",
        "isLargeInput",
        "isLargeOutput"
      ])
      expect(s.id).toBe(last.id)
      const other = rows.find((r) => r.id !== target.id)!
      expect((yield* apiGet(sim, `/${other.id}/step-executions/${last.id}`)).status).toBe(404)
    })
  )

  it.effect("replay answers 201 with a new EXECUTING execution that appears in the list", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.Simulator
      const rows = yield* sim.dataset
      const target = rows.find((r) => r.status === "FAILED")!
      const answer = yield* request(executionsUrl(sim, `/${target.id}/replay`), {
        method: "POST",
        headers: auth(sim)
      })
      expect(answer.status).toBe(201)
      const created = answer.json as Row
      expect(created.id).not.toBe(target.id)
      expect(created.status).toBe("EXECUTING")
      expect(created.workflowId).toBe(target.workflowId)
      expect(created.userId).toBe(target.userId)
      expect(created.replayOf).toBe(target.id)
      expect(created.dateStarted).toBe(NOW)
      const newest = asPage(yield* apiGet(sim, "")).records[0]!
      expect(newest.id).toBe(created.id)
      expect((yield* sim.stats).replays[target.id as string]).toBe(1)
      expect((yield* apiGet(sim, `/${created.id}`)).status).toBe(200)
      yield* sim.expire([created.id as string])
    })
  )
})

describe("errors", () => {
  it.scoped("401 without or with a wrong bearer, 404 for unknown things, 400 for bad input, 405", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 50, now: NOW })
      const url = executionsUrl(sim)
      const none = yield* request(url)
      expect(none.status).toBe(401)
      expect((none.json as { statusCode: number }).statusCode).toBe(401)
      expect((yield* request(url, { headers: { authorization: "Bearer nope" } })).status).toBe(401)
      expect((yield* request(url, { headers: { authorization: sim.apiKey } })).status).toBe(401)
      const project = yield* request(`${sim.url}/projects/other/task-history/workflow-executions`, {
        headers: auth(sim)
      })
      expect(project.status).toBe(404)
      expect((yield* apiGet(sim, "/00000000-0000-4000-8000-000000000000")).status).toBe(404)
      expect((yield* apiGet(sim, "/not-an-id")).status).toBe(404)
      const rows = yield* sim.dataset
      expect((yield* apiGet(sim, `/${rows[0]!.id}/step-executions/nope`)).status).toBe(404)
      expect((yield* request(`${sim.url}/elsewhere`, { headers: auth(sim) })).status).toBe(404)
      for (const [field, value] of [
        ["afterDate", "yesterday"],
        ["beforeDate", "2026-02-30"],
        ["status", "DONE"],
        ["sortBy", "UP"],
        ["offset", "-1"],
        ["offset", "abc"],
        ["userId", ""]
      ] as const) {
        const bad = yield* apiGet(sim, "", { [field]: value })
        expect(bad.status, `${field}=${value}`).toBe(400)
        expect(bad.header("content-type")).toContain("application/json")
        expect((bad.json as { field: string }).field).toBe(field)
      }
      const reversed = yield* apiGet(sim, "", { afterDate: "2026-11-02", beforeDate: "2026-11-01" })
      expect(reversed.status).toBe(400)
      expect((yield* request(url, { method: "POST", headers: auth(sim) })).status).toBe(405)
      expect(
        (yield* request(executionsUrl(sim, `/${rows[0]!.id}/replay`), { headers: auth(sim) })).status
      ).toBe(405)
      expect((yield* apiGet(sim, "", { status: "failed" })).status).toBe(200)
      const stats = yield* sim.stats
      expect(stats.byStatus["401"]).toBe(3)
      expect(stats.byStatus["400"]).toBe(8)
    })
  )

  it.effect("invalid runtime configuration is a typed error", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 10, now: NOW })
      const error = yield* Effect.flip(sim.configure({ rateLimit: "lots" }))
      expect(error._tag).toBe("InvalidInput")
      const error2 = yield* Effect.flip(sim.configure({ faults: { errorRate: 2 } }))
      expect(error2.message).toContain("faults.errorRate")
    }).pipe(Effect.scoped)
  )
})

describe("determinism", () => {
  it.scoped("the same seed and now give the same dataset; another seed another one", () =>
    Effect.gen(function* () {
      const a = yield* Simulator.start({ records: 800, seed: 5, now: NOW })
      const b = yield* Simulator.start({ records: 800, seed: 5, now: NOW })
      const c = yield* Simulator.start({ records: 800, seed: 6, now: NOW })
      const rowsA = yield* a.dataset
      expect(yield* b.dataset).toEqual(rowsA)
      const rowsC = yield* c.dataset
      expect(rowsC.length).toBe(800)
      expect(rowsC.map((r) => r.id)).not.toEqual(rowsA.map((r) => r.id))
      expect(a.apiKey).toBe(b.apiKey)
      expect(a.projectId).not.toBe(c.projectId)
      const pageA = yield* apiGet(a, "", { offset: "300" })
      const pageB = yield* apiGet(b, "", { offset: "300" })
      expect(asPage(pageA).records).toEqual(asPage(pageB).records)
    })
  )

  it.scoped("without now, the dataset ends at the wall-clock time even under the TestClock", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 200 })
      const rows = yield* sim.dataset
      const last = Date.parse(rows[rows.length - 1]!.dateStarted as string)
      expect(Date.now() - last).toBeGreaterThanOrEqual(0)
      expect(Date.now() - last).toBeLessThan(3 * 86_400_000)
    })
  )

  it.scoped("start dates span the requested days, ending at now", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 2000, seed: 2, now: NOW, span: 10 })
      const rows = yield* sim.dataset
      const first = Date.parse(rows[0]!.dateStarted as string)
      const last = Date.parse(rows[rows.length - 1]!.dateStarted as string)
      expect(first).toBeGreaterThanOrEqual(Date.parse(NOW) - 10 * 86_400_000)
      expect(first).toBeLessThan(Date.parse(NOW) - 9 * 86_400_000)
      expect(last).toBeLessThanOrEqual(Date.parse(NOW))
      expect(last).toBeGreaterThan(Date.parse(NOW) - 86_400_000)
    })
  )
})
