/**
 * A lean `HttpClient` for Node.js over undici: one keep-alive `Agent`, one request per call, the
 * answer's body read in full before the response is handed over.
 *
 * The Task History API answers with small JSON documents (a page of 100 executions is ~60 kB), so
 * a buffered body costs nothing and saves the per-response stream machinery, `AbortController`,
 * finalization registry and cached text effect of the general-purpose clients. On a bulk read it
 * takes about half the CPU per request of `@effect/platform-node`'s undici client, and a third of
 * `fetch`'s. Interruption aborts the request in flight.
 *
 * Use it where the answers are bounded (any JSON API); for large downloads or streamed bodies
 * use `@effect/platform-node/NodeHttpClient`.
 *
 * @example
 * import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
 * TaskHistoryClient.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))
 *
 * @since 0.1.0
 */

import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import { Duration, Effect, Inspectable, Layer, Option, Stream } from "effect"
import type { Dispatcher } from "undici"
// The Agent's module alone: `import "undici"` evaluates all of undici (fetch, WebSocket, caches,
// mocks), ~3x the start-up time, for nothing this client uses.
import Agent from "undici/lib/dispatcher/agent.js"
import {
  AnswerTimeout,
  BodyText,
  type HasBodyText,
  KeepsSize,
  KeepsTimeout,
  type Limits,
  type LimitsCapable,
  type Phase,
  ResponseTooLarge,
  WithLimits
} from "./internal/deadline.js"

const textDecoder = new TextDecoder()

class BufferedResponse
  extends Inspectable.Class
  implements HttpClientResponse.HttpClientResponse, HasBodyText
{
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly remoteAddress = Option.none<string>()
  readonly statusText = undefined
  private cachedHeaders: Headers.Headers | undefined
  private cachedText: string | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly rawHeaders: Record<string, string | Array<string> | undefined>,
    private readonly bytes: Uint8Array
  ) {
    super()
  }

  get headers(): Headers.Headers {
    this.cachedHeaders ??= Headers.fromInput(this.rawHeaders)
    return this.cachedHeaders
  }

  get cookies(): Cookies.Cookies {
    const header = this.rawHeaders["set-cookie"]
    return header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  private get body(): string {
    this.cachedText ??= textDecoder.decode(this.bytes)
    return this.cachedText
  }

  // Decoded at each call, not cached on the response (see `BodyText`).
  readonly [BodyText] = (): string => this.cachedText ?? textDecoder.decode(this.bytes)

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body)
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => {
        const text = this.body
        return text === "" ? null : (JSON.parse(text) as unknown)
      },
      catch: (cause) => this.decodeError(cause)
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(this.body)),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => new Response(this.bytes, { headers: this.headers }).formData(),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(
      () =>
        this.bytes.buffer.slice(
          this.bytes.byteOffset,
          this.bytes.byteOffset + this.bytes.byteLength
        ) as ArrayBuffer
    )
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.succeed(this.bytes)
  }

  private decodeError(cause: unknown) {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause
    })
  }

  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

type UndiciBody = Exclude<Dispatcher.DispatchOptions["body"], undefined>

/**
 * A `Stream` request body as the async iterable undici reads, stopped with the request.
 *
 * undici leaves it to the caller to end an iterable body: when the request is aborted or fails
 * while the stream waits for its next chunk, undici keeps waiting on `next()` and the stream's
 * fiber (forked by `Stream.toAsyncIterable`, not a child of the request's) runs on. `stop`
 * interrupts the stream's fiber (its finalizers run) and fails the pending `next()`, so that
 * undici's write loop ends too.
 */
class StreamBody implements AsyncIterable<Uint8Array> {
  private readonly iterators: Array<AsyncIterator<Uint8Array>> = []
  private readonly pending = new Set<(reason: unknown) => void>()
  private stopped = false

  constructor(private readonly iterable: AsyncIterable<Uint8Array>) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const iterator = this.iterable[Symbol.asyncIterator]()
    this.iterators.push(iterator)
    return {
      next: () =>
        this.stopped
          ? Promise.reject(new Error("request ended"))
          : new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
              this.pending.add(reject)
              iterator.next().then(
                (result) => {
                  this.pending.delete(reject)
                  resolve(result)
                },
                (error: unknown) => {
                  this.pending.delete(reject)
                  reject(error)
                }
              )
            }),
      return: (value?: unknown) =>
        iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined })
    }
  }

  /** Ends every iteration: the stream's fiber interrupted, a pending `next()` failed. */
  stop(): Promise<void> {
    this.stopped = true
    const reason = new Error("request ended")
    for (const reject of this.pending) reject(reason)
    this.pending.clear()
    return Promise.all(this.iterators.map((iterator) => iterator.return?.())).then(
      () => undefined,
      () => undefined
    )
  }
}

const requestBody = (body: HttpBody.HttpBody): Effect.Effect<UndiciBody | StreamBody> => {
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(null)
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return Effect.succeed(body.body as UndiciBody)
    case "FormData":
      return Effect.succeed(body.formData as unknown as UndiciBody)
    case "Stream":
      return Effect.map(Stream.toAsyncIterableEffect(body.stream), (iterable) => new StreamBody(iterable))
  }
}

/** The longest delay `setTimeout` honours; a longer timeout is no timeout. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

const timeoutMillis = (timeout: Duration.Duration): number | undefined => {
  const millis = Duration.toMillis(timeout)
  return millis > MAX_TIMER_MILLIS ? undefined : Math.max(0, millis)
}

/** The limits in milliseconds and bytes (a deadline beyond a timer's range is none). */
interface Kept {
  readonly total: number | undefined
  readonly connect: number | undefined
  readonly headers: number | undefined
  readonly maxBytes: number
}

