/**
 * The `taskhistory` command, for embedding or testing (`Main.run(command, ...)`).
 *
 * @since 0.1.0
 */
export { command } from "./Cli.js"
