/**
 * @since 0.1.0
 */
export * as ExecutionQuery from "./ExecutionQuery.js"
/**
 * @since 0.1.0
 */
export * as RateLimiter from "./RateLimiter.js"
/**
 * @since 0.3.0
 */
export * as StepErrors from "./StepErrors.js"
/**
 * @since 0.1.0
 */
export * as TaskHistoryClient from "./TaskHistoryClient.js"
/**
 * @since 0.1.0
 */
export * as TaskHistoryConfig from "./TaskHistoryConfig.js"
/**
 * @since 0.1.0
 */
export * as TaskHistoryError from "./TaskHistoryError.js"
/**
 * @since 0.1.0
 */
export * as TaskHistoryMetrics from "./TaskHistoryMetrics.js"
/**
 * @since 0.1.0
 */
export * as Usage from "./Usage.js"
/**
 * @since 0.1.0
 */
export * as WorkflowExecution from "./WorkflowExecution.js"
