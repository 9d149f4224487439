import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import {
  ClosedError,
  InvalidInputError,
  NotFoundError,
  RateLimitedError,
  RateLimiterError,
  ReplayOutcomeUnknownError,
  TaskHistory,
  TaskHistoryError,
  UnauthorizedError
} from "../src/index.js"

const connect = (sim: RunningSimulator, extra: Partial<ConstructorParameters<typeof TaskHistory>[0]> = {}) =>
  new TaskHistory({ apiKey: sim.apiKey, projectId: sim.projectId, baseUrl: sim.url, ...extra })

/** Resolves once the simulator has received `n` requests in all. */
const requestsReach = async (sim: RunningSimulator, n: number) => {
  while (sim.stats().requests < n) await new Promise((r) => setTimeout(r, 5))
}

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

describe("TaskHistory against the simulator", () => {
  let sim: RunningSimulator
  let th: TaskHistory
  beforeAll(async () => {
    sim = await startSimulator({ records: 1500, seed: 7 })
    th = connect(sim)
  })
  afterAll(async () => {
    await th.close()
    await sim.close()
  })

  it("lists every matching execution once, in the API's order", async () => {
    const after = "2026-01-01"
    const expected = sim
      .dataset()
      .filter((e) => e.status === "FAILED")
      .map((e) => String(e.id))
    const ids: Array<string> = []
    for await (const e of th.executions.list({ status: "failed", after })) ids.push(e.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual([...expected].sort())
    expect(await th.executions.count({ status: "failed" })).toBe(expected.length)
  })

  it("pages, gets, steps and replays", async () => {
    const page = await th.executions.page({ sort: "asc" }, { offset: 100 })
    expect(page.offset).toBe(100)
    expect(page.records).toHaveLength(100)
    expect(page.total).toBe(1500)
    const first = page.records[0]
    if (first === undefined) throw new Error("empty page")
    const detail = await th.executions.get(first.id)
    expect(detail.id).toBe(first.id)
    const stepId = detail.stepExecutions?.[0]?.id
    if (typeof stepId === "string") {
      const step = await th.executions.step(first.id, stepId)
      expect(step.id).toBe(stepId)
    }
    const before = sim.stats().replaysApplied
    const replayed = await th.executions.replay(first.id)
    expect(replayed.id).not.toBe(first.id)
    expect(sim.stats().replaysApplied).toBe(before + 1)
  })

  it("usage and costPlan agree with the data, and the plan's page is not read again", async () => {
    const report = await th.usage({ by: "status" })
    expect(report.total.executions).toBe(await th.executions.count())
    const plan = await th.costPlan({ status: "succeeded" })
    expect(plan.requests).toBe(Math.max(1, Math.ceil((plan.total ?? 0) / 100)))
    expect(plan.estimatedDurationMs).toBeGreaterThan(0)
    const list = sim.stats().byRoute.list
    let n = 0
    for await (const _ of th.executions.list({ status: "succeeded" }, { firstPage: plan.firstPage })) n++
    expect(n).toBe(plan.total)
    expect(sim.stats().byRoute.list - list).toBe(plan.requests - 1)
  })

  it("stops at limit, and breaking out of the loop stops the requests", async () => {
    const ids: Array<string> = []
    for await (const e of th.executions.list({}, { limit: 150 })) ids.push(e.id)
    expect(ids).toHaveLength(150)
    const before = sim.stats().byRoute.list
    let n = 0
    for await (const _ of th.executions.list()) if (++n === 10) break
    await new Promise((r) => setTimeout(r, 100))
    // the first page and at most the pages fetched ahead with it (page concurrency 4)
    expect(sim.stats().byRoute.list - before).toBeLessThanOrEqual(5)
  })

  it("fails with exported error classes that carry a code, the HTTP status and the core's message", async () => {
    const missing = await rejection(th.executions.get("no-such-execution"))
    expect(missing).toBeInstanceOf(NotFoundError)
    expect(missing).toBeInstanceOf(TaskHistoryError)
    expect(missing).toMatchObject({ code: "not_found", status: 404, name: "NotFoundError" })
    expect((missing as Error).message).toMatch(/^not found \(404\): execution no-such-execution \(GET http/)

    const wrongKey = connect(sim, { apiKey: "sk-wrong-key-123" })
    const denied = await rejection(wrongKey.executions.count())
    expect(denied).toBeInstanceOf(UnauthorizedError)
    expect(denied).toMatchObject({ code: "unauthorized", status: 401 })
    expect((denied as Error).message).toContain("check PARAGON_API_KEY")
    expect(JSON.stringify(denied)).not.toContain("sk-wrong-key-123")
    expect(String((denied as Error).stack)).not.toContain("sk-wrong-key-123")
    await wrongKey.close()

    const bad = await rejection(th.executions.count({ after: "2026-02-30" }))
    expect(bad).toBeInstanceOf(InvalidInputError)
    expect(bad).toMatchObject({ code: "invalid_input", field: "after", value: "2026-02-30" })
    const badList = await rejection(th.executions.list({ status: "lost" }).next())
    expect(badList).toMatchObject({ code: "invalid_input", field: "status" })
  })

  it("validates its options in the constructor, naming the option and never the key", () => {
    expect(() => connect(sim, { rateLimit: "fast" })).toThrow(InvalidInputError)
    expect(() => connect(sim, { rateLimit: "fast" })).toThrow('invalid rateLimit "fast"')
    expect(() => connect(sim, { maxRetries: -1 })).toThrow("invalid maxRetries")
    expect(() => new TaskHistory({ apiKey: " ", projectId: "p" })).toThrow("invalid apiKey")
    expect(() => connect(sim, { baseUrl: "ftp://x" })).toThrow("invalid baseUrl")
  })

  it("a pre-aborted signal rejects at once with its reason and sends nothing", async () => {
    const before = sim.stats().requests
    const reason = new Error("stop")
    const error = await rejection(th.executions.count({}, { signal: AbortSignal.abort(reason) }))
    expect(error).toBe(reason)
    const listError = await rejection(th.executions.list({}, { signal: AbortSignal.abort() }).next())
    expect(listError).toMatchObject({ name: "AbortError" })
    expect(sim.stats().requests).toBe(before)
  })

  it("closes: later calls reject with ClosedError", async () => {
    const own = connect(sim)
    expect(await own.executions.count({ status: "failed" })).toBeGreaterThan(0)
    await own[Symbol.asyncDispose]()
    expect(await rejection(own.executions.count())).toBeInstanceOf(ClosedError)
    expect(await rejection(own.executions.list().next())).toBeInstanceOf(ClosedError)
  })
})

describe("aborting stops requests at once", () => {
  it("an abort while the request waits for the answer rejects it (the answer is 30 s away)", async () => {
    const sim = await startSimulator({ records: 200, seed: 1, latency: { fixedMs: 30_000 } })
    const th = connect(sim)
    const controller = new AbortController()
    const pending = rejection(th.executions.get("x", { signal: controller.signal }))
    await requestsReach(sim, 1)
    controller.abort()
    expect(await pending).toMatchObject({ name: "AbortError" })
    await th.close()
    await sim.close()
  }, 10_000)

  it("an abort in the middle of a list stops it and its pages fetched ahead", async () => {
    const sim = await startSimulator({ records: 5000, seed: 2, latency: { fixedMs: 20 } })
    const th = connect(sim)
    const controller = new AbortController()
    let n = 0
    const error = await rejection(
      (async () => {
        for await (const _ of th.executions.list({}, { signal: controller.signal })) {
          if (++n === 250) controller.abort()
        }
      })()
    )
    expect(error).toMatchObject({ name: "AbortError" })
    const atAbort = sim.stats().requests
    // Requests sent just before the abort may still reach the server (it counts arrivals; on a
    // loaded machine that takes a while): at most the pages fetched ahead, then nothing more.
    await new Promise((r) => setTimeout(r, 300))
    const settled = sim.stats().requests
    expect(settled - atAbort).toBeLessThanOrEqual(4)
    await new Promise((r) => setTimeout(r, 300))
    expect(sim.stats().requests).toBe(settled)
    expect(settled).toBeLessThan(14)
    await th.close()
    await sim.close()
  }, 20_000)
})

describe("the core's limiter, retry and replay safety underneath", () => {
  it("one limiter per instance, shared by its calls: a fourth call waits (and can be aborted)", async () => {
    const sim = await startSimulator({ records: 100, seed: 3, rateLimit: "3/60s" })
    const th = connect(sim, { rateLimit: "3/60s" })
    await Promise.all([th.executions.count(), th.executions.count(), th.executions.page()])
    const waiting = rejection(th.executions.count({}, { signal: AbortSignal.timeout(300) }))
    expect(await waiting).toMatchObject({ name: "TimeoutError" })
    expect(sim.stats().requests).toBe(3)
    expect(sim.stats().rateLimited).toBe(0)
    await th.close()
    await sim.close()
  })

  it("a 429 past the retry budget is a RateLimitedError with Retry-After", async () => {
    const sim = await startSimulator({ records: 100, seed: 4, rateLimit: "1/60s" })
    const th = connect(sim, { maxRetries: 0 })
    await th.executions.count()
    const error = await rejection(th.executions.count())
    expect(error).toBeInstanceOf(RateLimitedError)
    expect(error).toMatchObject({ code: "rate_limited", status: 429 })
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0)
    await th.close()
    await sim.close()
  })

  it("a replay that may have been applied is not sent again", async () => {
    const sim = await startSimulator({ records: 100, seed: 5, replayFault: "apply-then-503" })
    const th = connect(sim)
    const [first] = (await th.executions.page()).records
    if (first === undefined) throw new Error("empty page")
    const error = await rejection(th.executions.replay(first.id))
    expect(error).toBeInstanceOf(ReplayOutcomeUnknownError)
    expect(error).toMatchObject({ code: "replay_outcome_unknown", executionId: first.id, status: 503 })
    expect(sim.stats().replays[first.id]).toBe(1)
    await th.close()
    await sim.close()
  })
})

const redisUrl = process.env.TASKHISTORY_TEST_REDIS_URL
describe.skipIf(redisUrl === undefined)("redisUrl (TASKHISTORY_TEST_REDIS_URL)", () => {
  it("two instances with the same redisUrl share one budget", async () => {
    const sim = await startSimulator({ records: 100, seed: 6, rateLimit: "3/60s" })
    const a = connect(sim, { rateLimit: "3/60s", redisUrl })
    const b = connect(sim, { rateLimit: "3/60s", redisUrl })
    await Promise.all([a.executions.count(), b.executions.count(), a.executions.count()])
    expect(await rejection(b.executions.count({}, { signal: AbortSignal.timeout(500) }))).toMatchObject({
      name: "TimeoutError"
    })
    expect(sim.stats().requests).toBe(3)
    await a.close()
    await b.close()
    await sim.close()
  })

  it("an unreachable Redis is a RateLimiterError that hides the password", async () => {
    const sim = await startSimulator({ records: 10, seed: 6 })
    const th = connect(sim, { redisUrl: "redis://:hunter2@127.0.0.1:1/0" })
    const error = await rejection(th.executions.count())
    expect(error).toBeInstanceOf(RateLimiterError)
    expect(error).toMatchObject({ code: "rate_limiter_unavailable" })
    expect((error as Error).message).not.toContain("hunter2")
    await th.close()
    await sim.close()
  })
})
if (redisUrl === undefined) console.warn("redisUrl tests skipped: set TASKHISTORY_TEST_REDIS_URL")
