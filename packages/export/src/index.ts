/**
 * @since 0.3.0
 */
export * as Alerts from "./Alerts.js"
/**
 * @since 0.1.0
 */
export * as Columns from "./Columns.js"
/**
 * @since 0.1.0
 */
export * as Csv from "./Csv.js"
/**
 * @since 0.1.0
 */
export * as Exporter from "./Exporter.js"
/**
 * @since 0.2.0
 */
export * as ExportMetrics from "./ExportMetrics.js"
/**
 * @since 0.1.0
 */
export * as ExportReader from "./ExportReader.js"
/**
 * @since 0.1.0
 */
export * as FileSink from "./FileSink.js"
/**
 * @since 0.1.0
 */
export * as PostgresSink from "./PostgresSink.js"
/**
 * @since 0.1.0
 */
export * as Sink from "./Sink.js"
/**
 * @since 0.1.0
 */
export * as SinkSpec from "./SinkSpec.js"
/**
 * @since 0.1.0
 */
export * as SqliteSink from "./SqliteSink.js"
