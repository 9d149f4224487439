/**
 * `taskhistory executions replay`: one execution by id, or every execution matching the filters
 * (bulk, see `replayBulk.ts`), with the guard rails: bulk sends nothing without `--yes`.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FileMode from "@taskhistory/app-kit/FileMode"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Main from "@taskhistory/app-kit/Main"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import { Clock, Effect, Either, Option } from "effect"
import { provideConnection } from "../internal/connection.js"
import * as Format from "../internal/format.js"
import { examples, formatOption, rawCsv, usageError } from "../internal/options.js"
import * as Out from "../internal/stdout.js"
import { bulkReplay } from "./replayBulk.js"

/** @internal */
export const replay = Command.make(
  "replay",
  {
    connection: ConnectionOptions.options,
    executionId: Args.text({ name: "executionId" }).pipe(
      Args.withDescription("Replay this one execution. Without it, every execution matching the filters."),
      Args.optional
    ),
    filters: FilterOptions.flags,
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("Bulk: list the ids that would be replayed; send nothing.")
    ),
    yes: Options.boolean("yes").pipe(
      Options.withAlias("y"),
      Options.withDescription("Bulk: really replay every match. Without it nothing is sent.")
    ),
    log: Options.text("log").pipe(
      Options.withPseudoName("FILE"),
      Options.withDescription(
        "Bulk: append each id and its outcome to FILE; run again with the same FILE to resume without replaying anything twice."
      ),
      Options.optional
    ),
    format: formatOption(
      Format.formats,
      "table",
      "One id: the new execution as table, json (as served), ndjson or csv (the list's columns). Bulk: one row per id (outcome, execution, new execution or error) as table, ndjson or csv, or json (one document with the rows and the summary)."
    ),
    rawCsv,
    umask: FileMode.umaskOption,
    common: Main.commonOptions
  },
  ({ common, connection, dryRun, executionId, filters, format, log, rawCsv, umask, yes }) =>
    Effect.gen(function* () {
      yield* FileMode.apply(umask)
      const now = yield* Clock.currentTimeMillis
      const query = yield* Either.match(FilterOptions.make(filters, now), {
        onLeft: (text) => Effect.fail(usageError(text)),
        onRight: Effect.succeed
      })
      if (Option.isSome(executionId)) {
        const hasFilters = Object.keys(query).length > 0
        if (hasFilters || dryRun || Option.isSome(log)) {
          return yield* usageError(
            "replay <executionId> takes no filters, --dry-run or --log: give either one id, or filters with --dry-run or --yes"
          )
        }
        const client = yield* TaskHistoryClient
        const result = yield* client.replay(executionId.value)
        if (format === "json") return yield* Out.line(JSON.stringify(result, null, 2))
        const printer = Format.printer(format, { rawCsv })
        yield* Out.write(printer.chunk([result]) + printer.end())
        return
      }
      if (dryRun && yes) return yield* usageError("--dry-run and --yes cannot be used together")
      if (!dryRun && !yes) {
        return yield* usageError(
          "bulk replay sends nothing without --yes: run it with --dry-run to see what would be replayed, then with --yes"
        )
      }
      yield* bulkReplay({ query, dryRun, log, quiet: common.quiet, format, rawCsv })
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples(
      "Replay one execution (prints the new execution), or every execution matching the filters (bulk).",
      [
        "taskhistory executions replay 3f1c2a9e-0b7d-4c55-9e21-6a8f0d4b7c10",
        "taskhistory executions replay --status failed --after 2023-02-16 --dry-run",
        "taskhistory executions replay --status failed --after 2023-02-16 --yes --log replay.log",
        "taskhistory executions replay --status failed --after 7d --yes --format ndjson | jq -r .newExecutionId"
      ],
      [
        "Bulk replay reads every match first, then replays each id once, within the rate limit, and prints one line per id (replayed, failed or unknown) and a summary on stderr. Replays have no idempotency key: one whose outcome is unknown (timeout, 5xx) is never re-sent, and the exit code is 7."
      ]
    )
  )
)
