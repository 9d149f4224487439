/**
 * The `taskhistory` binary.
 *
 * @since 0.1.0
 */
import * as Main from "@taskhistory/app-kit/Main"
import { command } from "./Cli.js"

/** Set by the bundler (build.mjs) from package.json. */
declare const __TASKHISTORY_VERSION__: string | undefined

const version = typeof __TASKHISTORY_VERSION__ === "string" ? __TASKHISTORY_VERSION__ : "0.0.0-dev"

Main.runMain(command, { name: "taskhistory", version })
