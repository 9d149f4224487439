/**
 * `taskhistory executions get <executionId>`: one execution with its step executions; as a
 * table, with the failed step's error message (one more request) for a failed execution.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as Main from "@taskhistory/app-kit/Main"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import * as WorkflowExecution from "@taskhistory/core/WorkflowExecution"
import { Effect, Either } from "effect"
import { provideConnection } from "../internal/connection.js"
import * as DetailFormat from "../internal/detailFormat.js"
import { examples, executionId, formatOption } from "../internal/options.js"
import * as Out from "../internal/stdout.js"

/** @internal */
export const get = Command.make(
  "get",
  {
    connection: ConnectionOptions.options,
    executionId,
    format: formatOption(
      ["table", "json"],
      "table",
      "table (the execution, its steps and a failed step's error), or json (the execution with its stepExecutions, as served)."
    ),
    common: Main.commonOptions
  },
  ({ connection, executionId, format }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const detail = yield* client.get(executionId)
      // As served: steps the client set apart as malformed are printed where they were.
      if (format === "json")
        return yield* Out.line(JSON.stringify(WorkflowExecution.asServed(detail), null, 2))
      let note: DetailFormat.FailureNote | undefined
      if (detail.status.toUpperCase() === "FAILED") {
        const failed = DetailFormat.failedStep(detail)
        if (failed === undefined) {
          note = { _tag: "NoFailedStep" }
        } else {
          const step = yield* Effect.either(client.step(detail.id, failed.id))
          if (Either.isLeft(step)) {
            note = { _tag: "Unreadable", stepId: failed.id, reason: step.left.message }
          } else {
            const message = DetailFormat.errorMessageOf(step.right)
            note =
              message === undefined
                ? {
                    _tag: "NotInOutput",
                    stepId: failed.id,
                    largeOutput: step.right.isLargeOutput === true ? step.right.output : undefined
                  }
                : { _tag: "Found", stepId: failed.id, message }
          }
        }
      }
      yield* Out.write(DetailFormat.executionTable(detail, note))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples(
      "Print one execution with its steps (status, timing). For a failed execution the table also shows the failed step's error message, read with one more request (the step's output).",
      [
        "taskhistory executions get 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10",
        "taskhistory executions get 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10 --format json | jq '.stepExecutions[].status'"
      ]
    )
  )
)
