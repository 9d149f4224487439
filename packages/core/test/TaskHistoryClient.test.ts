import { readFileSync } from "node:fs"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Clock,
  Deferred,
  Duration,
  Effect,
  Fiber,
  Layer,
  Metric,
  Option,
  Stream,
  TestClock
} from "effect"
import * as ExecutionQuery from "../src/ExecutionQuery.js"
import { retrySchedule, withRetry } from "../src/internal/http.js"
import { version } from "../src/internal/version.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as Client from "../src/TaskHistoryClient.js"
import { TaskHistoryClient } from "../src/TaskHistoryClient.js"
import * as TaskHistoryConfig from "../src/TaskHistoryConfig.js"
import {
  RateLimited,
  type RequestError,
  ServerError,
  type TaskHistoryError,
  TransportError
} from "../src/TaskHistoryError.js"
import * as TaskHistoryMetrics from "../src/TaskHistoryMetrics.js"
import { failure } from "./utils/effects.js"
import {
  clientLayer,
  execution,
  type Handler,
  httpClients,
  refusedPort,
  SECRET,
  testServer
} from "./utils/server.js"

const ROOT = "/projects/proj-1/task-history"
const LIST = `${ROOT}/workflow-executions`
const noQuery: ExecutionQuery.ExecutionQuery = {}

type Options = Partial<TaskHistoryConfig.Options>

const run = <A, E>(
  url: string,
  f: (client: Client.TaskHistoryClientShape) => Effect.Effect<A, E>,
  options: Options = {},
  http = httpClients.undici
) => Effect.flatMap(TaskHistoryClient, f).pipe(Effect.provide(Layer.orDie(clientLayer(url, options, http))))

/** Every representation of an error a user could see: none may contain the key. */
const expectNoSecret = (error: TaskHistoryError) => {
  expect(error.message).not.toContain(SECRET)
  expect(String(error)).not.toContain(SECRET)
  expect(JSON.stringify(error)).not.toContain(SECRET)
  expect(Cause.pretty(Cause.fail(error))).not.toContain(SECRET)
}

const records = (n: number, from = 0) => Array.from({ length: n }, (_, i) => execution(`exec-${from + i}`))

interface PagedOptions {
  readonly key?: "data" | "workflowExecutions"
  readonly total?: number | "omit"
  /** Origin written into nextLink (default: this server's own, unknown at build time, so relative). */
  readonly linkOrigin?: string
  /** Extra query parameters written into nextLink. */
  readonly linkParams?: string
  /** Overrides nextLink per offset (`null` ends, `undefined` omits the field). */
  readonly link?: (offset: number) => string | null | undefined
}

/** A paginated listing of `all` (100 per page), shaped as asked. */
const paged =
  (all: ReadonlyArray<object>, options: PagedOptions = {}): Handler =>
  (request) => {
    if (request.path !== LIST) return { status: 404, body: { message: "Not Found" } }
    const offset = Number(request.query.get("offset") ?? "0")
    const items = all.slice(offset, offset + 100)
    const defaultLink =
      offset + 100 < all.length
        ? `${options.linkOrigin ?? ""}${LIST}?${options.linkParams ?? ""}&offset=${offset + 100}`
        : null
    const link = options.link === undefined ? defaultLink : options.link(offset)
    const total = options.total === undefined ? all.length : options.total
    return {
      body: {
        [options.key ?? "data"]: items,
        ...(total === "omit" ? {} : { total }),
        ...(link === undefined ? {} : { nextLink: link })
      }
    }
  }

const ids = (chunk: Chunk.Chunk<{ readonly id: string }>) => Chunk.toReadonlyArray(chunk).map((r) => r.id)

