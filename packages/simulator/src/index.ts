/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export type { RunningSimulator, SimulatorOptions } from "./Simulator.js"
export * as Simulator from "./Simulator.js"
/**
 * Starts a simulator without Effect: see `Simulator.startSimulator`.
 *
 * @since 0.1.0
 */
export { startSimulator } from "./Simulator.js"
