/**
 * `taskhistory executions list`: the first page, `--limit N` executions, or `--all`, in any of
 * the execution formats, streamed.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Main from "@taskhistory/app-kit/Main"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import type { TaskHistoryError } from "@taskhistory/core/TaskHistoryError"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Chunk, Effect, Option, Stream } from "effect"
import { costNotice, provideConnection } from "../internal/connection.js"
import * as Format from "../internal/format.js"
import { examples, formatOption, rawCsv, usageError } from "../internal/options.js"
import * as Progress from "../internal/progress.js"
import * as Out from "../internal/stdout.js"

/** @internal */
export const list = Command.make(
  "list",
  {
    connection: ConnectionOptions.options,
    query: FilterOptions.options,
    limit: Options.integer("limit").pipe(
      Options.withPseudoName("N"),
      Options.withDescription("Print at most N executions (reads as many pages as needed)."),
      Options.optional
    ),
    all: Options.boolean("all").pipe(
      Options.withDescription("Print every matching execution (all pages, streamed, no duplicates).")
    ),
    format: formatOption(
      Format.formats,
      "table",
      "table (for people), json (one array), ndjson (one execution per line, as the API sent it), csv (header row)."
    ),
    rawCsv,
    common: Main.commonOptions
  },
  ({ all, common, connection, format, limit, query, rawCsv }) =>
    Effect.gen(function* () {
      if (all && Option.isSome(limit)) return yield* usageError("--limit and --all cannot be used together")
      if (Option.isSome(limit) && limit.value < 1) {
        return yield* usageError(`invalid --limit ${limit.value}: expected a positive integer`)
      }
      const client = yield* TaskHistoryClient
      const printer = Format.printer(format, { rawCsv })
      const progress = Progress.make(common.quiet || (!all && Option.isNone(limit)))
      let stream: Stream.Stream<WorkflowExecution, TaskHistoryError>
      if (all) {
        const plan = yield* costNotice(query, common.quiet)
        progress.setTotal(plan.total, plan.estimatedDuration)
        stream = client.executions(query, { firstPage: plan.firstPage })
      } else if (Option.isSome(limit)) {
        stream = client.executions(query, { limit: limit.value })
      } else {
        const page = yield* client.listPage(query, 0)
        const seen = new Set<string>()
        const records = page.records.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined)
        if (page.invalid.length > 0 && !common.quiet) {
          yield* Out.notice(
            `warning: ${page.invalid.length} record(s) of this page are not valid executions and were left out`
          )
        }
        const more = page.total !== undefined ? page.total > records.length : page.nextLink !== undefined
        if (more && !common.quiet) {
          yield* Out.notice(
            `showing the first ${records.length}${page.total === undefined ? "" : ` of ${page.total}`} executions: use --limit N or --all for more`
          )
        }
        stream = Stream.fromIterable(records)
      }
      yield* Out.forEachChunk(stream, (chunk) => {
        progress.add(chunk.length)
        return Out.write(printer.chunk(Chunk.toReadonlyArray(chunk)))
      }).pipe(Effect.ensuring(Effect.sync(() => progress.done())))
      yield* Out.write(printer.end())
    }).pipe(provideConnection(connection))
).pipe(
  Command.withDescription(
    examples("List executions. Without --limit or --all, prints the first page (up to 100).", [
      "taskhistory executions list --status failed --after 2023-02-16",
      "taskhistory executions list --all --format ndjson > executions.ndjson",
      "taskhistory executions list --workflow-id wf_123 --limit 500 --format csv"
    ])
  )
)
