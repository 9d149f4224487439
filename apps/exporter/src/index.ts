/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"
/**
 * @since 0.1.0
 */
export * as ExporterMetrics from "./ExporterMetrics.js"
/**
 * @since 0.1.0
 */
export * as RunSchedule from "./RunSchedule.js"
