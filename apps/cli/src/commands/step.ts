/**
 * `taskhistory executions step <executionId> <stepExecutionId>`: one step's input and output.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as Main from "@taskhistory/app-kit/Main"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import { Effect } from "effect"
import { provideConnection } from "../internal/connection.js"
import * as DetailFormat from "../internal/detailFormat.js"
import { examples, executionId, formatOption } from "../internal/options.js"
import * as Out from "../internal/stdout.js"

/** @internal */
export const step = Command.make(
  "step",
  {
    connection: ConnectionOptions.options,
    executionId,
    stepExecutionId: Args.text({ name: "stepExecutionId" }).pipe(
      Args.withDescription("The step execution's id.")
    ),
    format: formatOption(
      ["table", "json"],
      "table",
      "table (the step's error, input and output, indented), or json (the step as served)."
    ),
    common: Main.commonOptions
  },
  ({ connection, executionId, format, stepExecutionId }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const result = yield* client.step(executionId, stepExecutionId)
      yield* format === "json"
        ? Out.line(JSON.stringify(result, null, 2))
        : Out.write(DetailFormat.stepTable(executionId, result))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print one step's input and output (and its error, when it failed).", [
      "taskhistory executions step 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10 step_1",
      "taskhistory executions step 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10 step_1 --format json | jq .output"
    ])
  )
)
