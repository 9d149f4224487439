/**
 * A small scripted HTTP server for tests: real sockets on 127.0.0.1:0, every request recorded,
 * each answered by a handler (status/headers/body, a dropped connection, or no answer at all).
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Duration, Effect, Layer, Redacted } from "effect"
import * as RateLimiter from "../../src/RateLimiter.js"
import * as TaskHistoryClient from "../../src/TaskHistoryClient.js"
import * as TaskHistoryConfig from "../../src/TaskHistoryConfig.js"
import * as UndiciHttpClient from "../../src/UndiciHttpClient.js"

/** The key used by every test; no error message may contain it. */
export const SECRET = "sk_test_SUPER_SECRET_KEY_123"

export interface Recorded {
  readonly method: string
  readonly url: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
}

export type Reply =
  | {
      readonly status?: number
      readonly headers?: Record<string, string>
      /** A string is sent as is; anything else as JSON. */
      readonly body?: unknown
    }
  | { readonly reset: true }
  | { readonly hang: true }

export type Handler = (request: Recorded, index: number) => Reply

export interface TestServer {
  readonly url: string
  readonly port: number
  readonly requests: Array<Recorded>
}

const listen = (server: Server) =>
  Effect.async<number>((resume) => {
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
  })

const close = (server: Server) =>
  Effect.async<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })

/** Starts a server for the scope; `handler` answers the n-th request (0-based). */
export const testServer = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const requests: Array<Recorded> = []
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1")
        const recorded: Recorded = {
          method: req.method ?? "GET",
          url: req.url ?? "/",
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers
        }
        const index = requests.length
        requests.push(recorded)
        req.resume()
        req.on("end", () => {
          const reply = handler(recorded, index)
          if ("reset" in reply) {
            req.socket.destroy()
            return
          }
          if ("hang" in reply) return
          const body =
            reply.body === undefined
              ? ""
              : typeof reply.body === "string"
                ? reply.body
                : JSON.stringify(reply.body)
          res.writeHead(reply.status ?? 200, {
            "content-type": typeof reply.body === "string" ? "text/plain" : "application/json",
            ...reply.headers
          })
          res.end(body)
        })
      })
      const port = yield* listen(server)
      return { server, info: { url: `http://127.0.0.1:${port}`, port, requests } }
    }),
    ({ server }) => close(server)
  ).pipe(Effect.map(({ info }): TestServer => info))

/** A port where nothing listens (bound, then closed). */
export const refusedPort = Effect.gen(function* () {
  const server = createServer()
  const port = yield* listen(server)
  yield* close(server)
  return port
})

/** A page of executions in the API's shape. */
export const execution = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  workflowId: "wf-1",
  userId: "user-1",
  status: "SUCCEEDED",
  taskCount: 3,
  runDuration: 1200,
  dateStarted: "2026-01-01T00:00:00.000Z",
  dateEnded: "2026-01-01T00:00:01.200Z",
  ...extra
})

/** The HTTP clients the core must work with (`lean`: the core's own, used by the binaries). */
export const httpClients = {
  undici: NodeHttpClient.layerUndici,
  fetch: FetchHttpClient.layer,
  lean: UndiciHttpClient.layer
} as const

/**
 * A client layer against `url` with fast retries (1-2 ms) and a generous limit, so HTTP tests
 * run on real time without waiting.
 */
export const clientLayer = (
  url: string,
  options: Partial<TaskHistoryConfig.Options> = {},
  http: Layer.Layer<import("@effect/platform").HttpClient.HttpClient> = httpClients.undici
) =>
  TaskHistoryClient.layer.pipe(
    Layer.provideMerge(RateLimiter.layerFromConfig),
    Layer.provideMerge(
      TaskHistoryConfig.layer({
        apiKey: Redacted.make(SECRET),
        projectId: "proj-1",
        baseUrl: url,
        rateLimit: "1000/1s",
        ...options,
        retry: { base: Duration.millis(1), cap: Duration.millis(2), maxRetries: 3, ...options.retry }
      })
    ),
    Layer.provide(http)
  )
