/**
 * Bulk replay (`taskhistory executions replay [filters] --dry-run | --yes`): reads every match
 * first, then replays each id once, within the rate limit, with a resumable log, one line per id
 * on stdout and a summary on stderr.
 *
 * @internal
 */
import * as Main from "@taskhistory/app-kit/Main"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import type * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import type { TaskHistoryError } from "@taskhistory/core/TaskHistoryError"
import { escapeControls, exitCode } from "@taskhistory/core/TaskHistoryError"
import { idProblem } from "@taskhistory/core/WorkflowExecution"
import { Effect, Either, Option, Stream } from "effect"
import { costNotice } from "../internal/connection.js"
import * as Format from "../internal/format.js"
import * as Progress from "../internal/progress.js"
import * as ReplayLog from "../internal/replayLog.js"
import * as Out from "../internal/stdout.js"

interface ReplaySummary {
  replayed: number
  failed: number
  unknown: number
  skipped: number
  firstFailureCode: number | undefined
}

/** @internal */
export interface BulkReplayOptions {
  readonly query: ExecutionQuery
  readonly dryRun: boolean
  readonly log: Option.Option<string>
  readonly quiet: boolean
  readonly format?: Format.Format
  readonly rawCsv?: boolean
}

/** One id's outcome: a row of every format. @internal */
export interface ReplayRow {
  readonly outcome: "replayed" | "failed" | "unknown" | "dry-run"
  readonly executionId: string
  readonly newExecutionId?: string
  /** The failure's kind (`Unauthorized`, `NotFound`, ...) and its message. */
  readonly error?: string
  readonly message?: string
}

const csvHeader = ["outcome", "executionId", "newExecutionId", "error", "message"]

/**
 * The rows as they come: `table` (tab-separated: outcome, id, new id or error kind; a dry run
 * prints the ids alone), `ndjson`, `csv`; `json` holds them for one document at the end.
 */
const rowWriter = (format: Format.Format, rawCsv: boolean) => {
  const held: Array<ReplayRow> = []
  let header = format === "csv"
  return {
    held,
    write: (row: ReplayRow): Effect.Effect<void> => {
      switch (format) {
        case "json":
          return Effect.sync(() => {
            held.push(row)
          })
        case "ndjson":
          return Out.line(JSON.stringify(row))
        case "csv": {
          const head = header ? `${Format.csvRow(csvHeader)}\n` : ""
          header = false
          return Out.write(
            `${head}${Format.csvRow(
              [
                row.outcome,
                row.executionId,
                row.newExecutionId ?? null,
                row.error ?? null,
                row.message ?? null
              ],
              rawCsv
            )}\n`
          )
        }
        case "table":
          return Out.line(
            row.outcome === "dry-run"
              ? escapeControls(row.executionId)
              : [row.outcome, row.executionId, row.outcome === "failed" ? row.error : row.newExecutionId]
                  .filter((c) => c !== undefined)
                  .map((c) => escapeControls(c))
                  .join("\t")
          )
      }
    },
    /** The csv header when no row came; the json document. */
    end: (summary: Record<string, number | boolean>): Effect.Effect<void> =>
      format === "json"
        ? Out.line(JSON.stringify({ results: held, summary }, null, 2))
        : header
          ? Out.write(`${Format.csvRow(csvHeader)}\n`)
          : Effect.void
  }
}

/**
 * Runs a bulk replay (or its dry run). Stops at the first 401, exhausted 429 or unavailable
 * shared limiter; ends with exit code 7 when any outcome is unknown, else the first failure's
 * code.
 *
 * @internal
 */
export const bulkReplay = (
  options: BulkReplayOptions
): Effect.Effect<
  number,
  TaskHistoryError | Main.CliError,
  TaskHistoryClient | TaskHistoryConfig.TaskHistoryConfig
