/**
 * Usage aggregation over executions (filled in by the CLI work).
 *
 * @since 0.1.0
 */
export {}
