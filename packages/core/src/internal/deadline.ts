/**
 * A request timeout that the HTTP client keeps itself, with its own timer, instead of a race of
 * fibers around each request. `UndiciHttpClient` can; `send` leaves the timeout to the client
 * when it does (`KeepsTimeout`) and the clock is the live one.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Duration } from "effect"

/**
 * On an `HttpClient` that can keep a timeout itself: the same client, each request of which fails
 * (a `RequestError` "Transport" caused by `AnswerTimeout`) when its whole answer (status, headers
 * and body) takes longer than `timeout`.
 */
export const WithTimeout: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/WithTimeout")

/** Present (true) on a client made by `[WithTimeout]`, and on the decorations of one. */
export const KeepsTimeout: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/KeepsTimeout")

/** A client that can keep a timeout itself. */
export interface TimeoutCapable {
  readonly [WithTimeout]: (timeout: Duration.Duration) => HttpClient.HttpClient
}

/** Whether `client` can keep a timeout itself. */
export const isTimeoutCapable = (
  client: HttpClient.HttpClient
): client is HttpClient.HttpClient & TimeoutCapable => WithTimeout in client

/** The cause of the transport failure of a request whose answer ran out of time. */
export class AnswerTimeout extends Error {
  constructor(readonly millis: number) {
    super(`no complete answer within ${millis} ms`)
    this.name = "AnswerTimeout"
  }
}
