/**
 * @since 0.1.0
 */
export * from "./TaskHistory.js"
/**
 * @since 0.1.0
 */
export * from "./TaskHistoryError.js"
