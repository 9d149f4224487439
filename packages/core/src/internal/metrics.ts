import { Effect, Metric, MetricBoundaries } from "effect"

/**
 * Requests sent to the API (every attempt, retries included), tagged `operation` (`list`, `get`,
 * `step`, `replay`) and `code`: the HTTP status of the answer, or what happened instead
 * (`timeout`, `refused`, `reset`, `network`). Only ever incremented tagged (see {@link countRequest}).
 */
export const requests = Metric.counter("taskhistory_api_requests_total", {
  description: "Task History API requests (every attempt), by operation and HTTP status or transport failure",
  incremental: true
})

/** The operations of the client, as the `operation` tag of {@link requests}. */
export type Operation = "list" | "get" | "step" | "replay"

const tagged = new Map<string, Metric.Metric.Counter<number>>()

/** The counter of one operation and outcome (each tagged counter built once). */
export const requestCounter = (operation: Operation, code: string): Metric.Metric.Counter<number> => {
  const key = `${operation} ${code}`
  let counter = tagged.get(key)
  if (counter === undefined) {
    counter = requests.pipe(Metric.tagged("operation", operation), Metric.tagged("code", code))
    tagged.set(key, counter)
  }
  return counter
}

/** Counts one attempt of `operation` that ended with `code`. */
export const countRequest = (operation: Operation, code: string): Effect.Effect<void> =>
  Metric.increment(requestCounter(operation, code))

/** Requests counted by {@link requests} so far, all tags together. */
export const requestsSent: Effect.Effect<number> = Effect.suspend(() =>
  Effect.reduce(tagged.values(), 0, (total, counter) =>
    Effect.map(Metric.value(counter), (state) => total + state.count)
  )
)

/** Attempts that were retries of an earlier attempt. */
export const retries = Metric.counter("taskhistory_api_retries_total", {
  description: "Task History API requests that were retries of an earlier attempt",
  incremental: true
})

/** 429 answers received. */
export const rateLimited = Metric.counter("taskhistory_api_rate_limited_total", {
  description: "429 answers received from the Task History API",
  incremental: true
})

/** Time spent waiting for the client-side rate limiter, in seconds. */
export const limiterWait = Metric.histogram(
  "taskhistory_rate_limit_wait_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 4, count: 12 }),
  "Time each Task History request waited for the rate limiter, in seconds"
)

/** Total time spent waiting for the client-side rate limiter, in seconds. */
export const limiterWaitTotal = Metric.counter("taskhistory_rate_limit_wait_seconds_total", {
  description: "Total time waiting for the Task History rate limiter, in seconds",
  incremental: true
})

/** Records one wait for the limiter of `ms` milliseconds (in seconds, the base unit). */
export const recordLimiterWait = (ms: number): Effect.Effect<void> =>
  Effect.zipRight(Metric.update(limiterWait, ms / 1000), Metric.incrementBy(limiterWaitTotal, ms / 1000))
