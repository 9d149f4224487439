/**
 * The export reader of the file sinks: the days listed in `_state.json`, each day's file
 * (`part.ndjson`, `part.csv` or `part.parquet`, with a deferred Parquet day's journal applied)
 * decoded as the sink decodes it, one day at a time. No lock is taken: a running exporter
 * replaces files atomically, so each day is read whole in its old or its new version.
 *
 * @internal
 */
import * as path from "node:path"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import type { StepFailure } from "@taskhistory/core/StepErrors"
import { decodeExecution, type WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Chunk, Effect, Stream } from "effect"
import type { CountBy, ExportReaderShape, Freshness } from "../ExportReader.js"
import type { SinkError } from "../Sink.js"
import { dayDir, readDayFiles } from "./fileDays.js"
import { type FileFormatName, formats } from "./fileFormat.js"
import * as Manifest from "./fileManifest.js"
import { compareRows } from "./fileRow.js"
import { readStepFile, STEPS_DIR, stepFormats } from "./fileSteps.js"
import * as GroupCounts from "./groupCounts.js"
import { checkQuery } from "./readerQuery.js"
import * as SinkErrors from "./sinkErrors.js"

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)

const freshnessOf = (manifest: Manifest.Manifest): Freshness => {
  let lastRunAt: string | undefined
  let highWaterMark: string | undefined
  for (const s of manifest.states.values()) {
    if (
      s.lastRunAt !== undefined &&
      (lastRunAt === undefined || Date.parse(s.lastRunAt) > Date.parse(lastRunAt))
    ) {
      lastRunAt = s.lastRunAt
      highWaterMark = s.highWaterMark
    }
  }
  return { lastRunAt, highWaterMark, streams: manifest.states.size }
}

/** A reader of a file sink's directory. */
export const make = (format: FileFormatName, dir: string): Effect.Effect<ExportReaderShape, SinkError> =>
  Effect.gen(function* () {
    const name = `${format}:${dir}`
    const load = Effect.flatMap(Manifest.read(dir, format, name, "read state"), (m) =>
      m === undefined
        ? Effect.fail(
            SinkErrors.make(
              "Unavailable",
              name,
              "open",
              `no ${Manifest.STATE_FILE} in ${dir} (is this an export of taskhistory-exporter? run \`taskhistory-exporter run --sink ${name}\` first)`
            )
          )
        : Effect.succeed(m)
    )
    // Fails here, once, when the directory is not an export of this format.
    const opened = yield* load
    const file = formats[format]

    /** The rows of one day's file, read whole (as the sink decodes it). */
    const dayRows = (day: string, operation: "read executions" | "read steps") =>
      Effect.gen(function* () {
        const files = yield* Effect.tryPromise({
          try: () => readDayFiles(dayDir(dir, day), file),
          catch: SinkErrors.fromCause("Io", name, operation)
        })
        if (typeof files === "string") return yield* SinkErrors.make("Corrupt", name, operation, files)
        return files.rows
      })

    /** The days of `days` in the range of `query`, and the executions of a day that match it. */
    const selection = (query: ExecutionQuery, days: Iterable<string>) => {
      const after = query.afterDate === undefined ? undefined : Date.parse(query.afterDate)
      const before = query.beforeDate === undefined ? undefined : Date.parse(query.beforeDate)
      const inRange = [...days]
        .filter(
          (d) => (after === undefined || d >= dayOf(after)) && (before === undefined || d <= dayOf(before))
        )
        .sort()
      const keep = (e: WorkflowExecution) => {
        if (query.workflowId !== undefined && e.workflowId !== query.workflowId) return false
        if (query.userId !== undefined && e.userId !== query.userId) return false
        if (query.status !== undefined && e.status !== query.status) return false
        const ms = Date.parse(e.dateStarted)
        return (after === undefined || ms >= after) && (before === undefined || ms <= before)
      }
      /** The matching executions of a day's rows (of {@link dayRows}), in the given order. */
      const matching = (rows: Iterable<{ readonly rawText: string }>, f: (e: WorkflowExecution) => void) => {
        for (const row of rows) {
          const decoded = decodeExecution(JSON.parse(row.rawText))
          if (decoded._tag === "Right" && keep(decoded.right)) f(decoded.right)
        }
      }
      const readDay = (day: string, operation: "read executions" | "read steps") =>
        Effect.map(dayRows(day, operation), (rows) => {
          const out: Array<WorkflowExecution> = []
          matching([...rows.values()].sort(compareRows), (e) => out.push(e))
          return out
        })
      /** Each matching execution of a day, in no order (nothing of the day kept). */
      const eachOfDay = (day: string, f: (e: WorkflowExecution) => void) =>
        Effect.map(dayRows(day, "read executions"), (rows) => matching(rows.values(), f))
      return { days: inRange, readDay, eachOfDay }
    }

    const executions = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const { days, readDay } = selection(query, (yield* load).days.keys())
          return Stream.fromIterable(days).pipe(
            Stream.mapEffect((day) => Effect.map(readDay(day, "read executions"), Chunk.unsafeFromArray)),
            Stream.flattenChunks
          )
        })
      )

    /**
     * The failed steps of the matching executions: each step day joined with its executions' day.
     * Only for an export that holds step executions (made with `--steps`).
     */
    const stepFailures = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const { days, readDay } = selection(query, (yield* load).steps?.days.keys() ?? [])
          const stepFormat = stepFormats[format]
          const failuresOf = (day: string) =>
            Effect.gen(function* () {
              const workflows = new Map((yield* readDay(day, "read steps")).map((e) => [e.id, e.workflowId]))
              const steps = yield* Effect.tryPromise({
                try: () =>
                  readStepFile(path.join(dir, STEPS_DIR, `date=${day}`, stepFormat.file), stepFormat),
                catch: SinkErrors.fromCause("Io", name, "read steps")
              })
              if (typeof steps === "string")
                return yield* SinkErrors.make("Corrupt", name, "read steps", steps)
              const out: Array<StepFailure> = []
              for (const { row } of steps ?? []) {
                if (row.status !== "FAILED" || !workflows.has(row.executionId)) continue
                out.push({
                  executionId: row.executionId,
                  workflowId: workflows.get(row.executionId),
                  message: row.errorMessage
                })
              }
              return Chunk.unsafeFromArray(out)
            })
          return Stream.fromIterable(days).pipe(Stream.mapEffect(failuresOf), Stream.flattenChunks)
        })
      )
    // A fold over one day file at a time: no execution is kept once counted.
    const countBy = (query: ExecutionQuery, by: CountBy) =>
      Effect.gen(function* () {
        yield* checkQuery(query)
        const { days, eachOfDay } = selection(query, (yield* load).days.keys())
        const counter = GroupCounts.make(by)
        for (const day of days) {
          yield* eachOfDay(day, (e) =>
            counter.add(GroupCounts.groupValue(by, e), GroupCounts.one(e.status, Date.parse(e.dateStarted)))
          )
        }
        return counter.result()
      })

    return {
      name,
      executions,
      countBy,
      ...(opened.steps === undefined ? {} : { stepFailures }),
      freshness: Effect.map(load, freshnessOf)
    }
  })
