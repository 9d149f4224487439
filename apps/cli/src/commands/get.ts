/**
 * `taskhistory executions get <executionId>`: one execution with its step executions, as JSON.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as Main from "@taskhistory/app-kit/Main"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import { Effect } from "effect"
import { provideConnection } from "../internal/connection.js"
import { examples, executionId } from "../internal/options.js"
import * as Out from "../internal/stdout.js"

/** @internal */
export const get = Command.make(
  "get",
  { connection: ConnectionOptions.options, executionId, common: Main.commonOptions },
  ({ connection, executionId }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const detail = yield* client.get(executionId)
      yield* Out.line(JSON.stringify(detail, null, 2))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print one execution with its step executions, as JSON.", [
      "taskhistory executions get 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10"
    ])
  )
)
