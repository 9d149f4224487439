/**
 * `taskhistory executions step <executionId> <stepExecutionId>`: one step's input and output, as
 * JSON.
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
import { examples, executionId } from "../internal/options.js"
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
    common: Main.commonOptions
  },
  ({ connection, executionId, stepExecutionId }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const result = yield* client.step(executionId, stepExecutionId)
      yield* Out.line(JSON.stringify(result, null, 2))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print one step's input and output, as JSON.", [
      "taskhistory executions step 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10 step_1"
    ])
  )
)
