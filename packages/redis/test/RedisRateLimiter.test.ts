import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { RateLimiter } from "@taskhistory/core/RateLimiter"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { exitCode, type RateLimiterUnavailable } from "@taskhistory/core/TaskHistoryError"
import { Duration, Effect, Fiber, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import * as RedisRateLimiter from "../src/RedisRateLimiter.js"

const redisUrl = process.env.TASKHISTORY_TEST_REDIS_URL
const worker = fileURLToPath(new URL("./fixtures/worker.mjs", import.meta.url))

interface Span {
  readonly start: number
  readonly end: number
}

/** The most requests whose [start, end] meets one window [t, t + W) (the max is reached at some t = end). */
const maxInAnyWindow = (spans: ReadonlyArray<Span>, windowMs: number): number =>
  spans.reduce(
    (max, j) => Math.max(max, spans.filter((k) => k.end >= j.end && k.start < j.end + windowMs).length),
    0
  )

const uniquePrefix = () => `taskhistory-test:${randomUUID()}`

/** A "request": records when it ran, inside the permit. */
const timed = (holdMs: number) =>
  Effect.gen(function* () {
    const start = Date.now()
    yield* Effect.sleep(Duration.millis(holdMs))
    return { start, end: Date.now() } satisfies Span
  })

const rawClient = Effect.acquireRelease(
  Effect.sync(() => new Redis(redisUrl ?? "")),
  (redis) => Effect.promise(() => redis.quit())
)

/** Runs the worker fixture to its end; resolves its stdout lines. */
const runWorker = (args: ReadonlyArray<string>) =>
  Effect.async<ReadonlyArray<string>, Error>((resume) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.on("close", (code) => {
      resume(
        code === 0
          ? Effect.succeed(out.split("\n").filter((line) => line !== ""))
          : Effect.fail(new Error(`worker exited with ${code}: ${err}`))
      )
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Starts the worker in "hold" mode; resolves once it holds its slot. Killed with the scope. */
const startHolder = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess, Error>((resume) => {
      const child = spawn(process.execPath, [worker, "hold", ...args], { stdio: ["ignore", "pipe", "pipe"] })
      let err = ""
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString()
      })
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("acquired")) resume(Effect.succeed(child))
      })
      child.on("close", (code) => resume(Effect.fail(new Error(`holder exited with ${code}: ${err}`))))
    }),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )

