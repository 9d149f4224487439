import { get as httpGet } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { decodeExecution } from "@taskhistory/core/WorkflowExecution"
import { Simulator, startSimulator } from "@taskhistory/simulator"
import { Clock, Effect, Either, Layer, TestClock } from "effect"
import { apiGet, asPage, auth, executionsUrl, type Row, readAll, request } from "./helpers.js"

const NOW = "2026-11-28T12:00:00.000Z"

describe("rate limit", () => {
  it.scoped("never serves more than N in any window, answers 429 with Retry-After in seconds", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 20, now: NOW, rateLimit: "5/10s" })
      const statuses: Array<number> = []
      for (let i = 0; i < 8; i++) statuses.push((yield* apiGet(sim, "")).status)
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
      const limited = yield* apiGet(sim, "")
      expect(limited.status).toBe(429)
      expect(limited.header("retry-after")).toBe("10")
      expect((limited.json as { statusCode: number }).statusCode).toBe(429)
      yield* TestClock.adjust("4 seconds")
      expect((yield* apiGet(sim, "")).header("retry-after")).toBe("6")
      yield* TestClock.adjust("6 seconds")
      for (let i = 0; i < 5; i++) expect((yield* apiGet(sim, "")).status).toBe(200)
      expect((yield* apiGet(sim, "")).status).toBe(429)
      const stats = yield* sim.stats
      expect(stats.maxInWindow).toBe(5)
      expect(stats.windowMs).toBe(10_000)
      expect(stats.rateLimited).toBe(6)
      expect(stats.accepted).toBe(10)
    })
  )

  it.scoped("holds under an irregular schedule (checked against the times of served requests)", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 5,
        now: NOW,
        rateLimit: { limit: 7, window: "3 seconds" }
      })
      const served: Array<number> = []
      let seed = 17
      for (let i = 0; i < 150; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648
        yield* TestClock.adjust(`${seed % 700} millis`)
        const answer = yield* apiGet(sim, "")
        if (answer.status === 200) served.push(yield* Clock.currentTimeMillis)
        else expect(answer.status).toBe(429)
      }
      let worst = 0
      for (let i = 0; i < served.length; i++) {
        let j = i
        while (j < served.length && served[j]! < served[i]! + 3000) j++
        worst = Math.max(worst, j - i)
      }
      expect(worst).toBeLessThanOrEqual(7)
      expect(worst).toBe(7)
      expect((yield* sim.stats).maxInWindow).toBe(7)
    })
  )

  it.scoped("Retry-After as an HTTP date", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-11-28T12:00:00.250Z"))
      const sim = yield* Simulator.start({
        records: 5,
        now: NOW,
        rateLimit: "1/30s",
        retryAfterFormat: "date"
      })
      expect((yield* apiGet(sim, "")).status).toBe(200)
      const limited = yield* apiGet(sim, "")
      expect(limited.status).toBe(429)
      expect(limited.header("retry-after")).toBe("Sat, 28 Nov 2026 12:00:31 GMT")
      yield* sim.configure({ retryAfterFormat: "seconds" })
      expect((yield* apiGet(sim, "")).header("retry-after")).toBe("30")
      yield* sim.configure({ rateLimit: null })
      expect((yield* apiGet(sim, "")).status).toBe(200)
    })
  )
})

