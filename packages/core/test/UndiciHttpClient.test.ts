/**
 * The lean undici `HttpClient` against a real `node:http` server on 127.0.0.1:0: what the server
 * receives, what the response exposes, failures, interruption and the layer's Agent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Headers, HttpClient, HttpClientError, HttpClientRequest, UrlParams } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, FiberId, Layer, Option, Scope, Stream } from "effect"
import { Agent } from "undici"
import {
  AnswerTimeout,
  isLimitsCapable,
  KeepsTimeout,
  type LimitsCapable,
  ResponseTooLarge,
  WithLimits
} from "../src/internal/deadline.js"
import { classifyTransport } from "../src/internal/http.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import { failure, within } from "./utils/effects.js"

/** What the server received. */
interface Received {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingMessage["headers"]
  readonly body: string
  readonly bytes: Buffer
}

/** How the server answers one request (after reading its body in full). */
type Respond = (res: ServerResponse, received: Received, index: number) => void

interface Server {
  readonly url: string
  readonly received: Array<Received>
  /** Resolved when the n-th request's headers arrived (before its body). */
  readonly started: Array<Deferred.Deferred<void>>
  /** Resolved when the n-th request arrived in full (before its answer). */
  readonly arrived: Array<Deferred.Deferred<void>>
  /** Resolved when the connection of the n-th request closed before its answer was complete. */
  readonly aborted: Array<Deferred.Deferred<void>>
  /** Every socket the server accepted, with a deferred resolved when it closes. */
  readonly sockets: Array<{ readonly socket: Socket; readonly closed: Deferred.Deferred<void> }>
}

const MAX_REQUESTS = 16

/** A real HTTP server for the scope; `respond` answers each request. */
const server = (respond: Respond) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const received: Array<Received> = []
      const started = yield* Effect.all(Array.from({ length: MAX_REQUESTS }, () => Deferred.make<void>()))
      const arrived = yield* Effect.all(Array.from({ length: MAX_REQUESTS }, () => Deferred.make<void>()))
      const aborted = yield* Effect.all(Array.from({ length: MAX_REQUESTS }, () => Deferred.make<void>()))
      const sockets: Array<{ socket: Socket; closed: Deferred.Deferred<void> }> = []
      let count = 0
      const http = createServer((req, res) => {
        const index = count++
        Deferred.unsafeDone(started[index]!, Exit.void)
        const url = new URL(req.url ?? "/", "http://127.0.0.1")
        const chunks: Array<Buffer> = []
        // The client went away before the answer was complete.
        res.on("close", () => {
          if (!res.writableFinished) Deferred.unsafeDone(aborted[index]!, Exit.void)
        })
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const bytes = Buffer.concat(chunks)
          const entry: Received = {
            method: req.method ?? "",
            path: url.pathname,
            query: url.searchParams,
            headers: req.headers,
            body: bytes.toString("utf8"),
            bytes
          }
          received.push(entry)
          Deferred.unsafeDone(arrived[index]!, Exit.void)
          respond(res, entry, index)
        })
      })
      http.on("connection", (socket: Socket) => {
        const closed = Deferred.unsafeMake<void>(FiberId.none)
        socket.on("close", () => Deferred.unsafeDone(closed, Exit.void))
        sockets.push({ socket, closed })
      })
      const port = yield* Effect.async<number>((resume) => {
        http.listen(0, "127.0.0.1", () => resume(Effect.succeed((http.address() as AddressInfo).port)))
      })
      const info: Server = { url: `http://127.0.0.1:${port}`, received, started, arrived, aborted, sockets }
      return { http, info }
    }),
    ({ http }) =>
      Effect.async<void>((resume) => {
        http.closeAllConnections()
        http.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ info }) => info))

/** Answers with the request as JSON. */
const echo: Respond = (res, received) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end(
    JSON.stringify({
      method: received.method,
      path: received.path,
      query: [...received.query.entries()],
      body: received.body
    })
  )
}