if (redisUrl === undefined || redisUrl === "") {
  describe("RedisRateLimiter", () => {
    it("is skipped: set TASKHISTORY_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run it", () => {
      console.warn("RedisRateLimiter suite skipped: TASKHISTORY_TEST_REDIS_URL is not set")
    })
  })
} else {
  const url = Redacted.make(redisUrl)

  describe.concurrent("RedisRateLimiter", () => {
    it.scopedLive("instances with separate connections never exceed N in any window", () =>
      Effect.gen(function* () {
        const keyPrefix = uniquePrefix()
        const rate = { limit: 20, window: Duration.seconds(1) }
        const limiters = yield* Effect.all(
          [1, 2, 3].map(() => RedisRateLimiter.make({ url, rate, keyPrefix }))
        )
        const spans = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => limiters[i % limiters.length]!.withPermit(timed((i * 13) % 40)),
          { concurrency: "unbounded" }
        )
        expect(spans).toHaveLength(50)
        expect(maxInAnyWindow(spans, 1000)).toBeLessThanOrEqual(20)
        // The budget was used: the requests did not trickle one by one.
        expect(maxInAnyWindow(spans, 1000)).toBe(20)
        expect(yield* limiters[0]!.inWindow).toBeGreaterThan(0)

        // Every key carries a TTL no longer than its content needs.
        const redis = yield* rawClient
        const keys = yield* Effect.promise(() => redis.keys(`{${keyPrefix}}:*`))
        expect(keys.length).toBeGreaterThan(0)
        for (const key of keys) {
          const ttl = yield* Effect.promise(() => redis.pttl(key))
          expect(ttl).toBeGreaterThan(0)
          expect(ttl).toBeLessThanOrEqual(61_000 + 1000)
        }
      })
    )

    it.scopedLive("two child processes and this one share one budget", () =>
      Effect.gen(function* () {
        const keyPrefix = uniquePrefix()
        const limiter = yield* RedisRateLimiter.make({
          url,
          rate: { limit: 10, window: Duration.millis(500) },
          keyPrefix
        })
        const args = [redisUrl, keyPrefix, "12", "10", "500"]
        const [a, b, mine] = yield* Effect.all(
          [
            runWorker(["requests", ...args]),
            runWorker(["requests", ...args]),
            Effect.forEach(
              Array.from({ length: 12 }, (_, i) => i),
              (i) => limiter.withPermit(timed(i % 20)),
              { concurrency: "unbounded" }
            )
          ],
          { concurrency: "unbounded" }
        )
        const spans: Array<Span> = [
          ...[...a, ...b].map((line) => JSON.parse(line) as Span),
          ...(mine as ReadonlyArray<Span>)
        ]
        expect(spans).toHaveLength(36)
        expect(maxInAnyWindow(spans, 500)).toBeLessThanOrEqual(10)
      })
    )

    it.scopedLive("waiters of one process are served first come, first served", () =>
      Effect.gen(function* () {
        const limiter = yield* RedisRateLimiter.make({
          url,
          rate: { limit: 2, window: Duration.millis(100) },
          keyPrefix: uniquePrefix()
        })
        const order: Array<number> = []
        const fibers: Array<Fiber.RuntimeFiber<void, RateLimiterUnavailable>> = []
        for (let i = 0; i < 8; i++) {
          fibers.push(yield* Effect.fork(limiter.withPermit(Effect.sync(() => void order.push(i)))))
          yield* Effect.yieldNow()
        }
        yield* Fiber.joinAll(fibers)
        expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      })
    )

    it.scopedLive("a pause from one instance blocks the others, and is extended, never shortened", () =>
      Effect.gen(function* () {
        const keyPrefix = uniquePrefix()
        const rate = { limit: 100, window: Duration.seconds(1) }
        const a = yield* RedisRateLimiter.make({ url, rate, keyPrefix })
        const b = yield* RedisRateLimiter.make({ url, rate, keyPrefix })
        const before = Date.now()
        yield* a.pause(Duration.millis(700))
        yield* b.pause(Duration.millis(50))
        const span = yield* b.withPermit(timed(0))
        expect(span.start).toBeGreaterThanOrEqual(before + 700)
      })
    )

    it.scopedLive("an interrupted waiter does not take a slot or block those behind it", () =>
      Effect.gen(function* () {
        // W = 1 s: long enough that `behind` is still in the window when it is counted below, even
        // on a loaded machine (with 200 ms its slot could already have left the window).
        const limiter = yield* RedisRateLimiter.make({
          url,
          rate: { limit: 1, window: Duration.seconds(1) },
          keyPrefix: uniquePrefix()
        })
        yield* limiter.withPermit(Effect.void)
        const waiting = yield* Effect.fork(limiter.withPermit(Effect.void))
        yield* Effect.yieldNow()
        const behind = yield* Effect.fork(limiter.withPermit(Effect.succeed("served")))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(waiting)
        expect(yield* Fiber.join(behind)).toBe("served")
        // Only `behind` counts now (the first request left the window before it was served).
        expect(yield* limiter.inWindow).toBe(1)
      })
    )

    it.scopedLive("a slot of a crashed process counts until its lease ends, renewed while it lives", () =>
      Effect.gen(function* () {
        const keyPrefix = uniquePrefix()
        // limit 1, W = 200 ms, requestTimeout = 1.6 s: a lease ends 1.8 s after its last renewal
        // (renewed every 800 ms while the holder lives).
        const holder = yield* startHolder([redisUrl, keyPrefix, "1", "200", "1600"])
        const limiter = yield* RedisRateLimiter.make({
          url,
          rate: { limit: 1, window: Duration.millis(200) },
          keyPrefix,
          requestTimeout: Duration.millis(1600)
        })
        const waiter = yield* Effect.fork(limiter.withPermit(Effect.sync(() => Date.now())))
        // Past one lease: the live holder renews its lease, so the waiter is still waiting.
        yield* Effect.sleep(Duration.millis(2000))
        expect(waiter.unsafePoll()).toBeNull()
        const killedAt = Date.now()
        holder.kill("SIGKILL")
        const servedAt = yield* Fiber.join(waiter)
        expect(servedAt).toBeGreaterThanOrEqual(killedAt)
      })
    )

    it.scopedLive("layerFromConfig shares a budget per project and base URL, keyed without the API key", () =>
      Effect.gen(function* () {
        const apiKey = `key-${randomUUID()}`
        const config = TaskHistoryConfig.layer({
          apiKey,
          projectId: `project-${randomUUID()}`,
          rateLimit: "3/300ms",
          rateLimitRedis: redisUrl
        })
        const spans = yield* RateLimiter.pipe(
          Effect.flatMap((limiter) =>
            Effect.forEach(
              Array.from({ length: 7 }, () => timed(5)),
              (request) => limiter.withPermit(request),
              { concurrency: "unbounded" }
            )
          ),
          Effect.provide(RedisRateLimiter.layerFromConfig.pipe(Layer.provide(config)))
        )
        expect(spans).toHaveLength(7)
        expect(maxInAnyWindow(spans, 300)).toBeLessThanOrEqual(3)
        expect(RedisRateLimiter.keyPrefixFor("p", "https://api.useparagon.com")).not.toEqual(
          RedisRateLimiter.keyPrefixFor("p", "https://zeus.example.com")
        )

        const missing = yield* Layer.build(
          RedisRateLimiter.layerFromConfig.pipe(
            Layer.provide(TaskHistoryConfig.layer({ apiKey, projectId: "p" }))
          )
        ).pipe(Effect.flip)
        expect(missing._tag).toBe("RedisLimiterError")
        expect(missing.message).toContain("PARAGON_RATE_LIMIT_REDIS")
      })
    )

    it.scopedLive("errors never contain the password", () =>
      Effect.gen(function* () {
        const password = `pw-${randomUUID()}`
        const rate = { limit: 1, window: Duration.seconds(1) }
        const attempts = [
          `redis://:${password}@127.0.0.1:1/0`, // refused
          `redis://nobody:${password}@${new URL(redisUrl).host}/0`, // refused credentials
          `redis://:${password}@127.0.0.1:notaport`, // not a URL
          `http://:${password}@127.0.0.1:6379` // not redis
        ]
        const errors = yield* Effect.forEach(attempts, (raw) =>
          Effect.flip(Effect.scoped(RedisRateLimiter.make({ url: Redacted.make(raw), rate })))
        )
        expect(errors.map((e) => e.reason)).toEqual([
          "Unavailable",
          "Unavailable",
          "InvalidUrl",
          "InvalidUrl"
        ])
        for (const error of errors) {
          const shown = [error.message, String(error), JSON.stringify(error), error.stack ?? ""].join("\n")
          expect(shown).not.toContain(password)
        }
        expect(errors[0]!.message).toContain("127.0.0.1:1")
      })
    )
  })

  describe("RedisRateLimiter connection", () => {
    it.scopedLive("keeps working after its Redis connection is dropped", () =>
      Effect.gen(function* () {
        const keyPrefix = uniquePrefix()
        const limiter = yield* RedisRateLimiter.make({
          url,
          rate: { limit: 5, window: Duration.millis(200) },
          keyPrefix
        })
        yield* limiter.withPermit(Effect.void)
        const redis = yield* rawClient
        const clients = yield* Effect.promise(() => redis.client("LIST"))
        const ids = String(clients)
          .split("\n")
          .filter((line) => line.includes(` name=taskhistory-ratelimit:${keyPrefix} `))
          .map((line) => /\bid=(\d+)/.exec(line)?.[1])
        expect(ids).toHaveLength(1)
        yield* Effect.promise(() => redis.client("KILL", "ID", ids[0] ?? ""))
        const spans = yield* Effect.forEach(
          Array.from({ length: 8 }, () => timed(1)),
          (request) => limiter.withPermit(request),
          { concurrency: "unbounded" }
        )
        expect(spans).toHaveLength(8)
        expect(maxInAnyWindow(spans, 200)).toBeLessThanOrEqual(5)
      })
    )

    it.scopedLive(
      "a Redis that keeps failing is a typed RateLimiterUnavailable (not a defect); the request is not run",
      () =>
        Effect.gen(function* () {
          const keyPrefix = uniquePrefix()
          const password = `pw-${randomUUID()}`
          const limiter = yield* RedisRateLimiter.make({
            url,
            rate: { limit: 5, window: Duration.millis(200) },
            keyPrefix
          })
          yield* limiter.withPermit(Effect.void)
          // Every script now fails with WRONGTYPE: the in-flight set is a string.
          const redis = yield* rawClient
          const inflight = `{${keyPrefix}}:inflight`
          yield* Effect.promise(() => redis.set(inflight, password, "PX", 60_000))
          let ran = false
          const [permit, counted] = yield* Effect.all(
            [Effect.flip(limiter.withPermit(Effect.sync(() => (ran = true)))), Effect.flip(limiter.inWindow)],
            { concurrency: "unbounded" }
          )
          expect(ran).toBe(false)
          for (const error of [permit, counted]) {
            expect(error._tag).toBe("RateLimiterUnavailable")
            expect(exitCode(error)).toBe(6)
            expect(error.message).toContain("a Redis command of the shared rate limit failed")
            expect(error.cause).toBeInstanceOf(RedisRateLimiter.RedisLimiterError)
            expect(error.message).not.toContain(password)
          }
          // Once Redis answers again, so does the limiter.
          yield* Effect.promise(() => redis.del(inflight))
          expect(yield* limiter.withPermit(Effect.succeed("sent"))).toBe("sent")
        }),
      20_000
    )
  })
}