const kept = (limits: Limits): Kept => ({
  total: timeoutMillis(limits.total),
  connect: timeoutMillis(limits.connect),
  headers: timeoutMillis(limits.headers),
  maxBytes: limits.maxBytes
})

const declaredLength = (headers: Record<string, string | Array<string> | undefined>): number | undefined => {
  const raw = headers["content-length"]
  const text = Array.isArray(raw) ? raw[0] : raw
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  return Number(text)
}

const send = (
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  body: UndiciBody,
  limits: Kept | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> =>
  Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
    // undici's handler interface (`dispatch`): no Readable per answer, and no need for undici's
    // `request` API, which only its index installs. The body's chunks are kept as they arrive
    // (at most `maxBytes` of them); the response is handed over at their end.
    let controller: Dispatcher.DispatchController | undefined
    let interrupted = false
    let status = 0
    let headers: Record<string, string | Array<string> | undefined> = {}
    const chunks: Array<Buffer> = []
    let length = 0
    // One timer for the whole answer, one for the phase in progress (connect, then headers).
    let timer: ReturnType<typeof setTimeout> | undefined
    let phaseTimer: ReturnType<typeof setTimeout> | undefined
    const fail = (cause: unknown) => {
      if (interrupted) return
      interrupted = true
      clearTimeout(timer)
      clearTimeout(phaseTimer)
      resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
    }
    const abort = (cause: Error) => {
      controller?.abort(cause)
      fail(cause)
    }
    const phase = (millis: number | undefined, name: Phase) => {
      clearTimeout(phaseTimer)
      // a phase deadline longer than what is left of the whole answer never fires first
      if (millis === undefined || (limits?.total !== undefined && millis >= limits.total)) return
      phaseTimer = setTimeout(() => abort(new AnswerTimeout(millis, name)), millis)
    }
    if (limits?.total !== undefined) {
      const total = limits.total
      // named by the phase it cut short: no connection yet, no status yet, or the body
      timer = setTimeout(
        () =>
          abort(
            new AnswerTimeout(
              total,
              controller === undefined ? "connect" : status === 0 ? "headers" : "answer"
            )
          ),
        total
      )
    }
    phase(limits?.connect, "connect")
    try {
      dispatcher.dispatch(
        {
          method: request.method,
          origin: url.origin,
          path: url.pathname + url.search,
          headers: request.headers,
          body,
          // the deadlines are ours (above), or the caller's (Effect.timeout and friends)
          headersTimeout: 0,
          bodyTimeout: 0
        },
        {
          // called once a connection is open and the request is about to be written
          onRequestStart: (c) => {
            controller = c
            if (interrupted) {
              c.abort(new Error("request interrupted"))
              return
            }
            phase(limits?.headers, "headers")
          },
          onResponseStart: (_c, statusCode, responseHeaders) => {
            clearTimeout(phaseTimer)
            status = statusCode
            headers = responseHeaders
            const declared = limits === undefined ? undefined : declaredLength(responseHeaders)
            if (limits !== undefined && declared !== undefined && declared > limits.maxBytes) {
              abort(new ResponseTooLarge(limits.maxBytes, declared, statusCode))
            }
          },
          onResponseData: (_c, chunk) => {
            if (interrupted) return
            length += chunk.length
            if (limits !== undefined && length > limits.maxBytes) {
              abort(new ResponseTooLarge(limits.maxBytes, undefined, status))
              return
            }
            chunks.push(chunk)
          },
          onResponseEnd: () => {
            if (interrupted) return
            interrupted = true
            clearTimeout(timer)
            clearTimeout(phaseTimer)
            const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)
            resume(Effect.succeed(new BufferedResponse(request, status, headers, bytes)))
          },
          onResponseError: (_c, error) => fail(error)
        }
      )
    } catch (cause) {
      fail(cause)
    }
    return Effect.sync(() => {
      interrupted = true
      clearTimeout(timer)
      clearTimeout(phaseTimer)
      controller?.abort(new Error("request interrupted"))
    })
  })

/** The client over `dispatcher`, each request within `limits` (none when undefined). */
const build = (dispatcher: Dispatcher, limits: Kept | undefined): HttpClient.HttpClient => {
  const client = HttpClient.makeWith<
    HttpClientError.HttpClientError,
    never,
    HttpClientError.HttpClientError,
    never
  >(
    (effect) =>
      Effect.flatMap(effect, (request) => {
        const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
        if (url._tag === "Left") {
          return Effect.fail(
            new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left })
          )
        }
        return Effect.flatMap(requestBody(request.body), (body) =>
          body instanceof StreamBody
            ? Effect.ensuring(
                // undici reads any async iterable (its types only name Node's Readable)
                send(dispatcher, request, url.right, body as unknown as UndiciBody, limits),
                Effect.promise(() => body.stop())
              )
            : send(dispatcher, request, url.right, body, limits)
        )
      }),
    Effect.succeed
  )
  const capable: LimitsCapable = { [WithLimits]: (given) => build(dispatcher, kept(given)) }
  // The whole-answer deadline is the one `send` would keep otherwise: kept here when a timer can.
  return Object.assign(
    client,
    capable,
    limits === undefined ? {} : { [KeepsSize]: true },
    limits?.total === undefined ? {} : { [KeepsTimeout]: true }
  )
}

/**
 * An `HttpClient` over the given undici dispatcher.
 *
 * @since 0.1.0
 */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient => build(dispatcher, undefined)

/**
 * The client over its own keep-alive `Agent`, closed with the layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Agent()),
      (agent) => Effect.promise(() => agent.destroy())
    ),
    make
  )
)
