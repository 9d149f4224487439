/**
 * The client against hostile servers and odd inputs: bounded time and memory, the right typed
 * error, nothing sent that should not be, no secret in any message.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Layer, Redacted } from "effect"
import type * as Client from "../src/TaskHistoryClient.js"
import { TaskHistoryClient } from "../src/TaskHistoryClient.js"
import * as TaskHistoryConfig from "../src/TaskHistoryConfig.js"
import {
  escapeControls,
  excerpt,
  exitCode,
  isPermanent,
  type TaskHistoryError
} from "../src/TaskHistoryError.js"
import { idProblem, idSegment } from "../src/WorkflowExecution.js"
import { failure } from "./utils/effects.js"
import { clientLayer, execution, httpClients, SECRET, testServer } from "./utils/server.js"

const ROOT = "/projects/proj-1/task-history"

const run = <A, E>(
  url: string,
  f: (client: Client.TaskHistoryClientShape) => Effect.Effect<A, E>,
  options: Partial<TaskHistoryConfig.Options> = {},
  http = httpClients.lean
) => Effect.flatMap(TaskHistoryClient, f).pipe(Effect.provide(Layer.orDie(clientLayer(url, options, http))))

const expectNoSecret = (error: TaskHistoryError) => {
  expect(error.message).not.toContain(SECRET)
  expect(JSON.stringify(error)).not.toContain(SECRET)
  expect(Cause.pretty(Cause.fail(error))).not.toContain(SECRET)
}

describe("Retry-After beyond the cap, or unreadable", () => {
  it.scopedLive("999999 seconds: RateLimited WaitTooLong at once (exit 5), quoting the header", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({
        status: 429,
        headers: { "retry-after": "999999" },
        body: {}
      }))
      const error = yield* failure(run(server.url, (c) => c.listPage({})))
      expect(error).toMatchObject({ _tag: "RateLimited", reason: "WaitTooLong", header: "999999" })
      expect(error.message).toContain('Retry-After: "999999"')
      expect(error.message).toContain("--wait")
      expect(exitCode(error)).toBe(5)
      expect(server.requests).toHaveLength(1)
    })
  )

  it.scopedLive("an unreadable Retry-After: RateLimited BadRetryAfter at once, the header quoted", () =>
    Effect.gen(function* () {
      for (const header of ["soon-ish", "-5", "1e9", "Tomorrow", "Fri, 99 Foo 2026"]) {
        const server = yield* testServer(() => ({
          status: 429,
          headers: { "retry-after": header },
          body: {}
        }))
        const error = yield* failure(run(server.url, (c) => c.listPage({})))
        expect(error).toMatchObject({ _tag: "RateLimited", reason: "BadRetryAfter" })
        expect(error.message).toContain(`Retry-After: ${JSON.stringify(header)}`)
        expect(server.requests).toHaveLength(1)
      }
    })
  )

  it.scopedLive("a longer maxRetryAfter (--wait) lets the client wait", () =>
    Effect.gen(function* () {
      const server = yield* testServer((_r, index) =>
        index === 0
          ? { status: 429, headers: { "retry-after": "1" }, body: {} }
          : { body: { workflowExecutions: [execution("a")], nextLink: null } }
      )
      const refused = yield* failure(
        run(server.url, (c) => c.listPage({}), { retry: { maxRetryAfter: Duration.millis(500) } })
      )
      expect(refused).toMatchObject({ _tag: "RateLimited", reason: "WaitTooLong" })
      const page = yield* run(server.url, (c) => c.listPage({}), {
        retry: { maxRetryAfter: Duration.seconds(5) }
      })
      expect(page.records.map((r) => r.id)).toEqual(["a"])
    })
  )
})

describe("ids as one path segment", () => {
  const odd = [
    "a/b",
    "a?b=c",
    "a#b",
    "%2e%2e",
    ".%2e",
    "...",
    "a b",
    "é",
    "a\u0000b",
    "a\nb",
    "\u001b[2J",
    "!'()*",
    "~-._",
    "../x",
    "%"
  ]

  it.scopedLive("every odd id is sent as exactly one percent-encoded segment", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 404, body: { message: "Not Found" } }))
      for (const id of odd) {
        yield* Effect.either(run(server.url, (c) => c.get(id), { retry: { maxRetries: 0 } }))
        yield* Effect.either(run(server.url, (c) => c.step(id, id), { retry: { maxRetries: 0 } }))
        yield* Effect.either(run(server.url, (c) => c.replay(id), { retry: { maxRetries: 0 } }))
      }
      const raw = server.requests.map((r) => r.url)
      const expected = odd.flatMap((id) => [
        `${ROOT}/workflow-executions/${idSegment(id)}`,
        `${ROOT}/workflow-executions/${idSegment(id)}/step-executions/${idSegment(id)}`,
        `${ROOT}/workflow-executions/${idSegment(id)}/replay`
      ])
      expect(raw).toEqual(expected)
      for (const url of raw) {
        const segments = url.slice(ROOT.length + 1).split("/")
        expect(segments[0]).toBe("workflow-executions")
        // no segment the server's URL handling could treat as a directory step
        for (const segment of segments) expect(/^(\.|\.\.|%2e%2e|\.%2e|%2e\.)$/i.test(segment)).toBe(false)
      }
      expect(idSegment("a/b?c")).toBe("a%2Fb%3Fc")
      expect(idSegment("!'()*")).toBe("%21%27%28%29%2A")
    })
  )

  it.scopedLive("'', '.' and '..' are refused with InvalidInput naming the id, nothing sent", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 200, body: {} }))
      for (const id of ["", ".", ".."]) {
        expect(idProblem(id)).toBeDefined()
        const calls: Array<(c: Client.TaskHistoryClientShape) => Effect.Effect<unknown, TaskHistoryError>> = [
          (c) => c.get(id),
          (c) => c.replay(id),
          (c) => c.step("ok", id)
        ]
        for (const call of calls) {
          const error = yield* failure(run(server.url, call))
          expect(error).toMatchObject({ _tag: "InvalidInput" })
          expect(error.message).toContain(JSON.stringify(id))
          expect(exitCode(error)).toBe(2)
        }
      }
      expect(server.requests).toHaveLength(0)
    })
  )
})

describe("bounded answers", () => {
  /** A server whose answers grow without end (or announce 600 MB). */
  const endless = (announce: boolean) =>
    Effect.acquireRelease(
      Effect.async<{ url: string; close: () => void; sent: () => number }>((resume) => {
        let sent = 0
        const server = createServer((req, res) => {
          req.resume()
          res.writeHead(200, {
            "content-type": "application/json",
            ...(announce ? { "content-length": String(600 * 1024 * 1024) } : {})
          })
          res.write('{"workflowExecutions":[')
          const chunk = Buffer.alloc(64 * 1024, 32)
          const pump = () => {
            while (!res.destroyed && sent < 1024 * 1024 * 1024) {
              sent += chunk.length
              if (!res.write(chunk)) {
                res.once("drain", pump)
                return
              }
            }
          }
          pump()
        })
        server.listen(0, "127.0.0.1", () =>
          resume(
            Effect.succeed({
              url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
              close: () => {
                server.closeAllConnections()
                server.close()
              },
              sent: () => sent
            })
          )
        )
      }),
      (s) => Effect.sync(s.close)
    )

  for (const [name, http] of Object.entries(httpClients)) {
    it.scopedLive(`${name}: a body past maxResponseBytes is InvalidResponse TooLarge, not read whole`, () =>
      Effect.gen(function* () {
        for (const announce of [false, true]) {
          const server = yield* endless(announce)
          const error = yield* failure(
            run(
              server.url,
              (c) => c.listPage({}),
              { maxResponseBytes: 1024 * 1024, retry: { maxRetries: 0 } },
              http
            )
          )
          expect(error).toMatchObject({ _tag: "InvalidResponse", reason: "TooLarge" })
          expect(error.message).toContain("response too large")
          expect(exitCode(error)).toBe(6)
          // the client stopped near the limit (socket buffers aside), not at a gigabyte
          expect(server.sent()).toBeLessThan(64 * 1024 * 1024)
        }
      })
    )
  }

  it.scopedLive("headers that never come: a Timeout naming the headers deadline", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ hang: true }))
      const error = yield* failure(
        run(server.url, (c) => c.listPage({}), {
          headersTimeout: Duration.millis(200),
          retry: { maxRetries: 1 }
        })
      )
      expect(error).toMatchObject({ _tag: "TransportError", reason: "Timeout" })
      expect(error.message).toContain("no answer (status and headers) within")
      expect(server.requests).toHaveLength(2)
    })
  )

  it.scopedLive("a host name that does not resolve is a Dns failure, given up within the budget", () =>
    Effect.gen(function* () {
      const started = Date.now()
      const error = yield* failure(
        run("http://taskhistory-test.invalid", (c) => c.listPage({}), {
          retry: {
            base: Duration.millis(100),
            cap: Duration.millis(200),
            connectElapsed: Duration.seconds(2)
          }
        })
      )
      expect(error).toMatchObject({ _tag: "TransportError" })
      expect(["Dns", "ConnectTimeout"]).toContain((error as { reason: string }).reason)
      expect(error.message).toContain("http://taskhistory-test.invalid:80")
      // generous: a slow resolver under load
      expect(Date.now() - started).toBeLessThan(60_000)
    })
  )
})