const withClient = <A, E>(f: (client: HttpClient.HttpClient) => Effect.Effect<A, E>) =>
  Effect.flatMap(HttpClient.HttpClient, f).pipe(Effect.provide(UndiciHttpClient.layer))

const encoder = new TextEncoder()

describe("UndiciHttpClient", () => {
  describe("requests", () => {
    it.scopedLive("GET: method, path, query parameters and headers reach the server", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        const response = yield* withClient((client) =>
          client.execute(
            HttpClientRequest.get(`${srv.url}/a/b%20c`).pipe(
              HttpClientRequest.setUrlParams({ offset: "100", status: ["FAILED", "SUCCEEDED"], q: "x y&z" }),
              HttpClientRequest.setHeaders({ "X-Custom": "yes", Authorization: "Bearer t0k" }),
              HttpClientRequest.acceptJson
            )
          )
        )
        expect(response.status).toBe(200)
        const [received] = srv.received
        expect(received?.method).toBe("GET")
        expect(received?.path).toBe("/a/b%20c")
        expect(received?.query.get("offset")).toBe("100")
        expect(received?.query.getAll("status")).toEqual(["FAILED", "SUCCEEDED"])
        expect(received?.query.get("q")).toBe("x y&z")
        expect(received?.headers["x-custom"]).toBe("yes")
        expect(received?.headers.authorization).toBe("Bearer t0k")
        expect(received?.headers.accept).toBe("application/json")
        expect(received?.body).toBe("")
      })
    )

    it.scopedLive("GET: query parameters already in the URL are kept alongside urlParams", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        yield* withClient((client) =>
          client.execute(
            HttpClientRequest.get(`${srv.url}/list?limit=5`).pipe(
              HttpClientRequest.setUrlParam("offset", "10")
            )
          )
        )
        expect(srv.received[0]?.query.get("limit")).toBe("5")
        expect(srv.received[0]?.query.get("offset")).toBe("10")
      })
    )

    it.scopedLive("POST with a JSON, a Uint8Array and a text body: bytes, content type and length", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        yield* withClient((client) =>
          Effect.gen(function* () {
            const json = yield* HttpClientRequest.bodyJson(HttpClientRequest.post(`${srv.url}/json`), {
              a: 1,
              b: ["é", null]
            })
            const r1 = yield* client.execute(json)
            expect(r1.status).toBe(200)
            expect(yield* r1.json).toMatchObject({
              method: "POST",
              path: "/json",
              body: '{"a":1,"b":["é",null]}'
            })
            yield* client.execute(
              HttpClientRequest.post(`${srv.url}/bytes`).pipe(
                HttpClientRequest.bodyUint8Array(
                  new Uint8Array([104, 105, 0, 255]),
                  "application/octet-stream"
                )
              )
            )
            yield* client.execute(
              HttpClientRequest.post(`${srv.url}/text`).pipe(HttpClientRequest.bodyText("hello, world"))
            )
          })
        )
        const [json, bytes, text] = srv.received
        expect(json?.method).toBe("POST")
        expect(json?.headers["content-type"]).toBe("application/json")
        expect(json?.headers["content-length"]).toBe(String(Buffer.byteLength('{"a":1,"b":["é",null]}')))
        expect(JSON.parse(json?.body ?? "")).toEqual({ a: 1, b: ["é", null] })
        expect(bytes?.headers["content-type"]).toBe("application/octet-stream")
        expect(bytes?.headers["content-length"]).toBe("4")
        expect(new Uint8Array(bytes?.bytes ?? [])).toEqual(new Uint8Array([104, 105, 0, 255]))
        expect(text?.headers["content-type"]).toBe("text/plain")
        expect(text?.body).toBe("hello, world")
      })
    )

    it.scopedLive("POST with a Stream body: every chunk reaches the server, in order", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        const body = Stream.make("first,", "second,", "third").pipe(
          Stream.tap(() => Effect.sleep("5 millis")),
          Stream.map((s) => encoder.encode(s))
        )
        const response = yield* withClient((client) =>
          client.execute(
            HttpClientRequest.post(`${srv.url}/stream`).pipe(
              HttpClientRequest.bodyStream(body, { contentType: "text/csv" })
            )
          )
        )
        expect(response.status).toBe(200)
        expect(yield* response.json).toMatchObject({ method: "POST", body: "first,second,third" })
        expect(srv.received[0]?.headers["content-type"]).toBe("text/csv")
      })
    )

    it.scopedLive("POST with a Stream body that fails: a RequestError, not a hang", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        const body = Stream.concat(Stream.make(encoder.encode("partial")), Stream.fail(new Error("boom")))
        const error = yield* withClient((client) =>
          failure(
            within(
              client.execute(
                HttpClientRequest.post(`${srv.url}/stream`).pipe(HttpClientRequest.bodyStream(body))
              ),
              "a failing request body"
            )
          )
        )
        expect(error).toBeInstanceOf(HttpClientError.RequestError)
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
      })
    )
  })

  describe("responses", () => {
    it.scopedLive(
      "status, headers (case-insensitive), cookies and the body as text, JSON, bytes and stream",
      () =>
        Effect.gen(function* () {
          const srv = yield* server((res) => {
            res.setHeader("Content-Type", "application/json; charset=utf-8")
            res.setHeader("X-Request-Id", "req-42")
            res.setHeader("Set-Cookie", ["a=1; Path=/", "b=2; HttpOnly"])
            res.statusCode = 201
            res.end('{"ok":true,"name":"Zoë"}')
          })
          yield* withClient((client) =>
            Effect.gen(function* () {
              const response = yield* client.get(`${srv.url}/x`)
              expect(response.status).toBe(201)
              expect(response.headers["content-type"]).toBe("application/json; charset=utf-8")
              expect(Headers.get(response.headers, "X-Request-Id")).toEqual(Option.some("req-42"))
              expect(Headers.get(response.headers, "x-request-id")).toEqual(Option.some("req-42"))
              expect(response.headers["set-cookie"]).toBe("a=1; Path=/, b=2; HttpOnly")
              expect(response.cookies.cookies.a?.value).toBe("1")
              expect(response.cookies.cookies.b?.value).toBe("2")
              expect(response.request.url).toBe(`${srv.url}/x`)
              // Every reader can be used, more than once, in any order (the body is buffered).
              expect(yield* response.text).toBe('{"ok":true,"name":"Zoë"}')
              expect(yield* response.json).toEqual({ ok: true, name: "Zoë" })
              expect(yield* response.json).toEqual({ ok: true, name: "Zoë" })
              const buffer = yield* response.arrayBuffer
              expect(buffer).toBeInstanceOf(ArrayBuffer)
              expect(new TextDecoder().decode(buffer)).toBe('{"ok":true,"name":"Zoë"}')
              expect(buffer.byteLength).toBe(Buffer.byteLength('{"ok":true,"name":"Zoë"}'))
              const streamed = yield* Stream.runCollect(response.stream)
              expect(Buffer.concat(Chunk.toReadonlyArray(streamed)).toString("utf8")).toBe(
                '{"ok":true,"name":"Zoë"}'
              )
              expect(yield* response.text).toBe('{"ok":true,"name":"Zoë"}')
            })
          )
        })
    )

    it.scopedLive("non-2xx statuses are responses, not errors", () =>
      Effect.gen(function* () {
        const srv = yield* server((res, _received, index) => {
          res.statusCode = [404, 500, 204][index] ?? 200
          res.end(index === 2 ? undefined : `status ${res.statusCode}`)
        })
        yield* withClient((client) =>
          Effect.gen(function* () {
            const r404 = yield* client.get(`${srv.url}/a`)
            expect(r404.status).toBe(404)
            expect(yield* r404.text).toBe("status 404")
            const r500 = yield* client.get(`${srv.url}/b`)
            expect(r500.status).toBe(500)
            expect(yield* r500.text).toBe("status 500")
            const r204 = yield* client.get(`${srv.url}/c`)
            expect(r204.status).toBe(204)
            expect(yield* r204.text).toBe("")
            expect(yield* r204.json).toBeNull()
          })
        )
      })
    )

    it.scopedLive("json: an empty body is null; invalid JSON is a ResponseError Decode", () =>
      Effect.gen(function* () {
        const srv = yield* server((res, received) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(received.path === "/empty" ? "" : '{"truncated": ')
        })
        yield* withClient((client) =>
          Effect.gen(function* () {
            const empty = yield* client.get(`${srv.url}/empty`)
            expect(yield* empty.json).toBeNull()
            const invalid = yield* client.get(`${srv.url}/invalid`)
            const error = yield* failure(invalid.json)
            expect(error).toBeInstanceOf(HttpClientError.ResponseError)
            expect(error).toMatchObject({ _tag: "ResponseError", reason: "Decode" })
            expect(error.response.status).toBe(200)
            expect(error.cause).toBeInstanceOf(SyntaxError)
            // The text is still readable.
            expect(yield* invalid.text).toBe('{"truncated": ')
          })
        )
      })
    )

    it.scopedLive("urlParamsBody decodes a form-encoded body", () =>
      Effect.gen(function* () {
        const srv = yield* server((res) => {
          res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" })
          res.end("a=1&b=two+words&a=3&c=%26")
        })
        const params = yield* withClient((client) =>
          Effect.flatMap(client.get(`${srv.url}/form`), (response) => response.urlParamsBody)
        )
        expect(UrlParams.getAll(params, "a")).toEqual(["1", "3"])
        expect(UrlParams.getFirst(params, "b")).toEqual(Option.some("two words"))
        expect(UrlParams.getFirst(params, "c")).toEqual(Option.some("&"))
      })
    )

    it.scopedLive("a body written in several pieces, with pauses, arrives complete", () =>
      Effect.gen(function* () {
        const pieces = ['{"items":[', '"a",'.repeat(20_000), '"b"', "]}"]
        const srv = yield* server((res) => {
          res.writeHead(200, { "content-type": "application/json" })
          let i = 0
          const next = () => {
            if (i === pieces.length) {
              res.end()
              return
            }
            res.write(pieces[i++])
            setTimeout(next, 30)
          }
          next()
        })
        const response = yield* withClient((client) => client.get(`${srv.url}/slow`))
        const text = yield* response.text
        expect(text).toBe(pieces.join(""))
        const json = (yield* response.json) as { items: Array<string> }
        expect(json.items).toHaveLength(20_001)
        expect(json.items.at(-1)).toBe("b")
        expect((yield* response.arrayBuffer).byteLength).toBe(Buffer.byteLength(pieces.join("")))
      })
    )

    it.scopedLive("a connection dropped in the middle of the body is a RequestError Transport", () =>
      Effect.gen(function* () {
        const srv = yield* server((res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
          res.write('{"partial":')
          setTimeout(() => res.socket?.destroy(), 20)
        })
        const error = yield* withClient((client) => failure(client.get(`${srv.url}/drop`)))
        expect(error).toBeInstanceOf(HttpClientError.RequestError)
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
      })
    )
  })

  describe("failures", () => {
    it.live("connection refused: a RequestError Transport", () =>
      Effect.gen(function* () {
        // A port that was just bound and released: nothing listens on it.
        const port = yield* Effect.async<number>((resume) => {
          const http = createServer()
          http.listen(0, "127.0.0.1", () => {
            const { port } = http.address() as AddressInfo
            http.close(() => resume(Effect.succeed(port)))
          })
        })
        const error = yield* withClient((client) => failure(client.get(`http://127.0.0.1:${port}/x`)))
        expect(error).toBeInstanceOf(HttpClientError.RequestError)
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
        // What the core's transport classification sees in it.
        expect(classifyTransport(error.cause).reason).toBe("ConnectionRefused")
      })
    )

    it.live(
      "a request undici refuses (a header with a line break): a RequestError Transport, not a defect",
      () =>
        Effect.gen(function* () {
          const error = yield* withClient((client) =>
            failure(
              client.execute(
                HttpClientRequest.get("http://127.0.0.1:9/x").pipe(
                  HttpClientRequest.setHeader("x-bad", "a\r\nb")
                )
              )
            )
          )
          expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
        })
    )

    it.live("an invalid URL: a RequestError InvalidUrl, and nothing is sent", () =>
      Effect.gen(function* () {
        for (const url of ["/relative/path", "not a url", "http://"]) {
          const error = yield* withClient((client) => failure(client.get(url)))
          expect(error).toBeInstanceOf(HttpClientError.RequestError)
          expect(error).toMatchObject({ _tag: "RequestError", reason: "InvalidUrl" })
        }
      })
    )
  })

  describe("its own request timeout (internal/deadline)", () => {
    const limited = (
      agent: Agent,
      millis: number,
      more: { connect?: number; headers?: number; maxBytes?: number } = {}
    ) => {
      const client = UndiciHttpClient.make(agent)
      expect(isLimitsCapable(client)).toBe(true)
      return (client as HttpClient.HttpClient & LimitsCapable)[WithLimits]({
        total: Duration.millis(millis),
        connect: Duration.millis(more.connect ?? millis),
        headers: Duration.millis(more.headers ?? millis),
        maxBytes: more.maxBytes ?? 1024 * 1024
      })
    }
    const agentInScope = Effect.acquireRelease(
      Effect.sync(() => new Agent()),
      (agent) => Effect.promise(() => agent.destroy())
    )

    it.scopedLive(
      "a request that gets no complete answer in time fails with AnswerTimeout and is aborted",
      () =>
        Effect.gen(function* () {
          const srv = yield* server((res) => {
            res.writeHead(200, { "content-type": "application/json" })
            res.write('{"first": "piece"') // and never the rest
          })
          const client = limited(yield* agentInScope, 150)
          expect(KeepsTimeout in client).toBe(true)
          const error = yield* failure(client.get(`${srv.url}/slow`))
          expect(error).toBeInstanceOf(HttpClientError.RequestError)
          expect(error).toMatchObject({ reason: "Transport" })
          expect((error as HttpClientError.RequestError).cause).toBeInstanceOf(AnswerTimeout)
          yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
        })
    )

    it.scopedLive("headers that never come fail at the headers deadline, phase named", () =>
      Effect.gen(function* () {
        const srv = yield* server(() => {
          // never answers
        })
        const client = limited(yield* agentInScope, 5_000, { headers: 150 })
        const error = yield* failure(client.get(`${srv.url}/silent`))
        const cause = (error as HttpClientError.RequestError).cause
        expect(cause).toBeInstanceOf(AnswerTimeout)
        expect((cause as AnswerTimeout).phase).toBe("headers")
        yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
      })
    )

    it.scopedLive(
      "a body past maxBytes is not read further; an announced one is refused at the headers",
      () =>
        Effect.gen(function* () {
          const srv = yield* server((res, _received, index) => {
            if (index === 0) {
              // no content-length: chunks until the client gives up
              res.writeHead(200, { "content-type": "application/json" })
              const chunk = Buffer.alloc(64 * 1024, 32)
              const pump = () => {
                while (res.write(chunk)) {
                  if (res.destroyed) return
                }
                res.once("drain", pump)
              }
              pump()
              return
            }
            res.writeHead(200, {
              "content-type": "application/json",
              "content-length": String(10 * 1024 * 1024)
            })
            res.write("[")
          })
          const client = limited(yield* agentInScope, 10_000, { maxBytes: 256 * 1024 })
          const endless = yield* failure(client.get(`${srv.url}/endless`))
          const grown = (endless as HttpClientError.RequestError).cause
          expect(grown).toBeInstanceOf(ResponseTooLarge)
          expect((grown as ResponseTooLarge).declared).toBeUndefined()
          yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
          const announced = yield* failure(client.get(`${srv.url}/big`))
          const declared = (announced as HttpClientError.RequestError).cause
          expect(declared).toBeInstanceOf(ResponseTooLarge)
          expect((declared as ResponseTooLarge).declared).toBe(10 * 1024 * 1024)
        })
    )

    it.scopedLive("an answer within the timeout is unchanged, and a later request is not cut short", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        // A timeout a loaded machine does not reach for a local answer (200 ms flaked under load).
        const client = limited(yield* agentInScope, 2_000)
        const first = yield* Effect.flatMap(client.get(`${srv.url}/a`), (r) => r.json)
        // longer than the first request's timeout: its timer must have been cleared
        yield* Effect.sleep("2100 millis")
        const second = yield* Effect.flatMap(client.get(`${srv.url}/b`), (r) => r.json)
        expect(first).toMatchObject({ path: "/a" })
        expect(second).toMatchObject({ path: "/b" })
      })
    )

    it("a plain client keeps no timeout of its own; one beyond a timer's range is none", () => {
      const agent = new Agent()
      expect(KeepsTimeout in UndiciHttpClient.make(agent)).toBe(false)
      expect(KeepsTimeout in limited(agent, 2 ** 31)).toBe(false)
      return agent.destroy()
    })
  })

  describe("interruption", () => {
    it.scopedLive("interrupting a request the server never answers closes the connection, promptly", () =>
      Effect.gen(function* () {
        const srv = yield* server(() => {
          // never answers
        })
        const client = UndiciHttpClient.make(
          yield* Effect.acquireRelease(
            Effect.sync(() => new Agent()),
            (agent) => Effect.promise(() => agent.destroy())
          )
        )
        const fiber = yield* Effect.fork(client.get(`${srv.url}/hang`))
        yield* within(Deferred.await(srv.arrived[0]!), "the request reaching the server")
        const exit = yield* within(Fiber.interrupt(fiber), "the interrupted fiber ending")
        expect(Exit.isInterrupted(exit)).toBe(true)
        yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
        yield* within(Deferred.await(srv.sockets[0]!.closed), "the socket closing")
      })
    )

    it.scopedLive("interrupting a request while its body is arriving closes the connection, promptly", () =>
      Effect.gen(function* () {
        const srv = yield* server((res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.write('{"first": "piece"') // and never the rest
        })
        const fiber = yield* Effect.fork(withClient((client) => client.get(`${srv.url}/half`)))
        yield* within(Deferred.await(srv.arrived[0]!), "the request reaching the server")
        // Give the client time to receive the headers and the first piece.
        yield* Effect.sleep("100 millis")
        expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
        const exit = yield* within(Fiber.interrupt(fiber), "the interrupted fiber ending")
        expect(Exit.isInterrupted(exit)).toBe(true)
        yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
      })
    )

    it.scopedLive("interrupting a request while its Stream body is pending stops the stream, promptly", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        const stopped = yield* Deferred.make<void>()
        const body = Stream.concat(Stream.make(encoder.encode("first piece")), Stream.never).pipe(
          Stream.ensuring(Deferred.succeed(stopped, undefined))
        )
        const fiber = yield* Effect.fork(
          withClient((client) =>
            client.execute(
              HttpClientRequest.post(`${srv.url}/upload`).pipe(HttpClientRequest.bodyStream(body))
            )
          )
        )
        yield* within(Deferred.await(srv.started[0]!), "the request reaching the server")
        const exit = yield* within(Fiber.interrupt(fiber), "the interrupted fiber ending")
        expect(Exit.isInterrupted(exit)).toBe(true)
        yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
        yield* within(Deferred.await(stopped), "the request body's stream being stopped")
      })
    )

    it.scopedLive("a request failing while its Stream body is pending stops the stream", () =>
      Effect.gen(function* () {
        const stopped = yield* Deferred.make<void>()
        // The server drops the connection as soon as the request starts.
        const srv = yield* server(echo)
        const body = Stream.concat(Stream.make(encoder.encode("first piece")), Stream.never).pipe(
          Stream.ensuring(Deferred.succeed(stopped, undefined))
        )
        const request = Effect.flatMap(HttpClient.HttpClient, (client) =>
          client.execute(HttpClientRequest.post(`${srv.url}/upload`).pipe(HttpClientRequest.bodyStream(body)))
        ).pipe(Effect.provide(UndiciHttpClient.layer))
        const fiber = yield* Effect.fork(request)
        yield* within(Deferred.await(srv.started[0]!), "the request reaching the server")
        for (const { socket } of srv.sockets) socket.destroy()
        const error = yield* within(failure(Fiber.join(fiber)), "the failed request ending")
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
        yield* within(Deferred.await(stopped), "the request body's stream being stopped")
      })
    )

    it.scopedLive(
      "a timeout (Effect.timeout) on a hanging request interrupts it and closes the connection",
      () =>
        Effect.gen(function* () {
          const srv = yield* server(() => {})
          const result = yield* withClient((client) =>
            Effect.timeout(client.get(`${srv.url}/hang`), "100 millis").pipe(Effect.either)
          )
          expect(result._tag).toBe("Left")
          yield* within(Deferred.await(srv.aborted[0]!), "the server seeing the connection closed")
        })
    )
  })

  describe("layer", () => {
    it.scopedLive("connections are kept alive and reused", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        yield* withClient((client) =>
          Effect.gen(function* () {
            for (let i = 0; i < 6; i++) {
              const response = yield* client.get(`${srv.url}/n/${i}`)
              expect(yield* response.json).toMatchObject({ path: `/n/${i}` })
            }
          })
        )
        expect(srv.received).toHaveLength(6)
        // undici's pool may open a second connection while the first is being released, but
        // sequential requests never need one each.
        expect(srv.sockets.length).toBeLessThan(6)
      })
    )

    it.scopedLive(
      "closing the layer's scope destroys its Agent: connections closed, later requests fail",
      () =>
        Effect.gen(function* () {
          const srv = yield* server(echo)
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(UndiciHttpClient.layer, scope)
          const client = yield* Effect.provide(HttpClient.HttpClient, context)
          const response = yield* client.get(`${srv.url}/before`)
          expect(response.status).toBe(200)
          expect(srv.sockets).toHaveLength(1)
          yield* within(Scope.close(scope, Exit.void), "the layer's scope closing")
          // The keep-alive connection is closed by the client, not left to the server.
          yield* within(Deferred.await(srv.sockets[0]!.closed), "the keep-alive connection closing")
          const error = yield* within(failure(client.get(`${srv.url}/after`)), "a request after close")
          expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
          expect(srv.received).toHaveLength(1)
        })
    )

    it.scopedLive("make: over a caller's Agent", () =>
      Effect.gen(function* () {
        const srv = yield* server(echo)
        const agent = yield* Effect.acquireRelease(
          Effect.sync(() => new Agent({ connections: 1 })),
          (agent) => Effect.promise(() => agent.close())
        )
        const client = UndiciHttpClient.make(agent)
        const responses = yield* Effect.forEach([1, 2, 3, 4], (i) => client.get(`${srv.url}/c/${i}`), {
          concurrency: "unbounded"
        })
        expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200])
        expect(srv.received.map((r) => r.path).sort()).toEqual(["/c/1", "/c/2", "/c/3", "/c/4"])
      })
    )
  })
})