describe("request pipeline", () => {
  it.scopedLive(
    "sends base path, bearer auth, Accept and User-Agent; strips a /projects path from the base URL",
    () =>
      Effect.gen(function* () {
        const server = yield* testServer(() => ({ body: execution("e1", { stepExecutions: [] }) }))
        const detail = yield* run(`${server.url}/projects/proj-1/task-history`, (c) => c.get("e1"))
        expect(detail.id).toBe("e1")
        const [request] = server.requests
        expect(request?.path).toBe(`${LIST}/e1`)
        expect(request?.headers.authorization).toBe(`Bearer ${SECRET}`)
        expect(request?.headers.accept).toBe("application/json")
        expect(request?.headers["user-agent"]).toBe(`taskhistory/${version}`)
      })
  )

  it("the User-Agent version is the package's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    expect(version).toBe(pkg.version)
  })

  it.scopedLive("maps statuses to typed errors and never puts the key in any of them", () =>
    Effect.gen(function* () {
      const echo = (status: number, contentType = "text/plain") => ({
        status,
        headers: { "content-type": contentType },
        body: `error for ${SECRET}`
      })
      const server = yield* testServer((request) => {
        const which = request.path.split("/").at(-1)
        switch (which) {
          case "e401":
            return { status: 401, body: { message: "Unauthorized" } }
          case "e404":
            return { status: 404, body: { message: "Not Found" } }
          case "e400":
            return echo(400)
          case "e429":
            return { status: 429, headers: { "retry-after": "0" }, body: { message: "slow down" } }
          case "e503":
            return echo(503)
          case "html":
            return echo(200, "text/html")
          case "truncated":
            return { status: 200, headers: { "content-type": "application/json" }, body: `{"id": "${SECRET}` }
          case "shape":
            return { status: 200, body: { id: 42, status: "SUCCEEDED", note: SECRET } }
          case "replay":
            return echo(502)
          default:
            return { status: 200, body: {} }
        }
      })
      const options: Options = { retry: { maxRetries: 0 } }
      const expectations: Array<[string, string]> = [
        ["e401", "Unauthorized"],
        ["e404", "NotFound"],
        ["e400", "ClientError"],
        ["e429", "RateLimited"],
        ["e503", "ServerError"],
        ["html", "InvalidResponse"],
        ["truncated", "InvalidResponse"],
        ["shape", "InvalidResponse"]
      ]
      for (const [id, tag] of expectations) {
        const error = yield* failure(run(server.url, (c) => c.get(id), options))
        expect(error._tag).toBe(tag)
        expectNoSecret(error)
      }
      const unauthorized = yield* failure(run(server.url, (c) => c.get("e401"), options))
      expect(unauthorized.message).toContain("PARAGON_API_KEY")
      const notFound = yield* failure(run(server.url, (c) => c.get("e404"), options))
      expect(notFound.message).toContain("execution e404")
      const replay = yield* failure(run(server.url, (c) => c.replay("replay"), options))
      expect(replay._tag).toBe("ReplayOutcomeUnknown")
      expectNoSecret(replay)
      const port = yield* refusedPort
      const refused = yield* failure(run(`http://127.0.0.1:${port}`, (c) => c.get("x"), options))
      expect(refused._tag).toBe("TransportError")
      expectNoSecret(refused)
    })
  )

  for (const [name, http] of Object.entries(httpClients)) {
    describe(`transport errors (${name})`, () => {
      it.live("connection refused", () =>
        Effect.gen(function* () {
          const port = yield* refusedPort
          const error = yield* failure(
            run(`http://127.0.0.1:${port}`, (c) => c.get("x"), { retry: { maxRetries: 0 } }, http)
          )
          expect(error).toMatchObject({ _tag: "TransportError", reason: "ConnectionRefused" })
        })
      )

      it.scopedLive("connection reset", () =>
        Effect.gen(function* () {
          const server = yield* testServer(() => ({ reset: true }))
          const error = yield* failure(run(server.url, (c) => c.get("x"), { retry: { maxRetries: 0 } }, http))
          expect(error).toMatchObject({ _tag: "TransportError", reason: "Reset" })
        })
      )

      it.scopedLive("timeout", () =>
        Effect.gen(function* () {
          const server = yield* testServer(() => ({ hang: true }))
          const error = yield* failure(
            run(
              server.url,
              (c) => c.get("x"),
              { retry: { maxRetries: 0 }, requestTimeout: "200 millis" },
              http
            )
          )
          expect(error).toMatchObject({ _tag: "TransportError", reason: "Timeout" })
          expect(error.message).toContain("timed out")
        })
      )

      it.scopedLive("pages and records decode the same", () =>
        Effect.gen(function* () {
          const server = yield* testServer(paged(records(150)))
          const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery)), {}, http)
          expect(Chunk.size(all)).toBe(150)
        })
      )
    })
  }
})

