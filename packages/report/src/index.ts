/**
 * @since 0.1.0
 */
export * as Names from "./Names.js"
/**
 * @since 0.1.0
 */
export * as Report from "./Report.js"
