/**
 * The alert state of a file sink: `DIR/_alerts.json`, beside `_state.json`, one JSON object of
 * every stream's state (opaque here: see `Alerts.ts`), replaced atomically (temp file, fsync,
 * rename, fsync of the directory).
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Option } from "effect"
import { fsyncDir, orMissing, writeAtomic } from "./atomicFile.js"
import * as SinkErrors from "./sinkErrors.js"

/** The alert state file of a file sink. */
export const ALERTS_FILE = "_alerts.json"

const readAll = (dir: string, sink: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => orMissing(fs.readFile(path.join(dir, ALERTS_FILE), "utf8")),
      catch: SinkErrors.fromCause("Io", sink, "load alert state")
    })
    if (text === undefined) return {}
    const parsed = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (cause) =>
        SinkErrors.make("Corrupt", sink, "load alert state", `${ALERTS_FILE} is not valid JSON`, cause)
    })
    const streams =
      typeof parsed === "object" && parsed !== null && "streams" in parsed ? parsed.streams : undefined
    if (typeof streams !== "object" || streams === null) {
      return yield* SinkErrors.make(
        "Corrupt",
        sink,
        "load alert state",
        `${ALERTS_FILE} is not an alert state file`
      )
    }
    return streams as Record<string, unknown>
  })

/** The alert state of `streamKey` in `dir`. */
export const load = (dir: string, sink: string, streamKey: string) =>
  Effect.map(readAll(dir, sink), (streams) => Option.fromNullable(streams[streamKey]))

/** Replaces the alert state of `streamKey` in `dir` (the other streams' states kept). */
export const save = (dir: string, sink: string, streamKey: string, state: unknown) =>
  Effect.flatMap(readAll(dir, sink), (streams) =>
    Effect.tryPromise({
      try: async () => {
        const text = JSON.stringify({ version: 1, streams: { ...streams, [streamKey]: state } }, null, 1)
        await writeAtomic(dir, ALERTS_FILE, `${text}\n`)
        await fsyncDir(dir)
      },
      catch: SinkErrors.fromCause("Io", sink, "save alert state")
    })
  )