describe("retry", () => {
  const sequence =
    (...replies: ReadonlyArray<ReturnType<Handler>>): Handler =>
    (_request, index) =>
      replies[Math.min(index, replies.length - 1)] ?? { status: 500 }

  it.scopedLive("GET: 5xx and reset are retried", () =>
    Effect.gen(function* () {
      const server = yield* testServer(
        sequence(
          { status: 503, body: "busy" },
          { reset: true },
          { status: 500, body: "oops" },
          { body: execution("e1") }
        )
      )
      const before = yield* Metric.value(TaskHistoryMetrics.retries)
      const detail = yield* run(server.url, (c) => c.get("e1"))
      expect(detail.id).toBe("e1")
      expect(server.requests).toHaveLength(4)
      const after = yield* Metric.value(TaskHistoryMetrics.retries)
      expect(after.count - before.count).toBe(3)
    })
  )

  it.scopedLive("GET: gives up after maxRetries with the last error", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 503, body: "busy" }))
      const error = yield* failure(run(server.url, (c) => c.get("e1"), { retry: { maxRetries: 2 } }))
      expect(error).toMatchObject({ _tag: "ServerError", status: 503 })
      expect(server.requests).toHaveLength(3)
    })
  )

  for (const [status, tag] of [
    [404, "NotFound"],
    [401, "Unauthorized"],
    [400, "ClientError"],
    [403, "ClientError"]
  ] as const) {
    it.scopedLive(`GET: ${status} is not retried`, () =>
      Effect.gen(function* () {
        const server = yield* testServer(() => ({ status, body: { message: "no" } }))
        const error = yield* failure(run(server.url, (c) => c.get("e1")))
        expect(error._tag).toBe(tag)
        expect(server.requests).toHaveLength(1)
      })
    )
  }

  it.scopedLive("GET: an undecodable body is not retried", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 200, body: "{" }))
      const error = yield* failure(run(server.url, (c) => c.get("e1")))
      expect(error).toMatchObject({ _tag: "InvalidResponse", reason: "NotJson" })
      expect(server.requests).toHaveLength(1)
    })
  )

  it.scopedLive("replay: 201 with the new execution", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({
        status: 201,
        body: execution("new-1", { status: "EXECUTING" })
      }))
      const created = yield* run(server.url, (c) => c.replay("e1"))
      expect(created).toMatchObject({ id: "new-1", status: "EXECUTING" })
      expect(server.requests.map((r) => [r.method, r.path])).toEqual([["POST", `${LIST}/e1/replay`]])
    })
  )

  for (const [name, reply] of [
    ["a 503", { status: 503, body: "busy" }],
    ["a reset", { reset: true }],
    ["an undecodable body", { status: 201, body: "<html><body>gateway</body></html>" }]
  ] as const) {
    it.scopedLive(`replay after ${name} is NOT re-sent: outcome unknown`, () =>
      Effect.gen(function* () {
        const server = yield* testServer(sequence(reply, { status: 201, body: execution("new-1") }))
        const error = yield* failure(run(server.url, (c) => c.replay("e1")))
        expect(error._tag).toBe("ReplayOutcomeUnknown")
        expect(error.message).toContain("e1")
        expect(error.message).toContain("not re-sent")
        expect(server.requests).toHaveLength(1)
      })
    )
  }

  it.scopedLive("replay after a timeout is NOT re-sent", () =>
    Effect.gen(function* () {
      const server = yield* testServer(sequence({ hang: true }, { status: 201, body: execution("new-1") }))
      const error = yield* failure(run(server.url, (c) => c.replay("e1"), { requestTimeout: "200 millis" }))
      expect(error).toMatchObject({ _tag: "ReplayOutcomeUnknown", cause: { reason: "Timeout" } })
      expect(server.requests).toHaveLength(1)
    })
  )

  it.scopedLive("replay after a 429 is re-sent", () =>
    Effect.gen(function* () {
      const server = yield* testServer(
        sequence(
          { status: 429, headers: { "retry-after": "0" }, body: {} },
          { status: 201, body: execution("new-1") }
        )
      )
      const created = yield* run(server.url, (c) => c.replay("e1"))
      expect(created.id).toBe("new-1")
      expect(server.requests).toHaveLength(2)
    })
  )

  it.scopedLive("replay after a refused connection is re-sent", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 201, body: execution("new-1") }))
      const port = yield* refusedPort
      // The first attempt goes to a port where nothing listens, the next ones to the server.
      let attempts = 0
      const redirecting = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.transform(client, (response, request) => {
            attempts++
            return attempts === 1
              ? client.execute(
                  HttpClientRequest.setUrl(
                    request,
                    request.url.replace(server.url, `http://127.0.0.1:${port}`)
                  )
                )
              : response
          })
        )
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const created = yield* run(server.url, (c) => c.replay("e1"), {}, redirecting)
      expect(created.id).toBe("new-1")
      expect(attempts).toBe(2)
      expect(server.requests).toHaveLength(1)
    })
  )

  it.live("replay refused every time fails with the transport error (it never reached the server)", () =>
    Effect.gen(function* () {
      const port = yield* refusedPort
      const error = yield* failure(
        run(`http://127.0.0.1:${port}`, (c) => c.replay("e1"), { retry: { maxRetries: 2 } })
      )
      expect(error).toMatchObject({ _tag: "TransportError", reason: "ConnectionRefused" })
    })
  )
})

