import { Metric, MetricBoundaries } from "effect"

/** Requests sent to the API (every attempt, retries included). */
export const requests = Metric.counter("taskhistory_requests_total", {
  description: "Task History requests sent (every attempt)",
  incremental: true
})

/** Attempts that were retries of an earlier attempt. */
export const retries = Metric.counter("taskhistory_retries_total", {
  description: "Task History requests that were retries",
  incremental: true
})

/** 429 answers received. */
export const rateLimited = Metric.counter("taskhistory_rate_limited_total", {
  description: "429 answers received from the Task History API",
  incremental: true
})

/** Time spent waiting for the client-side rate limiter, in milliseconds. */
export const limiterWait = Metric.histogram(
  "taskhistory_rate_limiter_wait_ms",
  MetricBoundaries.exponential({ start: 1, factor: 4, count: 12 }),
  "Time waiting for the Task History rate limiter (ms)"
)

/** Total time spent waiting for the client-side rate limiter, in milliseconds. */
export const limiterWaitTotal = Metric.counter("taskhistory_rate_limiter_wait_ms_total", {
  description: "Total time waiting for the Task History rate limiter (ms)",
  incremental: true
})