describe("hostile-server modes (fault)", () => {
  /** Headers and the first bytes of an answer, without waiting for its end. */
  const head = (url: string, headers: Record<string, string>) =>
    Effect.async<{ status: number; headers: Record<string, string | string[] | undefined>; first: string }>(
      (resume) => {
        const req = httpGet(url, { headers }, (res) => {
          res.once("data", (chunk: Buffer) => {
            resume(
              Effect.succeed({
                status: res.statusCode ?? 0,
                headers: res.headers,
                first: chunk.toString("utf8")
              })
            )
            res.destroy()
          })
        })
        req.on("error", () => undefined)
        return Effect.sync(() => req.destroy())
      }
    )

  it.scopedLive("bodies that never end, are announced huge, stall, or headers that never come", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 150, now: NOW, fault: "endless-body" })
      const endless = yield* head(executionsUrl(sim), auth(sim))
      expect(endless.status).toBe(200)
      expect(endless.headers["content-length"]).toBeUndefined()
      yield* sim.configure({ fault: "huge-page" })
      const huge = yield* head(executionsUrl(sim), auth(sim))
      expect(huge.headers["content-length"]).toBe(String(600 * 1024 * 1024))
      yield* sim.configure({ fault: "stalled-body" })
      const stalled = yield* head(executionsUrl(sim), auth(sim))
      expect(stalled.first).toContain("stalled")
      yield* sim.configure({ fault: "slow-headers" })
      const silent = yield* Effect.either(Effect.timeout(head(executionsUrl(sim), auth(sim)), "300 millis"))
      expect(Either.isLeft(silent)).toBe(true)
      expect((yield* sim.stats).faults.hostile).toBe(4)
      yield* sim.configure({ fault: null })
      expect((yield* apiGet(sim, "")).status).toBe(200)
    })
  )

  it.scoped("paging that goes nowhere: ignore-offset, looping-nextlink, ignore-dates", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 350, now: NOW, fault: ["ignore-offset"] })
      const first = asPage(yield* apiGet(sim, ""))
      const again = asPage(yield* apiGet(sim, "", { offset: "200" }))
      expect(again.records.map((r) => r.id)).toEqual(first.records.map((r) => r.id))
      expect(again.nextLink).toBe(first.nextLink)
      yield* sim.configure({ fault: "looping-nextlink" })
      const second = asPage(yield* apiGet(sim, "", { offset: "100" }))
      expect(new URL(second.nextLink ?? "").searchParams.get("offset")).toBe("0")
      yield* sim.configure({ fault: "ignore-dates" })
      const all = asPage(yield* apiGet(sim, "", { afterDate: "2099-01-01T00:00:00Z" }))
      expect(all.total).toBe(350)
    })
  )

  it.scoped("429s with a Retry-After that is garbage or huge; bodies that echo the key or hold escapes", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 5, now: NOW, fault: "retry-after-garbage" })
      const garbage = yield* apiGet(sim, "")
      expect([garbage.status, garbage.header("retry-after")]).toEqual([429, "soon-ish"])
      yield* sim.configure({ fault: "retry-after-huge" })
      expect((yield* apiGet(sim, "")).header("retry-after")).toBe("999999")
      yield* sim.configure({ fault: "echo-key" })
      const echo = yield* apiGet(sim, "")
      expect(echo.status).toBe(400)
      expect(echo.text).toContain(sim.apiKey)
      yield* sim.configure({ fault: "escape-errors" })
      const escapes = yield* apiGet(sim, "")
      expect(escapes.status).toBe(503)
      expect(escapes.text).toContain("\u001b]0;")
    })
  )

  it.scoped("records with terminal escapes and formulas, and ids '..' and '.'", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 20, now: NOW, fault: ["hostile-records", "dot-ids"] })
      const page = asPage(yield* apiGet(sim, ""))
      expect(page.records.slice(0, 2).map((r) => r.id)).toEqual(["..", "."])
      expect(String(page.records[0]?.workflowId)).toMatch(/^=HYPERLINK/)
      expect(String(page.records[0]?.userId)).toContain("\u001b]0;")
      const bad = yield* Effect.either(sim.configure({ fault: "no-such-mode" as never }))
      expect(Either.isLeft(bad)).toBe(true)
    })
  )
})