describe("retry schedule (TestClock)", () => {
  const attemptTimes = (options: TaskHistoryConfig.RetryOptions) =>
    Effect.gen(function* () {
      const times: Array<number> = []
      const failing = Effect.flatMap(Clock.currentTimeMillis, (t) => {
        times.push(t)
        return Effect.fail("boom")
      })
      const fiber = yield* Effect.fork(Effect.either(Effect.retry(failing, retrySchedule(options))))
      for (let i = 0; i < 1000 && Option.isNone(yield* Fiber.poll(fiber)); i++)
        yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      return times.slice(1).map((t, i) => t - (times[i] ?? 0))
    })

  it.effect("exponential from base with jitter, capped, at most maxRetries", () =>
    Effect.gen(function* () {
      const delays = yield* attemptTimes({
        maxRetries: 6,
        base: Duration.seconds(1),
        cap: Duration.seconds(5),
        maxElapsed: Duration.hours(1),
        connectElapsed: Duration.hours(1),
        maxRetryAfter: Duration.hours(1)
      })
      expect(delays).toHaveLength(6)
      const [d0 = 0, d1 = 0, d2 = 0] = delays
      expect(d0).toBeGreaterThanOrEqual(800)
      expect(d0).toBeLessThanOrEqual(1200)
      expect(d1).toBeGreaterThanOrEqual(1600)
      expect(d1).toBeLessThanOrEqual(2400)
      expect(d2).toBeGreaterThanOrEqual(3200)
      expect(d2).toBeLessThanOrEqual(4800)
      expect(delays.slice(3)).toEqual([5000, 5000, 5000])
    })
  )

  /** The attempt times of `withRetry` over an attempt that always fails with `error`. */
  const budgetTimes = (options: Partial<TaskHistoryConfig.RetryOptions>, error: TaskHistoryError) =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.makeMemory({ limit: 1000, window: Duration.seconds(1) })
      const times: Array<number> = []
      const reported: Array<TaskHistoryConfig.RetryEvent> = []
      const failing = Effect.flatMap(Clock.currentTimeMillis, (t) => {
        times.push(t)
        return Effect.fail(error as RequestError)
      })
      const fiber = yield* Effect.fork(
        Effect.flip(
          withRetry(
            failing,
            limiter,
            { ...TaskHistoryConfig.defaultRetry, ...options },
            (e) => e._tag !== "RateLimiterUnavailable",
            (event) => Effect.sync(() => reported.push(event))
          )
        )
      )
      for (let i = 0; i < 4000 && Option.isNone(yield* Fiber.poll(fiber)); i++)
        yield* TestClock.adjust(i < 200 ? "100 millis" : "5 seconds")
      return { times, reported, error: yield* Fiber.join(fiber) }
    })

  it.effect("no retry starts once maxElapsed has passed", () =>
    Effect.gen(function* () {
      const { times, reported } = yield* budgetTimes(
        {
          maxRetries: 1000,
          base: Duration.seconds(1),
          cap: Duration.seconds(1),
          maxElapsed: Duration.seconds(10)
        },
        new ServerError({ status: 503 })
      )
      expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(10_000)
      expect(times.length).toBeGreaterThan(5)
      expect(times.length).toBeLessThan(15)
      expect(reported).toHaveLength(times.length - 1)
      expect(reported[0]).toMatchObject({ attempt: 1, maxAttempts: 1001 })
    })
  )

  it.effect("a server that cannot be reached is given up within connectElapsed, attempts said", () =>
    Effect.gen(function* () {
      const refused = new TransportError({
        reason: "ConnectionRefused",
        request: { method: "GET", url: "http://127.0.0.1:9/x" }
      })
      const { times, error } = yield* budgetTimes({}, refused)
      // the defaults: base 500 ms doubling, connectElapsed 15 s
      expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(15_000)
      expect(times.length).toBeGreaterThanOrEqual(4)
      expect(error).toMatchObject({
        _tag: "TransportError",
        reason: "ConnectionRefused",
        attempts: times.length
      })
      expect(error.message).toContain(`gave up after ${times.length} attempts`)
      expect(error.message).toContain("to http://127.0.0.1:9")
    })
  )

  it.effect("maxElapsed does not count the waits 429s asked for", () =>
    Effect.gen(function* () {
      const limited = new RateLimited({ retryAfter: Duration.seconds(30) })
      const { times } = yield* budgetTimes({ maxRetries: 5, maxElapsed: Duration.seconds(10) }, limited)
      expect(times).toHaveLength(6)
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(5 * 30_000)
    })
  )
})