> =>
  Effect.gen(function* () {
    const client = yield* TaskHistoryClient
    const state: ReplayLog.LogState = Option.isSome(options.log)
      ? yield* ReplayLog.load(options.log.value)
      : new Map()
    const plan = yield* costNotice(options.query, options.quiet)
    // Collect the ids first: replays add new executions to the list while we page.
    const ids: Array<string> = []
    const seen = new Set<string>()
    // Ids from the server go through the same check as ids typed by a user: one that cannot be
    // one path segment ("", ".", "..") would send the replay elsewhere. Reported, never sent.
    const refused: Array<{ readonly id: string; readonly problem: string }> = []
    let skipped = 0
    yield* Stream.runForEach(client.executions(options.query, { firstPage: plan.firstPage }), (e) =>
      Effect.sync(() => {
        if (seen.has(e.id)) return
        seen.add(e.id)
        const problem = idProblem(e.id)
        if (problem !== undefined) refused.push({ id: e.id, problem })
        else if (ReplayLog.isSettled(state.get(e.id))) skipped++
        else ids.push(e.id)
      })
    )
    for (const { id, problem } of refused) {
      yield* Out.notice(
        `skipped execution id ${escapeControls(JSON.stringify(id))} from the server: it ${problem} and cannot name one execution; not sent`
      )
    }
    const refusal =
      refused.length === 0
        ? undefined
        : new Main.CliError({
            exitCode: 6,
            text: `the server listed ${refused.length} execution id(s) that cannot be sent ("", "." or ".."): they were skipped (see the lines starting with "skipped")`
          })
    const rows = rowWriter(options.format ?? "table", options.rawCsv === true)
    if (options.dryRun) {
      for (const id of ids) yield* rows.write({ outcome: "dry-run", executionId: id })
      yield* rows.end({ dryRun: true, wouldReplay: ids.length, skipped, refused: refused.length })
      if (!options.quiet) {
        yield* Out.notice(
          `dry run: ${ids.length} execution(s) would be replayed${skipped > 0 ? `, ${skipped} skipped (already in the log)` : ""}${refused.length > 0 ? `, ${refused.length} refused (ids that cannot be sent)` : ""}; nothing was sent`
        )
      }
      if (refusal !== undefined) return yield* Effect.fail(refusal)
      return 0
    }
    const writer = Option.isSome(options.log) ? yield* ReplayLog.open(options.log.value) : ReplayLog.noLog
    const summary: ReplaySummary = {
      replayed: 0,
      failed: 0,
      unknown: 0,
      skipped,
      firstFailureCode: undefined
    }
    const progress = Progress.make(options.quiet, "replays")
    progress.setTotal(ids.length)
    let aborted: TaskHistoryError | undefined
    for (const id of ids) {
      yield* writer.append({ id, event: "sending" })
      const result = yield* Effect.either(client.replay(id))
      progress.add(1)
      if (Either.isRight(result)) {
        summary.replayed++
        yield* writer.append({ id, event: "replayed", newId: result.right.id })
        yield* rows.write({ outcome: "replayed", executionId: id, newExecutionId: result.right.id })
        continue
      }
      const error = result.left
      if (error._tag === "ReplayOutcomeUnknown") {
        summary.unknown++
        yield* writer.append({ id, event: "unknown", error: error.message })
        yield* rows.write({ outcome: "unknown", executionId: id, error: error._tag, message: error.message })
        continue
      }
      summary.failed++
      summary.firstFailureCode ??= exitCode(error)
      yield* writer.append({ id, event: "failed", error: error.message })
      yield* rows.write({ outcome: "failed", executionId: id, error: error._tag, message: error.message })
      // Every further replay would fail the same way: stop (what was not sent is resumable).
      if (
        error._tag === "Unauthorized" ||
        error._tag === "RateLimited" ||
        error._tag === "RateLimiterUnavailable"
      ) {
        aborted = error
        break
      }
    }
    progress.done()
    const notSent = ids.length - summary.replayed - summary.failed - summary.unknown
    yield* rows.end({
      dryRun: false,
      replayed: summary.replayed,
      failed: summary.failed,
      unknown: summary.unknown,
      skipped: summary.skipped,
      refused: refused.length,
      notSent
    })
    yield* Out.notice(
      `replayed ${summary.replayed}, failed ${summary.failed}, unknown outcome ${summary.unknown}${summary.skipped > 0 ? `, skipped ${summary.skipped} (already in the log)` : ""}${refused.length > 0 ? `, refused ${refused.length} (ids that cannot be sent)` : ""}${notSent > 0 ? `, not sent ${notSent}` : ""}`
    )
    if (aborted !== undefined) return yield* Effect.fail(aborted)
    if (summary.unknown > 0) {
      return yield* new Main.CliError({
        exitCode: 7,
        text: `${summary.unknown} replay(s) may or may not have been applied and were not re-sent: check the execution list before replaying them again`
      })
    }
    if (summary.firstFailureCode !== undefined) {
      return yield* new Main.CliError({
        exitCode: summary.firstFailureCode,
        text: `${summary.failed} replay(s) failed (see the lines starting with "failed")`
      })
    }
    if (refusal !== undefined) return yield* Effect.fail(refusal)
    return 0
  }).pipe(Effect.scoped)