describe("faults", () => {
  it.scoped("5xx, HTML pages, resets and failNext", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 150, now: NOW, faults: { errorRate: 1 } })
      const error = yield* apiGet(sim, "")
      expect([500, 502, 503]).toContain(error.status)
      expect(error.header("content-type")).toContain("application/json")
      yield* sim.configure({ faults: { errorRate: 0, htmlRate: 1 } })
      const html = yield* apiGet(sim, "")
      expect(html.status).toBe(502)
      expect(html.header("content-type")).toContain("text/html")
      expect(html.text).toContain("<html>")
      yield* sim.configure({ faults: { htmlRate: 0, resetRate: 1 } })
      const reset = yield* Effect.either(apiGet(sim, ""))
      expect(Either.isLeft(reset)).toBe(true)
      yield* sim.configure({ faults: { resetRate: 0, failNext: 2 } })
      expect((yield* apiGet(sim, "")).status).toBe(503)
      expect((yield* apiGet(sim, "")).status).toBe(503)
      expect((yield* apiGet(sim, "")).status).toBe(200)
      const stats = yield* sim.stats
      expect(stats.faults).toEqual({
        hostile: 0,
        errors: 1,
        resets: 1,
        slow: 0,
        html: 1,
        failNext: 2,
        replay: 0
      })
    })
  )

  it.scoped("fault probabilities are honoured roughly and deterministically per seed", () =>
    Effect.gen(function* () {
      const run = (seed: number) =>
        Effect.gen(function* () {
          const sim = yield* Simulator.start({ records: 10, seed, now: NOW, faults: { errorRate: 0.3 } })
          const statuses: Array<number> = []
          for (let i = 0; i < 100; i++) statuses.push((yield* apiGet(sim, "")).status)
          return statuses
        })
      const a = yield* run(3)
      expect(yield* run(3)).toEqual(a)
      const failures = a.filter((s) => s >= 500).length
      expect(failures).toBeGreaterThan(10)
      expect(failures).toBeLessThan(55)
    })
  )

  it.live("slow answers and latency delay the response (never early)", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 10, now: NOW, latency: { fixedMs: 150 } })
      let t0 = Date.now()
      expect((yield* apiGet(sim, "")).status).toBe(200)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
      yield* sim.configure({ latency: null, faults: { slowRate: 1 }, slowMs: 200 })
      t0 = Date.now()
      expect((yield* apiGet(sim, "")).status).toBe(200)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190)
      yield* sim.configure({ faults: { slowRate: 0 }, latency: { minMs: 100, maxMs: 120 } })
      t0 = Date.now()
      expect((yield* apiGet(sim, "")).status).toBe(200)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(90)
      expect((yield* sim.stats).faults.slow).toBe(1)
    }).pipe(Effect.scoped)
  )

  it.scoped("replay faults: apply then 503, apply then reset, 429 without applying", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 30, now: NOW, replayFault: "apply-then-503" })
      const rows = yield* sim.dataset
      const target = rows[4]!.id as string
      const replay = () =>
        request(executionsUrl(sim, `/${target}/replay`), { method: "POST", headers: auth(sim) })
      expect((yield* replay()).status).toBe(503)
      expect((yield* sim.dataset).length).toBe(31)
      yield* sim.configure({ replayFault: "apply-then-reset" })
      expect(Either.isLeft(yield* Effect.either(replay()))).toBe(true)
      expect((yield* sim.dataset).length).toBe(32)
      yield* sim.configure({ replayFault: "429-no-apply", replayFaultTimes: 1 })
      const limited = yield* replay()
      expect(limited.status).toBe(429)
      expect(limited.header("retry-after")).toBe("1")
      expect((yield* sim.dataset).length).toBe(32)
      expect((yield* replay()).status).toBe(201)
      const stats = yield* sim.stats
      expect(stats.replays[target]).toBe(4)
      expect(stats.replaysApplied).toBe(3)
      expect(stats.faults.replay).toBe(3)
      const replays = (yield* sim.dataset).filter((r) => r.replayOf === target)
      expect(replays.length).toBe(3)
      expect(new Set(replays.map((r) => r.id)).size).toBe(3)
    })
  )
})

