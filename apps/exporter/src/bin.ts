/**
 * The `taskhistory-exporter` binary.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as FileMode from "@taskhistory/app-kit/FileMode"
import * as Main from "@taskhistory/app-kit/Main"
import { Cause, Effect, Exit } from "effect"
import { command } from "./Cli.js"
import { version } from "./internal/version.js"

// What the exporter creates holds customer data: owner only, unless --umask says otherwise.
FileMode.privateByDefault()

process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
})

// A signal (SIGTERM/SIGINT) interrupts the main fiber: the batch in flight is finished or rolled
// back, the state is saved, and the process exits 0 (the contract of the exporter).
NodeRuntime.runMain(
  Main.run(command, { name: "taskhistory-exporter", version }).pipe(Effect.provide(NodeContext.layer)),
  {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      // Every line written reaches stdout and stderr before the process exits.
      Main.exitWhenDrained(
        Exit.isSuccess(exit)
          ? typeof exit.value === "number"
            ? exit.value
            : 1
          : Cause.isInterruptedOnly(exit.cause)
            ? 0
            : 1,
        onExit
      )
    }
  }
)
