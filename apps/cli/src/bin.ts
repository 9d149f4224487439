/**
 * The `taskhistory` binary.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as Main from "@taskhistory/app-kit/Main"
import { command } from "./Cli.js"

const version = (): string => {
  try {
    const pkg: unknown = createRequire(import.meta.url)("../package.json")
    return typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string"
      ? pkg.version
      : "unknown"
  } catch {
    return "unknown"
  }
}

Main.runMain(command, { name: "taskhistory", version: version() })