describe("churn", () => {
  it.scoped("inserts and expiries per request", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 300,
        now: NOW,
        churn: { insertPerRequest: 3, expirePerRequest: 2 }
      })
      const before = yield* sim.dataset
      const page = asPage(yield* apiGet(sim, ""))
      const after = yield* sim.dataset
      expect(after.length).toBe(301)
      expect(after.slice(0, 2)).not.toContainEqual(before[0])
      expect(after.map((r) => r.id)).not.toContain(before[0]!.id)
      expect(after.map((r) => r.id)).not.toContain(before[1]!.id)
      expect(after.map((r) => r.id)).toContain(before[2]!.id)
      const newIds = after.filter((r) => !before.some((b) => b.id === r.id)).map((r) => r.id)
      expect(newIds.length).toBe(3)
      expect(page.total).toBe(301)
      expect(
        page.records
          .slice(0, 3)
          .map((r) => r.id)
          .sort()
      ).toEqual([...newIds].sort())
      const stats = yield* sim.stats
      expect(stats.inserted).toBe(3)
      expect(stats.expired).toBe(2)
    })
  )

  it.scoped("inserts and expiries per second follow the clock", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({
        records: 100,
        now: NOW,
        churn: { insertPerSecond: 2, expirePerSecond: 0.5 }
      })
      expect(asPage(yield* apiGet(sim, "")).total).toBe(100)
      yield* TestClock.adjust("10 seconds")
      const page = asPage(yield* apiGet(sim, ""))
      expect(page.total).toBe(100 + 20 - 5)
      expect((page.records[0]!.dateStarted as string) <= "2026-11-28T12:00:10.000Z").toBe(true)
      expect((page.records[0]!.dateStarted as string) >= "2026-11-28T11:59:10.000Z").toBe(true)
    })
  )

  it.scoped("offset paging under inserts skips nothing old but repeats records", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 500, now: NOW, churn: { insertPerRequest: 10 } })
      const original = (yield* sim.dataset).map((r) => r.id as string)
      const { ids } = yield* readAll(sim, {})
      expect(new Set(ids).size).toBeLessThan(ids.length)
      for (const id of original) expect(ids).toContain(id)
    })
  )

  it.scoped("late arrivals appear while clients page, with old start dates", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 400, now: NOW, churn: { lateArrivals: 5 } })
      const hidden = yield* sim.hidden
      expect(hidden.length).toBe(5)
      expect((yield* sim.dataset).length).toBe(400)
      for (const r of hidden) {
        expect(["SUCCEEDED", "FAILED"]).toContain(r.status)
        expect(Date.parse(NOW) - Date.parse(r.dateStarted as string)).toBeGreaterThan(2 * 3_600_000)
        expect((yield* apiGet(sim, `/${r.id}`)).status).toBe(404)
      }
      yield* apiGet(sim, "")
      yield* apiGet(sim, "")
      const rows = yield* sim.dataset
      expect(rows.length).toBe(402)
      expect(rows.map((r) => r.id)).toContain(hidden[0]!.id)
      expect(rows.map((r) => r.id)).toContain(hidden[1]!.id)
      const rest = yield* sim.reveal()
      expect(rest.map((r) => r.id)).toEqual(hidden.slice(2).map((r) => r.id))
      expect((yield* sim.dataset).length).toBe(405)
      yield* sim.configure({ churn: { lateArrivals: 3, revealPerRequest: 0 } })
      expect((yield* sim.hidden).length).toBe(3)
      yield* apiGet(sim, "")
      expect((yield* sim.hidden).length).toBe(3)
      expect((yield* sim.stats).revealed).toBe(5)
    })
  )

  it.scoped("many executions sharing one start date page without gaps or repeats", () =>
    Effect.gen(function* () {
      const date = "2026-11-20T10:00:00.000Z"
      const sim = yield* Simulator.start({
        records: 200,
        now: NOW,
        churn: { sameStartDate: { count: 250, date } }
      })
      for (const sortBy of ["ASC", "DESC"]) {
        const { ids } = yield* readAll(sim, { afterDate: date, beforeDate: date, sortBy })
        expect(ids.length).toBe(250)
        expect(new Set(ids).size).toBe(250)
      }
      const all = yield* readAll(sim, {})
      expect(new Set(all.ids).size).toBe(450)
      yield* sim.configure({ churn: { sameStartDate: { count: 10, date } } })
      expect((yield* readAll(sim, { afterDate: date, beforeDate: date })).ids.length).toBe(260)
    })
  )

  it.scoped("insert, expire and setStatus helpers", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 50, now: NOW })
      const added = yield* sim.insert([
        { dateStarted: "2026-11-01T00:00:00Z", status: "FAILED" },
        { status: "EXECUTING" }
      ])
      expect(added.map((r) => r.status)).toEqual(["FAILED", "EXECUTING"])
      expect(added[0]!.dateStarted).toBe("2026-11-01T00:00:00.000Z")
      expect((yield* sim.dataset).length).toBe(52)
      const gone = yield* sim.expire([added[0]!.id as string, "unknown"])
      expect(gone).toEqual([added[0]!.id])
      expect((yield* apiGet(sim, `/${added[0]!.id}`)).status).toBe(404)
      expect(yield* sim.setStatus(added[1]!.id as string, "SUCCEEDED")).toBe(true)
      const done = (yield* apiGet(sim, `/${added[1]!.id}`)).json as Row
      expect(done.status).toBe("SUCCEEDED")
      expect(typeof done.dateEnded).toBe("string")
      expect((yield* sim.expire(10)).length).toBe(10)
      expect((yield* sim.dataset).length).toBe(41)
      const error = yield* Effect.flip(sim.insert([{ dateStarted: "soon" }]))
      expect(error._tag).toBe("InvalidInput")
    })
  )
})

