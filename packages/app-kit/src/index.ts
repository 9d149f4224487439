/**
 * @since 0.1.0
 */
export * as ConnectionOptions from "./ConnectionOptions.js"
/**
 * @since 0.3.0
 */
export * as CostNotice from "./CostNotice.js"
/**
 * @since 0.2.0
 */
export * as Dates from "./Dates.js"
/**
 * @since 0.1.0
 */
export * as FileMode from "./FileMode.js"
/**
 * @since 0.1.0
 */
export * as FilterOptions from "./FilterOptions.js"
/**
 * @since 0.1.0
 */
export * as InputFile from "./InputFile.js"
/**
 * @since 0.1.0
 */
export * as Main from "./Main.js"
/**
 * @since 0.2.0
 */
export * as OutputFormat from "./OutputFormat.js"
