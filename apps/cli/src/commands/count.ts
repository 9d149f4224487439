/**
 * `taskhistory executions count`: the number of matching executions.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Main from "@taskhistory/app-kit/Main"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import { Effect } from "effect"
import { provideConnection } from "../internal/connection.js"
import { examples, formatOption } from "../internal/options.js"
import * as Out from "../internal/stdout.js"

/** @internal */
export const count = Command.make(
  "count",
  {
    connection: ConnectionOptions.options,
    query: FilterOptions.unorderedOptions,
    format: formatOption(["table", "json"], "table", 'table (the number alone), or json ({"count": N}).'),
    common: Main.commonOptions
  },
  ({ connection, format, query }) =>
    Effect.gen(function* () {
      const client = yield* TaskHistoryClient
      const n = yield* client.count(query)
      yield* Out.line(format === "json" ? JSON.stringify({ count: n }) : String(n))
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("Print the number of matching executions (one request when the API sends `total`).", [
      "taskhistory executions count --status failed",
      "taskhistory executions count --user-id user_42 --after 2023-02-01 --before 2023-03-01",
      "taskhistory executions count --after 24h --format json"
    ])
  )
)
