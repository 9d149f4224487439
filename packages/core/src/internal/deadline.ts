/**
 * Deadlines and a size limit that the HTTP client keeps itself, with its own timers and byte
 * count, instead of a race of fibers around each request and a body read whole before it is
 * measured. `UndiciHttpClient` can; `send` leaves them to the client when it does
 * (`KeepsTimeout`) and the clock is the live one, and otherwise keeps the whole-answer deadline
 * with `timeoutFail` and the size limit by reading the body's stream with a cap.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Duration } from "effect"

/** What one request may take: the deadlines of its phases and the largest body read. */
export interface Limits {
  /** The whole answer: status, headers and body. */
  readonly total: Duration.Duration
  /** The connection (TCP and TLS), until the request can be written. */
  readonly connect: Duration.Duration
  /** From the moment the request is written until the status and headers arrive. */
  readonly headers: Duration.Duration
  /** The largest body, in bytes. */
  readonly maxBytes: number
}

/**
 * On an `HttpClient` that can keep the limits itself: the same client, each request of which
 * fails (a `RequestError` "Transport" caused by `AnswerTimeout` or `ResponseTooLarge`) when a
 * phase takes longer than its deadline or the body grows past `maxBytes`.
 */
export const WithLimits: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/WithLimits")

/** Present (true) on a client made by `[WithLimits]`, and on the decorations of one. */
export const KeepsTimeout: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/KeepsTimeout")

/** Present (true) on a client made by `[WithLimits]`, and on the decorations of one: it keeps `maxBytes`. */
export const KeepsSize: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/KeepsSize")

/**
 * On a response whose body is in memory already (read whole by the client): its text, decoded
 * when this is called. A body kept as bytes until it is wanted is off the JavaScript heap
 * meanwhile (the pages a bulk read fetches ahead wait that way).
 */
export const BodyText: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/BodyText")

/** A response that has {@link BodyText}. */
export interface HasBodyText {
  readonly [BodyText]: () => string
}

/** A client that can keep the limits itself. */
export interface LimitsCapable {
  readonly [WithLimits]: (limits: Limits) => HttpClient.HttpClient
}

/** Whether `client` can keep the limits itself. */
export const isLimitsCapable = (
  client: HttpClient.HttpClient
): client is HttpClient.HttpClient & LimitsCapable => WithLimits in client

/** The phase of a request that ran out of time. */
export type Phase = "connect" | "headers" | "answer"

/** The cause of the transport failure of a request whose phase ran out of time. */
export class AnswerTimeout extends Error {
  constructor(
    readonly millis: number,
    readonly phase: Phase = "answer"
  ) {
    super(
      phase === "connect"
        ? `no connection within ${millis} ms`
        : phase === "headers"
          ? `no answer (status and headers) within ${millis} ms`
          : `no complete answer within ${millis} ms`
    )
    this.name = "AnswerTimeout"
  }
}

/** The cause of the failure of a request whose body is larger than the limit (not read further). */
export class ResponseTooLarge extends Error {
  constructor(
    readonly limit: number,
    /** The `content-length` the server announced, when it did. */
    readonly declared?: number | undefined,
    /** The status of the answer. */
    readonly status?: number | undefined
  ) {
    super(
      declared === undefined
        ? `the body grew past ${limit} bytes`
        : `the body is announced as ${declared} bytes, more than ${limit}`
    )
    this.name = "ResponseTooLarge"
  }
}
