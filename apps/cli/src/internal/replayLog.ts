/**
 * The bulk-replay log: one JSON line per event, so an interrupted run can resume without
 * replaying anything twice. Before a replay is sent, a `sending` line is written and flushed to
 * disk; after the answer, an outcome line. On resume, an id with a `replayed` or `unknown`
 * outcome, or a `sending` line with no outcome (the run stopped while the request was in
 * flight), is never sent again; an id whose replay `failed` (the server refused it, so nothing
 * was applied) is tried again.
 *
 * @internal
 */
import * as fs from "node:fs"
import { CliError } from "@taskhistory/app-kit/Main"
import { Effect } from "effect"

/** @internal */
export type Outcome = "replayed" | "failed" | "unknown"

/** @internal */
export interface Entry {
  readonly id: string
  readonly event: "sending" | Outcome
  readonly newId?: string | undefined
  readonly error?: string | undefined
  readonly at: string
}

/** What the log says about each id: its last event. @internal */
export type LogState = ReadonlyMap<string, Entry["event"]>

/** Ids the log forbids sending again. @internal */
export const isSettled = (event: Entry["event"] | undefined): boolean =>
  event === "replayed" || event === "unknown" || event === "sending"

const bad = (path: string, error: unknown) =>
  new CliError({
    exitCode: 2,
    text: `cannot use replay log ${JSON.stringify(path)}: ${error instanceof Error ? error.message : String(error)}`
  })

/** Reads a log (a missing file is an empty log). @internal */
export const load = (path: string): Effect.Effect<LogState, CliError> =>
  Effect.try({
    try: () => {
      const state = new Map<string, Entry["event"]>()
      if (!fs.existsSync(path)) return state
      for (const line of fs.readFileSync(path, "utf8").split("\n")) {
        if (line.trim() === "") continue
        let entry: unknown
        try {
          entry = JSON.parse(line)
        } catch {
          // A torn last line from a crash: the id it named has a `sending` line before it.
          continue
        }
        if (typeof entry === "object" && entry !== null && "id" in entry && "event" in entry) {
          const { id, event } = entry as { id: unknown; event: unknown }
          if (
            typeof id === "string" &&
            (event === "sending" || event === "replayed" || event === "failed" || event === "unknown")
          ) {
            const previous = state.get(id)
            // `failed` after `sending` is final for that attempt; `sending` again re-arms it.
            if (!(previous === "replayed" || previous === "unknown") || event !== "sending")
              state.set(id, event)
          }
        }
      }
      return state
    },
    catch: (error) => bad(path, error)
  })

/** @internal */
export interface Writer {
  readonly append: (entry: Omit<Entry, "at">) => Effect.Effect<void, CliError>
}

/** Opens a log for appending; each entry is flushed to disk before the next request. @internal */
export const open = (path: string): Effect.Effect<Writer, CliError, import("effect/Scope").Scope> =>
  Effect.acquireRelease(
    Effect.try({ try: () => fs.openSync(path, "a"), catch: (error) => bad(path, error) }),
    (fd) => Effect.sync(() => fs.closeSync(fd))
  ).pipe(
    Effect.map((fd) => ({
      append: (entry) =>
        Effect.try({
          try: () => {
            fs.writeSync(fd, `${JSON.stringify({ ...entry, at: new Date().toISOString() })}\n`)
            fs.fsyncSync(fd)
          },
          catch: (error) => bad(path, error)
        })
    }))
  )

/** A log that writes nothing (no `--log`). @internal */
export const noLog: Writer = { append: () => Effect.void }