describe("malformed records", () => {
  it.scoped("are served among valid ones, and fail the core's validation", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 120, now: NOW, malformed: 4 })
      const rows = yield* sim.dataset
      const invalid = rows.filter((r) => decodeExecution(r)._tag === "Left")
      expect(invalid.length).toBe(4)
      const served = [
        ...asPage(yield* apiGet(sim, "")).records,
        ...asPage(yield* apiGet(sim, "", { offset: "100" })).records
      ]
      expect(served.length).toBe(120)
      expect(served.filter((r) => decodeExecution(r)._tag === "Left").length).toBe(4)
      yield* sim.configure({ malformed: 0 })
      expect((yield* sim.dataset).filter((r) => decodeExecution(r)._tag === "Left").length).toBe(0)
    })
  )
})

describe("foreign nextLink origin", () => {
  it.scoped("nextLink points at another origin, which records the headers it sees", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 250, now: NOW, nextLinkOrigin: { host: "localhost" } })
      expect(sim.foreignUrl).toBeDefined()
      const page = asPage(yield* apiGet(sim, "", { status: "SUCCEEDED" }))
      const link = new URL(page.nextLink!)
      expect(link.origin).toBe(sim.foreignUrl)
      expect(link.hostname).toBe("localhost")
      expect(link.port).not.toBe(new URL(sim.url).port)
      // A careless client: follows nextLink as is, with its key.
      const followed = yield* request(page.nextLink!.replace("localhost", "127.0.0.1"), {
        headers: { ...auth(sim), "x-probe": "1" }
      })
      expect(followed.status).toBe(200)
      const stats = yield* sim.stats
      expect(stats.foreignRequests).toBe(1)
      expect(stats.foreignHeaders[0]!.authorization).toBe(`Bearer ${sim.apiKey}`)
      expect(stats.foreignHeaders[0]!["x-probe"]).toBe("1")
      const admin = yield* request(`${sim.foreignUrl!.replace("localhost", "127.0.0.1")}/__admin/stats`)
      expect(admin.status).not.toBe(200)
    })
  )
})

