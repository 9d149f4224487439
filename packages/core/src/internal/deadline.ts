/**
 * A request timeout that the HTTP client keeps itself, with its own timer, instead of a race of
 * fibers around the request. `UndiciHttpClient` honours it; `send` uses it when the client says
 * so (`TimeoutAware`) and the clock is the live one.
 */
import { type Duration, FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"

/** The time the whole answer (status, headers and body) may take; `undefined`: no limit. */
export const currentTimeout: FiberRef.FiberRef<Duration.Duration | undefined> = globalValue(
  Symbol.for("@taskhistory/core/internal/deadline/currentTimeout"),
  () => FiberRef.unsafeMake<Duration.Duration | undefined>(undefined)
)

/** Present (true) on an `HttpClient` that applies `currentTimeout` to each request. */
export const TimeoutAware: unique symbol = Symbol.for("@taskhistory/core/internal/deadline/TimeoutAware")

/** The cause of the transport failure of a request that ran out of `currentTimeout`. */
export class AnswerTimeout extends Error {
  constructor(readonly millis: number) {
    super(`no complete answer within ${millis} ms`)
    this.name = "AnswerTimeout"
  }
}
