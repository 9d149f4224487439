/**
 * Readers of the scanner (`scan.ts`): a scanner run a few pages ahead of its consumer in a fiber
 * of its own ({@link readAhead}); a long range read as up to four windows at once, handed over in
 * order ({@link scanWindows}); and the consumer's loop that groups steps into batches
 * ({@link drain}).
 *
 * @internal
 */
import type * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import { Effect, Exit, Queue, type Scope } from "effect"
import type { RunCursor } from "./cursor.js"
import type { ExportError } from "./exportError.js"
import * as L from "./ledger.js"
import { type Pull, type Step, scan } from "./scan.js"

/** Windows read at once on a long range, and the shortest range worth splitting per window. */
const MAX_WINDOWS = 4
const MIN_WINDOW_MS = 6 * L.HOUR

/**
 * Runs `pull` in a fiber of its own, up to `capacity` steps ahead of the reader of the returned
 * pull (plain fiber and queue: no stream stages per page). The fiber ends with the scope.
 */
export const readAhead = (pull: Pull, capacity: number): Effect.Effect<Pull, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.bounded<Exit.Exit<Step | undefined, RequestError | ExportError>>(capacity)
    const produce = Effect.gen(function* () {
      for (;;) {
        const exit = yield* Effect.exit(pull)
        yield* Queue.offer(queue, exit)
        if (Exit.isFailure(exit) || exit.value === undefined) return
      }
    })
    yield* Effect.forkScoped(produce)
    let ended = false
    return Effect.suspend(() =>
      ended
        ? Effect.succeed(undefined)
        : Effect.flatMap(Queue.take(queue), (exit) => {
            if (Exit.isFailure(exit) || exit.value === undefined) ended = true
            return exit
          })
    )
  })

/** What the earlier windows observed, carried into the cursors of the later ones. */
interface Observed {
  readonly minOpen: number | undefined
  readonly longest: number
  readonly inclusive: boolean
}

const merge = (acc: Observed, c: RunCursor): Observed => ({
  minOpen:
    acc.minOpen === undefined
      ? c.minOpen
      : c.minOpen === undefined
        ? acc.minOpen
        : Math.min(acc.minOpen, c.minOpen),
  longest: Math.max(acc.longest, c.longestRunMs),
  inclusive: acc.inclusive || c.afterInclusive
})

/**
 * Reads [start.lower, end) as up to {@link MAX_WINDOWS} consecutive windows of start dates, each
 * with its own keyset reader, fetched at the same time but handed over in order (each window
 * reads `prefetch` pages ahead). So the cursor still means "everything before it is read": a
 * window's steps come only after every earlier window is complete. The cursors of the steps carry
 * what the earlier windows observed (running executions, longest run, inclusive bounds).
 */
export const scanWindows = (
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  start: RunCursor,
  prefetch: number
): Effect.Effect<Pull, never, Scope.Scope> =>
  Effect.gen(function* () {
    const endMs = Date.parse(start.end)
    const range = Math.max(0, endMs - start.lower)
    const count = Math.max(1, Math.min(MAX_WINDOWS, Math.floor(range / MIN_WINDOW_MS)))
    if (count === 1) return yield* readAhead(scan(client, query, start, endMs), prefetch)
    const bounds = Array.from({ length: count + 1 }, (_, i) =>
      i === count ? endMs : start.lower + Math.floor((range * i) / count)
    )
    const windows: Array<Pull> = []
    for (let i = 0; i < count; i++) {
      const window = scan(client, query, { ...start, lower: bounds[i]!, minOpen: undefined }, bounds[i + 1]!)
      windows.push(yield* readAhead(window, prefetch))
    }
    let index = 0
    let acc: Observed = {
      minOpen: start.minOpen,
      longest: start.longestRunMs,
      inclusive: start.afterInclusive
    }
    const next: Pull = Effect.suspend(() =>
      index >= count
        ? Effect.succeed(undefined)
        : Effect.flatMap(windows[index]!, (step) => {
            if (step === undefined) {
              index++
              return next
            }
            const seen = merge(acc, step.cursor)
            const cursor: RunCursor = {
              ...step.cursor,
              end: start.end,
              minOpen: seen.minOpen,
              longestRunMs: seen.longest,
              afterInclusive: seen.inclusive
            }
            // A window's end is the next one's start; only the last window ends the run.
            if (step.done) acc = seen
            return Effect.succeed<Step>({ ...step, cursor, done: step.done && index === count - 1 })
          })
    )
    return next
  })

/**
 * Folds every step of `pull` into `init`, handing them to `write` in groups of `pagesPerBatch`
 * (the last group may be smaller). The readers keep fetching while a group is written.
 */
export const drain = <S, E, R>(
  pull: Pull,
  pagesPerBatch: number,
  init: S,
  write: (state: S, steps: ReadonlyArray<Step>) => Effect.Effect<S, E, R>
): Effect.Effect<S, E | RequestError | ExportError, R> =>
  Effect.gen(function* () {
    let state = init
    let group: Array<Step> = []
    for (;;) {
      const step = yield* pull
      if (step === undefined) break
      group.push(step)
      if (group.length >= pagesPerBatch) {
        const full = group
        group = []
        state = yield* write(state, full)
      }
    }
    return group.length > 0 ? yield* write(state, group) : state
  })