describe("admin API", () => {
  it.scoped("stats, dataset as NDJSON, config patches and reset", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 130, now: NOW })
      yield* apiGet(sim, "")
      const stats = yield* request(`${sim.url}/__admin/stats`)
      expect((stats.json as { requests: number }).requests).toBe(1)
      const ndjson = yield* request(`${sim.url}/__admin/dataset`)
      const lines = ndjson.text.trim().split("\n")
      expect(lines.map((l) => JSON.parse(l))).toEqual(yield* sim.dataset)
      const patched = yield* request(`${sim.url}/__admin/config`, {
        method: "POST",
        body: JSON.stringify({ pageShape: "data", rateLimit: "2/1m" })
      })
      expect(patched.status).toBe(200)
      expect((patched.json as { pageShape: string }).pageShape).toBe("data")
      expect(Object.keys((yield* apiGet(sim, "")).json as object)[0]).toBe("data")
      expect((yield* apiGet(sim, "")).status).toBe(200)
      expect((yield* apiGet(sim, "")).status).toBe(429)
      const bad = yield* request(`${sim.url}/__admin/config`, { method: "POST", body: '{"rateLimit":"x"}' })
      expect(bad.status).toBe(400)
      expect((yield* request(`${sim.url}/__admin/config`, { method: "POST", body: "nope" })).status).toBe(400)
      yield* sim.expire(30)
      const reset = yield* request(`${sim.url}/__admin/reset`, { method: "POST" })
      expect(reset.status).toBe(200)
      expect((yield* sim.dataset).length).toBe(130)
      expect((yield* sim.stats).requests).toBe(0)
      expect(Object.keys((yield* apiGet(sim, "")).json as object)[0]).toBe("workflowExecutions")
    })
  )
})

describe("layer", () => {
  it.effect("Simulator.layer provides the handle and closes the server with its scope", () =>
    Effect.gen(function* () {
      const url = yield* Effect.scoped(
        Effect.gen(function* () {
          const sim = yield* Simulator.Simulator
          expect((yield* apiGet(sim, "")).status).toBe(200)
          return sim.url
        }).pipe(Effect.provide(Layer.fresh(Simulator.layer({ records: 10, now: NOW }))))
      )
      const after = yield* Effect.either(request(url))
      expect(Either.isLeft(after)).toBe(true)
    })
  )
})

describe("startSimulator (Promise API)", () => {
  it.live("starts, exposes the same helpers, and closes", () =>
    Effect.gen(function* () {
      const sim = yield* Effect.promise(() =>
        startSimulator({ records: 120, now: NOW, churn: { lateArrivals: 2, revealPerRequest: 0 } })
      )
      expect(sim.dataset().length).toBe(120)
      expect(sim.hidden().length).toBe(2)
      expect(sim.reveal().length).toBe(2)
      expect(sim.insert(3).length).toBe(3)
      expect(sim.expire(5).length).toBe(5)
      expect(sim.setStatus(sim.dataset()[0]!.id as string, "FAILED")).toBe(true)
      const bad = yield* Effect.promise(() =>
        sim.configure({ latency: { minMs: 5, maxMs: 1 } }).then(
          () => "ok",
          (e: Error) => e.message
        )
      )
      expect(bad).toContain("latency")
      const answer = yield* request(executionsUrl(sim), { headers: auth(sim) })
      expect(answer.status).toBe(200)
      expect(sim.stats().requests).toBe(1)
      yield* Effect.promise(() => sim.close())
      expect(Either.isLeft(yield* Effect.either(request(sim.url)))).toBe(true)
      const rejected = yield* Effect.promise(() =>
        startSimulator({ records: -1 }).then(
          () => "started",
          (e: { _tag: string }) => e._tag
        )
      )
      expect(rejected).toBe("InvalidInput")
    })
  )
})
