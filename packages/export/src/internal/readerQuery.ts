/**
 * What the export readers share with the public module: the filters an export cannot apply.
 *
 * @internal
 */
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Effect } from "effect"

/** Refuses `integration`: exported records do not carry their integration. */
export const checkQuery = (query: ExecutionQuery): Effect.Effect<ExecutionQuery, InvalidInput> =>
  query.integration === undefined
    ? Effect.succeed(query)
    : Effect.fail(
        new InvalidInput({
          field: "--integration",
          value: query.integration,
          expected:
            "no --integration with --source SINK: exported records do not carry their integration (export one sink per integration with the exporter's --integration, or read from the API)"
        })
      )
