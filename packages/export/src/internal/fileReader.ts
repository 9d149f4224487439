/**
 * The export reader of the file sinks: the days listed in `_state.json`, each day's file
 * (`part.ndjson`, `part.csv` or `part.parquet`, with a deferred Parquet day's journal applied)
 * decoded as the sink decodes it, one day at a time. No lock is taken: a running exporter
 * replaces files atomically, so each day is read whole in its old or its new version.
 *
 * @internal
 */
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { decodeExecution, type WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Chunk, Effect, Stream } from "effect"
import type { ExportReaderShape, Freshness } from "../ExportReader.js"
import type { SinkError } from "../Sink.js"
import { dayDir, readDayFiles } from "./fileDays.js"
import { type FileFormatName, formats } from "./fileFormat.js"
import * as Manifest from "./fileManifest.js"
import { compareRows } from "./fileRow.js"
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
    yield* load
    const file = formats[format]

    const executions = (query: ExecutionQuery) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* checkQuery(query)
          const manifest = yield* load
          const after = query.afterDate === undefined ? undefined : Date.parse(query.afterDate)
          const before = query.beforeDate === undefined ? undefined : Date.parse(query.beforeDate)
          const days = [...manifest.days.keys()]
            .filter(
              (d) =>
                (after === undefined || d >= dayOf(after)) && (before === undefined || d <= dayOf(before))
            )
            .sort()
          const keep = (e: WorkflowExecution) => {
            if (query.workflowId !== undefined && e.workflowId !== query.workflowId) return false
            if (query.userId !== undefined && e.userId !== query.userId) return false
            if (query.status !== undefined && e.status !== query.status) return false
            const ms = Date.parse(e.dateStarted)
            return (after === undefined || ms >= after) && (before === undefined || ms <= before)
          }
          const readDay = (day: string) =>
            Effect.gen(function* () {
              const files = yield* Effect.tryPromise({
                try: () => readDayFiles(dayDir(dir, day), file),
                catch: SinkErrors.fromCause("Io", name, "read executions")
              })
              if (typeof files === "string") {
                return yield* SinkErrors.make("Corrupt", name, "read executions", files)
              }
              const rows = [...files.rows.values()].sort(compareRows)
              const out: Array<WorkflowExecution> = []
              for (const row of rows) {
                const decoded = decodeExecution(JSON.parse(row.rawText))
                if (decoded._tag === "Right" && keep(decoded.right)) out.push(decoded.right)
              }
              return Chunk.unsafeFromArray(out)
            })
          return Stream.fromIterable(days).pipe(Stream.mapEffect(readDay), Stream.flattenChunks)
        })
      )
    return { name, executions, freshness: Effect.map(load, freshnessOf) }
  })