describe("429 and Retry-After (TestClock)", () => {
  /** A limiter that reports each pause, so the test knows when the client has seen the 429. */
  const spied = Effect.gen(function* () {
    const limiter = yield* RateLimiter.makeMemory({ limit: 100, window: Duration.seconds(1) })
    const paused = yield* Deferred.make<Duration.Duration>()
    const shape: RateLimiter.RateLimiterShape = {
      ...limiter,
      pause: (d) => Effect.zipRight(limiter.pause(d), Deferred.succeed(paused, d))
    }
    return { limiter: shape, paused }
  })

  const clientWith = (url: string, limiter: RateLimiter.RateLimiterShape) =>
    Client.layer.pipe(
      Layer.provide(Layer.succeed(RateLimiter.RateLimiter, limiter)),
      Layer.provide(
        TaskHistoryConfig.layer({
          apiKey: SECRET,
          projectId: "proj-1",
          baseUrl: url,
          retry: { base: Duration.millis(1), cap: Duration.millis(2), maxRetries: 3 }
        })
      ),
      Layer.provide(NodeHttpClient.layerUndici),
      Layer.orDie
    )

  const pausesEveryone = (retryAfter: (now: number) => string) =>
    Effect.gen(function* () {
      const t0 = Date.parse("2030-01-01T00:00:00Z")
      yield* TestClock.setTime(t0)
      const server = yield* testServer((_r, index) =>
        index === 0
          ? {
              status: 429,
              headers: { "retry-after": retryAfter(t0) },
              body: { message: "Too Many Requests" }
            }
          : { body: { data: [execution("e1")], total: 1, nextLink: null } }
      )
      const { limiter, paused } = yield* spied
      const reader = yield* Effect.fork(
        Effect.flatMap(TaskHistoryClient, (c) => c.listPage(noQuery)).pipe(
          Effect.provide(clientWith(server.url, limiter))
        )
      )
      expect(Duration.toMillis(yield* Deferred.await(paused))).toBe(5000)
      // Another caller of the same limiter is held too.
      const other = yield* Effect.fork(limiter.withPermit(Effect.succeed("other")))
      yield* TestClock.adjust("4999 millis")
      expect(Option.isNone(yield* Fiber.poll(other))).toBe(true)
      expect(server.requests).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(other)).toBe("other")
      // Let the reader's own backoff (1-2 ms) pass too, wherever it registered its sleep.
      yield* TestClock.adjust("1 second")
      const page = yield* Fiber.join(reader)
      expect(page.records.map((r) => r.id)).toEqual(["e1"])
      expect(server.requests).toHaveLength(2)
    })

  it.scoped("Retry-After in seconds pauses every caller", () => pausesEveryone(() => "5"))
  it.scoped("Retry-After as an HTTP date pauses every caller", () =>
    pausesEveryone((t0) => new Date(t0 + 5000).toUTCString())
  )

  it.scoped("a Retry-After date in the past means now; without Retry-After the error has no wait", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2030-01-01T00:00:00Z"))
      const server = yield* testServer((request) =>
        request.path.endsWith("past")
          ? { status: 429, headers: { "retry-after": "Tue, 01 Jan 2019 00:00:00 GMT" }, body: {} }
          : { status: 429, body: {} }
      )
      const past = yield* failure(run(server.url, (c) => c.get("past"), { retry: { maxRetries: 0 } }))
      expect(past).toMatchObject({ _tag: "RateLimited", retryAfter: Duration.zero })
      const none = yield* failure(run(server.url, (c) => c.get("none"), { retry: { maxRetries: 0 } }))
      expect(none).toMatchObject({ _tag: "RateLimited", retryAfter: undefined })
    })
  )
})