describe("secrets and what a server controls", () => {
  it.scopedLive("a key echoed JSON-escaped or URL-encoded is scrubbed from every excerpt", () =>
    Effect.gen(function* () {
      const key = 'SEKRIT\\k3y"/+=&x'
      const server = yield* testServer(() => ({
        status: 400,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ echo: key, url: encodeURIComponent(key) })
      }))
      const error = yield* failure(
        run(server.url, (c) => c.listPage({}), { apiKey: Redacted.make(key), retry: { maxRetries: 0 } })
      )
      expect(error._tag).toBe("ClientError")
      expect(error.message).not.toContain(JSON.stringify(key).slice(1, -1))
      expect(error.message).not.toContain(encodeURIComponent(key))
      expect(error.message).toContain("<redacted>")
      expectNoSecret(error)
    })
  )

  it.scopedLive("terminal escapes in an error body reach the message escaped", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({
        status: 503,
        headers: { "content-type": "text/plain" },
        body: "down\u001b]0;pwned\u0007\u001b[2J\u009b31m"
      }))
      const error = yield* failure(run(server.url, (c) => c.listPage({}), { retry: { maxRetries: 0 } }))
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters
      expect(error.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
      expect(error.message).toContain("\\x1b]0;pwned\\x07")
    })
  )

  it("escapeControls and excerpt write every control character visibly", () => {
    expect(escapeControls("a\u001b[31mb\u0007\u009b")).toBe("a\\x1b[31mb\\x07\\x9b")
    expect(escapeControls("a\nb\tc", true)).toBe("a\nb\tc")
    expect(escapeControls("a\nb")).toBe("a\\x0ab")
    expect(excerpt("x\u001bc\n\ny")).toBe("x\\x1bc y")
  })

  it("keys that cannot go into a header are refused, naming the problem and never the key", () => {
    for (const [key, problem] of [
      ["abc\ndef", "a newline"],
      ["abc\r\ndef", "a carriage return"],
      ["abc\u0000def", "a NUL character"],
      ["abc def", "a space"],
      ["abc\tdef", "a tab"]
    ] as const) {
      const result = TaskHistoryConfig.make({ apiKey: key, projectId: "p" })
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left.message).toContain(problem)
        expect(result.left.message).not.toContain("abc")
        expect(result.left.message).not.toContain("def")
        expect(exitCode(result.left)).toBe(2)
      }
    }
    // whitespace around a key (a file's trailing newline) is dropped
    const trimmed = TaskHistoryConfig.make({ apiKey: "  key-123\n", projectId: "p" })
    expect(trimmed._tag === "Right" && Redacted.value(trimmed.right.apiKey)).toBe("key-123")
    const redis = TaskHistoryConfig.make({ apiKey: "k", projectId: "p", rateLimitRedis: "redis://h:1/0\nx" })
    expect(redis._tag === "Left" && redis.left.message).toContain("Redis URL contains a newline")
  })

  it("durations carry a unit and fit a timer", () => {
    expect(TaskHistoryConfig.parseDuration("5")._tag).toBe("Left")
    expect(
      TaskHistoryConfig.parseDuration("5", "--every").pipe((e) => (e._tag === "Left" ? e.left.message : ""))
    ).toContain("with a unit")
    expect(TaskHistoryConfig.parseDuration("99999999999d")._tag).toBe("Left")
    expect(TaskHistoryConfig.parseDuration("2w")._tag).toBe("Right")
    expect(TaskHistoryConfig.parseDuration("0s")._tag).toBe("Left")
  })
})

describe("permanent or transient", () => {
  it("permanent: 401, 403, a project's 404, invalid input; transient: the rest", async () => {
    const E = await import("../src/TaskHistoryError.js")
    expect(isPermanent(new E.Unauthorized({}))).toBe(true)
    expect(isPermanent(new E.ClientError({ status: 403 }))).toBe(true)
    expect(isPermanent(new E.NotFound({ resource: "p", target: "project" }))).toBe(true)
    expect(isPermanent(new E.NotFound({ resource: "e", target: "execution" }))).toBe(false)
    expect(isPermanent(new E.InvalidInput({ field: "f", value: "v", expected: "x" }))).toBe(true)
    expect(isPermanent(new E.ServerError({ status: 503 }))).toBe(false)
    expect(isPermanent(new E.TransportError({ reason: "ConnectionRefused" }))).toBe(false)
    expect(isPermanent(new E.RateLimited({}))).toBe(false)
    expect(isPermanent(new E.NoProgress({ reason: "SamePage", detail: "d", wasted: 3 }))).toBe(false)
  })
})
