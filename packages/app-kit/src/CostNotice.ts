/**
 * The cost notice both binaries print before a long read: how many requests it needs (list pages,
 * and step requests when step executions are read, said to be an estimate) and how long that
 * takes at the rate limit.
 *
 * @since 0.3.0
 */
import type { CostPlan } from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { Duration } from "effect"

/**
 * Whether a plan is worth a notice: it takes over a minute at the rate limit.
 *
 * @since 0.3.0
 */
export const isLong = (plan: CostPlan): boolean =>
  Duration.greaterThan(plan.estimatedDuration, Duration.minutes(1))

/**
 * The notice of a plan, one line: `this read needs about 1,234 requests (...), about 12m at the
 * rate limit of 1000/10m (--rate-limit)`; when the estimate is mostly the requests' own time (a
 * limit far above the read), it says so instead. `what` names the read ("this read", "the first
 * run").
 *
 * @example
 * ```ts
 * import * as CostNotice from "@taskhistory/app-kit/CostNotice"
 * CostNotice.describe(plan, config.rateLimit, "this read")
 * ```
 *
 * @since 0.3.0
 */
export const describe = (plan: CostPlan, rateLimit: TaskHistoryConfig.RateLimit, what: string): string => {
  const steps = plan.steps
  const executions = plan.total === undefined ? "" : ` for ${plan.total} executions`
  const duration = Duration.format(Duration.seconds(Math.ceil(Duration.toSeconds(plan.estimatedDuration))))
  const limit = `the rate limit of ${TaskHistoryConfig.formatRateLimit(rateLimit)} (--rate-limit)`
  // The estimate is the waits for the rate limit's windows plus an assumed time per request: say
  // which of the two it mostly is (a high limit leaves only the requests' own time).
  const waits =
    Math.floor((plan.requests - 1) / Math.max(1, rateLimit.limit)) * Duration.toMillis(rateLimit.window)
  const at =
    2 * waits >= Duration.toMillis(plan.estimatedDuration)
      ? `about ${duration} at ${limit}`
      : `about ${duration}, mostly the requests' own time (assumed 250 ms each); ${limit} does not hold it back`
  if (steps === undefined) return `${what} needs ${plan.requests} requests${executions}, ${at}`
  const inScope =
    steps.executions === undefined
      ? " (how many is unknown: the API sent no total)"
      : ` (${steps.executions})`
  const failed = steps.failed === undefined ? "" : ` (${steps.failed})`
  return `${what} needs about ${plan.requests} requests (${plan.listRequests ?? plan.requests} list page request(s)${executions} + about ${steps.requests} step request(s), an estimate: one per ${steps.scope === "failed" ? "failed " : ""}execution${inScope} and one per failed step, counted as one per failed execution${failed}), ${at}`
}