describe("pagination", () => {
  it.scopedLive("`data` pages with total, nextLink on another origin: the other origin gets nothing", () =>
    Effect.gen(function* () {
      const other = yield* testServer(() => ({ status: 500, body: "should not be called" }))
      const server = yield* testServer(paged(records(250), { linkOrigin: other.url }))
      for (const concurrency of [1, 4]) {
        const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery, { concurrency })))
        expect(ids(all)).toEqual(records(250).map((r) => r.id))
      }
      expect(other.requests).toHaveLength(0)
      expect(server.requests.map((r) => r.query.get("offset"))).toEqual([
        null,
        "100",
        "200",
        null,
        "100",
        "200"
      ])
      for (const r of server.requests) expect(r.headers.authorization).toBe(`Bearer ${SECRET}`)
    })
  )

  it.scopedLive("`workflowExecutions` pages without total; nextLink with another sortBy keeps ours", () =>
    Effect.gen(function* () {
      const server = yield* testServer(
        paged(records(230), {
          key: "workflowExecutions",
          total: "omit",
          linkOrigin: "https://zeus.useparagon.com",
          linkParams: "sortBy=ASC&status=FAILED&limit=7"
        })
      )
      const query = ExecutionQuery.make({ sortBy: "desc", integration: "slack" })
      if (query._tag === "Left") return yield* Effect.die(query.left)
      const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(query.right)))
      expect(Chunk.size(all)).toBe(230)
      expect(server.requests).toHaveLength(3)
      for (const r of server.requests) {
        expect(r.query.get("sortBy")).toBe("DESC")
        expect(r.query.get("integration")).toBe("slack")
        expect(r.query.get("status")).toBeNull()
        expect(r.query.get("limit")).toBeNull()
      }
    })
  )

  it.scopedLive("a nextLink that repeats an offset or goes back fails with NoProgress, at once", () =>
    Effect.gen(function* () {
      for (const link of [
        () => `${LIST}?offset=100`,
        (offset: number) => `${LIST}?offset=${Math.max(0, offset - 50)}`
      ]) {
        const server = yield* testServer(paged(records(300), { total: "omit", link }))
        const error = yield* failure(run(server.url, (c) => Stream.runCollect(c.pages(noQuery))))
        expect(error).toMatchObject({ _tag: "NoProgress", reason: "LinkNotAdvancing" })
        expect(server.requests.length).toBeLessThanOrEqual(2)
      }
    })
  )

  it.scopedLive("a server that ignores offset is stopped after a handful of wasted requests", () =>
    Effect.gen(function* () {
      const first = records(100)
      for (const concurrency of [1, 4]) {
        const server = yield* testServer((request) => ({
          // the same page whatever the offset, with a link that moves on
          body: {
            workflowExecutions: first,
            total: 5000,
            nextLink: `${LIST}?offset=${Number(request.query.get("offset") ?? "0") + 100}`
          }
        }))
        const error = yield* failure(
          run(server.url, (c) => Stream.runDrain(c.executions(noQuery, { concurrency })))
        )
        expect(error).toMatchObject({ _tag: "NoProgress", reason: "SamePage", wasted: 3 })
        expect(error.message).toContain("ignore offset")
        expect(server.requests.length).toBeLessThanOrEqual(1 + 3 + concurrency)
      }
    })
  )

  it.scopedLive("two pages served in turn at advancing offsets are wasted requests too", () =>
    Effect.gen(function* () {
      const a = records(100)
      const b = records(100, 100)
      const server = yield* testServer((request) => {
        const offset = Number(request.query.get("offset") ?? "0")
        return {
          body: {
            workflowExecutions: (offset / 100) % 2 === 0 ? a : b,
            nextLink: `${LIST}?offset=${offset + 100}`
          }
        }
      })
      const error = yield* failure(run(server.url, (c) => Stream.runDrain(c.pages(noQuery))))
      expect(error).toMatchObject({ _tag: "NoProgress", reason: "SamePage" })
      expect(server.requests.length).toBeLessThanOrEqual(5)
    })
  )

  it.scopedLive("far more records than the total announced fail with PastTotal", () =>
    Effect.gen(function* () {
      const server = yield* testServer((request) => {
        const offset = Number(request.query.get("offset") ?? "0")
        return {
          body: {
            workflowExecutions: records(100, offset),
            total: 50,
            nextLink: `${LIST}?offset=${offset + 100}`
          }
        }
      })
      const error = yield* failure(
        run(server.url, (c) => Stream.runDrain(c.pages(noQuery, { concurrency: 1 })))
      )
      expect(error).toMatchObject({ _tag: "NoProgress", reason: "PastTotal" })
      expect(server.requests.length).toBeLessThanOrEqual(12)
    })
  )

  it.scopedLive("stops on an empty page, also when fetching concurrently with an overstated total", () =>
    Effect.gen(function* () {
      for (const concurrency of [1, 3]) {
        const server = yield* testServer(
          paged(records(250), { total: 1000, link: (offset) => `${LIST}?offset=${offset + 100}` })
        )
        const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery, { concurrency })))
        expect(ids(all)).toEqual(records(250).map((r) => r.id))
      }
    })
  )

  it.scopedLive("an understated total: concurrent pages up to total, then the links onwards", () =>
    Effect.gen(function* () {
      const server = yield* testServer(paged(records(450), { total: 220 }))
      const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery, { concurrency: 3 })))
      expect(ids(all)).toEqual(records(450).map((r) => r.id))
      expect(server.requests).toHaveLength(5)
    })
  )

  it.scopedLive("stops on a null or absent nextLink", () =>
    Effect.gen(function* () {
      for (const end of [null, undefined]) {
        const server = yield* testServer(
          paged(records(300), {
            total: "omit",
            link: (offset) => (offset === 100 ? end : `${LIST}?offset=${offset + 100}`)
          })
        )
        const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery)))
        expect(Chunk.size(all)).toBe(200)
        expect(server.requests).toHaveLength(2)
      }
    })
  )

  it.scopedLive("de-duplicates by id unless asked not to; limit stops early", () =>
    Effect.gen(function* () {
      // Page 2 repeats the last 10 records of page 1 (as offsets shift when executions are added).
      const data = [...records(100), ...records(10, 90), ...records(40, 100)]
      const server = yield* testServer(paged(data))
      const deduped = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery)))
      expect(Chunk.size(deduped)).toBe(140)
      expect(new Set(ids(deduped)).size).toBe(140)
      const raw = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery, { dedupe: false })))
      expect(Chunk.size(raw)).toBe(150)
      const limited = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery, { limit: 5 })))
      expect(ids(limited)).toEqual(["exec-0", "exec-1", "exec-2", "exec-3", "exec-4"])
    })
  )

  it.scopedLive("invalid records: fail with the position, or skip", () =>
    Effect.gen(function* () {
      const data = [
        ...records(100),
        execution("e-ok"),
        { id: "bad", status: "FAILED", dateStarted: 12 },
        execution("e-2")
      ]
      const server = yield* testServer(paged(data))
      const seen: Array<string> = []
      const error = yield* failure(
        run(server.url, (c) =>
          Stream.runForEach(c.executions(noQuery), (r) => Effect.sync(() => seen.push(r.id)))
        )
      )
      expect(error).toMatchObject({ _tag: "InvalidRecord", position: 101 })
      expect(error.message).toContain("dateStarted")
      expect(seen.at(-1)).toBe("e-ok")
      const skipped = yield* run(server.url, (c) =>
        Stream.runCollect(c.executions(noQuery, { onInvalid: "skip" }))
      )
      expect(Chunk.size(skipped)).toBe(102)
    })
  )

  it.scopedLive("count: from total in one request, else by paging distinct ids", () =>
    Effect.gen(function* () {
      const withTotal = yield* testServer(paged(records(250), { total: 14295 }))
      expect(yield* run(withTotal.url, (c) => c.count(noQuery))).toBe(14295)
      expect(withTotal.requests).toHaveLength(1)
      const without = yield* testServer(paged([...records(100), ...records(10, 95)], { total: "omit" }))
      expect(yield* run(without.url, (c) => c.count(noQuery))).toBe(105)
      expect(without.requests).toHaveLength(2)
    })
  )

  it.scopedLive("costPlan: one request, ceil(total/100) requests, duration from the rate limit", () =>
    Effect.gen(function* () {
      const server = yield* testServer(paged(records(10), { total: 8_001 }))
      const plan = yield* run(server.url, (c) => c.costPlan(noQuery), {
        rateLimit: "40/4s",
        pageConcurrency: 1
      })
      expect(server.requests).toHaveLength(1)
      expect(plan.total).toBe(8_001)
      expect(plan.requests).toBe(81)
      // floor(80 / 40) * 4 s + 81 * 250 ms
      expect(Duration.toMillis(plan.estimatedDuration)).toBe(2 * 4000 + 81 * 250)
      const empty = yield* testServer(paged([], { total: 0 }))
      const none = yield* run(empty.url, (c) => c.costPlan(noQuery))
      expect(none.requests).toBe(1)
    })
  )

  it.scopedLive(
    "costPlan with steps: the failed executions asked for once, one step request each plus its output",
    () =>
      Effect.gen(function* () {
        // The test server serves the same page whatever the status: 300 "failed" out of 300.
        const server = yield* testServer(paged(records(10), { total: 300 }))
        const failed = yield* run(server.url, (c) => c.costPlan(noQuery, { steps: "failed" }), {
          rateLimit: "40/4s",
          pageConcurrency: 1
        })
        expect(server.requests.map((r) => r.query.get("status") ?? null)).toEqual([null, "FAILED"])
        expect(failed.listRequests).toBe(3)
        expect(failed.steps).toEqual({
          scope: "failed",
          executions: 300,
          failed: 300,
          requests: 600,
          estimate: true
        })
        expect(failed.requests).toBe(603)
        // floor(602 / 40) * 4 s + 603 * 250 ms: the step requests wait for the budget too.
        expect(Duration.toMillis(failed.estimatedDuration)).toBe(15 * 4000 + 603 * 250)
        const all = yield* run(server.url, (c) => c.costPlan(noQuery, { steps: "all" }))
        expect(all.steps).toEqual({
          scope: "all",
          executions: 300,
          failed: 300,
          requests: 600,
          estimate: true
        })
        // A query that fixes the status needs no second request.
        const before = server.requests.length
        const succeeded = yield* run(server.url, (c) =>
          c.costPlan({ ...noQuery, status: "SUCCEEDED" }, { steps: "all" })
        )
        expect(server.requests.length - before).toBe(1)
        expect(succeeded.steps).toEqual({
          scope: "all",
          executions: 300,
          failed: 0,
          requests: 300,
          estimate: true
        })
        const none = yield* run(server.url, (c) => c.costPlan(noQuery))
        expect(none.steps).toBeUndefined()
        expect(none.requests).toBe(none.listRequests)
      })
  )

  it.scopedLive("costPlan's first page starts the read: the same records, page 0 not asked for again", () =>
    Effect.gen(function* () {
      const server = yield* testServer(paged(records(250), { total: 250 }))
      const [plan, all] = yield* run(server.url, (c) =>
        Effect.flatMap(c.costPlan(noQuery), (p) =>
          Effect.map(
            Stream.runCollect(c.executions(noQuery, { firstPage: p.firstPage })),
            (a) => [p, a] as const
          )
        )
      )
      expect(plan.firstPage.offset).toBe(0)
      expect(Chunk.toReadonlyArray(all).map((e) => e.id)).toEqual(records(250).map((e) => e.id))
      // one for the plan (page 0), then pages 100 and 200 only
      expect(server.requests.map((r) => r.query.get("offset") ?? "0").sort()).toEqual(["0", "100", "200"])
    })
  )

  it.scopedLive("an empty first page yields nothing", () =>
    Effect.gen(function* () {
      const server = yield* testServer(paged([], { link: () => `${LIST}?offset=100` }))
      const all = yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery)))
      expect(Chunk.size(all)).toBe(0)
      expect(server.requests).toHaveLength(1)
    })
  )
})

describe("decoding", () => {
  it.scopedLive("records keep unknown fields and key order; unknown statuses are kept", () =>
    Effect.gen(function* () {
      const sent = {
        zeta: 1,
        id: "e1",
        status: "PAUSED_BY_ADMIN",
        nested: { b: 2, a: 1 },
        dateStarted: "2023-02-20T06:21:42.274Z",
        alpha: null
      }
      const server = yield* testServer(() => ({ body: { workflowExecutions: [sent], nextLink: null } }))
      const [record] = Chunk.toReadonlyArray(
        yield* run(server.url, (c) => Stream.runCollect(c.executions(noQuery)))
      )
      expect(JSON.stringify(record)).toBe(JSON.stringify(sent))
      expect(record?.status).toBe("PAUSED_BY_ADMIN")
    })
  )

  it.scopedLive("get and step decode the documented shapes", () =>
    Effect.gen(function* () {
      const server = yield* testServer((request) =>
        request.path.includes("step-executions")
          ? { body: { id: "s1", input: { a: 1 }, output: null, isLargeInput: false, isLargeOutput: true } }
          : { body: execution("e1", { stepExecutions: [{ id: "s1", status: "SUCCEEDED" }] }) }
      )
      const detail = yield* run(server.url, (c) => c.get("e1"))
      expect(detail.stepExecutions.map((s) => s.id)).toEqual(["s1"])
      const step = yield* run(server.url, (c) => c.step("e1", "s1"))
      expect(step).toMatchObject({ id: "s1", isLargeOutput: true })
      expect(server.requests.at(-1)?.path).toBe(`${LIST}/e1/step-executions/s1`)
    })
  )

  it.scopedLive(
    "HTML, truncated JSON and wrong types are InvalidResponse naming the field with an excerpt",
    () =>
      Effect.gen(function* () {
        const server = yield* testServer((request) => {
          switch (request.query.get("integration")) {
            case "html":
              return {
                status: 200,
                headers: { "content-type": "text/html" },
                body: "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
              }
            case "truncated":
              return {
                status: 200,
                headers: { "content-type": "application/json" },
                body: '{"data": [{"id": "e1", "sta'
              }
            case "data":
              return { body: { data: "nope", total: 3 } }
            case "total":
              return { body: { data: [], total: "12" } }
            case "neither":
              return { body: { items: [] } }
            default:
              return { body: { data: [execution("e1")] } }
          }
        })
        const page = (integration: string) =>
          failure(run(server.url, (c) => c.listPage({ integration }), { retry: { maxRetries: 0 } }))
        const html = yield* page("html")
        expect(html).toMatchObject({ _tag: "InvalidResponse", reason: "Html" })
        expect(html.message).toContain("502 Bad Gateway")
        const truncated = yield* page("truncated")
        expect(truncated).toMatchObject({ _tag: "InvalidResponse", reason: "NotJson" })
        expect(truncated.message).toContain('{"data": [{"id": "e1", "sta')
        const data = yield* page("data")
        expect(data).toMatchObject({ _tag: "InvalidResponse", reason: "Shape", path: "data" })
        expect(data.message).toContain("at data")
        expect(data.message).toContain('"nope"')
        const total = yield* page("total")
        expect(total).toMatchObject({ _tag: "InvalidResponse", reason: "Shape", path: "total" })
        const neither = yield* page("neither")
        expect(neither.message).toContain("workflowExecutions")
        const shape = yield* failure(
          Effect.gen(function* () {
            const s = yield* testServer(() => ({
              body: { id: "e1", status: "FAILED", dateStarted: "x", stepExecutions: [{ id: 3 }] }
            }))
            return yield* run(s.url, (c) => c.get("e1"))
          })
        )
        expect(shape).toMatchObject({ _tag: "InvalidResponse", reason: "Shape" })
        expect(shape.message).toMatch(/at (dateStarted|stepExecutions\[0\]\.id)/)
      })
  )
})
