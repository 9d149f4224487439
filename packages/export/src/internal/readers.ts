/**
 * Readers of the scanner (`scan.ts`): a scanner run a few pages ahead of its consumer in a fiber
 * of its own ({@link readAhead}); a range read as several windows of start dates at once, each
 * handed over as soon as its pages arrive and cut in two while it is read when it holds more than
 * its share ({@link readWindows}); and the consumer's loop that groups one reader's steps into
 * batches ({@link drain}).
 *
 * @internal
 */
import type * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import type { TaskHistoryClientShape } from "@taskhistory/core/TaskHistoryClient"
import type { RequestError } from "@taskhistory/core/TaskHistoryError"
import { PAGE_SIZE } from "@taskhistory/core/WorkflowExecution"
import { Effect, Exit, Fiber, Queue, type Scope } from "effect"
import type { ExportError } from "./exportError.js"
import { startOf } from "./rawRecord.js"
import { type Pull, type Step, scan } from "./scan.js"

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

/** A part of a run's range still to read: every execution that started in [lower, end). */
export interface Span {
  readonly lower: number
  readonly end: number
}

/** One hand-over of {@link readWindows}: steps of one window, and where every window stands. */
export interface HandOver {
  /** Where the window's previous hand-over left it (the lower of its stored span). */
  readonly from: number
  /** The steps of one window since its previous hand-over (records clamped to the window), in order. */
  readonly steps: ReadonlyArray<Step>
  /** The windows not finished after this hand-over, ascending: what a resumed read reads. */
  readonly spans: ReadonlyArray<Span>
  /** This hand-over finishes its window. */
  readonly finished: boolean
  /** This hand-over finishes the last window: the range is read. */
  readonly last: boolean
}

/** How {@link readWindows} reads. */
export interface WindowOptions {
  /** Windows read at once (at least 1). */
  readonly concurrency: number
  /** Steps of one window per hand-over (the last one of a window may have fewer). */
  readonly pagesPerBatch: number
  /** Steps a window's scanner may read ahead of the consumer. */
  readonly prefetch: number
  /** Whether `afterDate` is known to be inclusive. */
  readonly afterInclusive: boolean
}

/**
 * A window is cut in two only when what it still holds is worth a window of its own: at least
 * this many pages (each window ends with a partial page, so a cut costs up to one request).
 */
const SPLIT_PAGES = 4
/** Nor below this span of start dates. */
const MIN_SPLIT_MS = 2_000

/** One window being read. */
interface Window {
  /** The window's end: lowered when the window is cut (the scanner reads it before each request). */
  readonly bound: { end: number }
  /** Where the last hand-over left it (what is stored). */
  handed: number
  /** Where the consumer is: the cursor of its last step taken. */
  taken: number
  /** Where the scanner is, and how many records it still expects (`undefined`: unknown). */
  ahead: number
  left: number | undefined
  /** Records the scanner read and the span they covered (the density when `total` is missing). */
  read: number
  readonly from: number
  readonly group: Array<Step>
  readonly queue: Queue.Queue<Exit.Exit<Step | undefined, RequestError | ExportError>>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** The records of `step` that belong to a window ending at `end` (a cut window drops the rest). */
const clamp = (step: Step, end: number): Step => {
  if (step.cursor.lower < end) return step
  let beyond = false
  for (const at of step.starts) if (at >= end) beyond = true
  const keep = beyond ? step.starts.map((at) => at < end) : undefined
  const invalid = step.invalid.filter((i) => {
    const at = startOf(i.raw)
    return at === undefined || at < end
  })
  return {
    records: keep === undefined ? step.records : step.records.filter((_, k) => keep[k]),
    starts: keep === undefined ? step.starts : step.starts.filter((_, k) => keep[k]),
    invalid,
    cursor: { ...step.cursor, lower: end },
    left: 0,
    done: true
  }
}

/** What a window still holds, in records, as its scanner last saw it (an estimate without `total`). */
const pending = (w: Window): number => {
  if (w.left !== undefined) return w.left
  const covered = w.ahead - w.from
  if (covered <= 0 || w.read === 0) return 0
  return (w.read / covered) * Math.max(0, w.bound.end - w.ahead)
}

/**
 * Reads `spans` (disjoint windows of start dates) with up to `concurrency` scanners at once, and
 * hands each window's steps to `write` in groups of `pagesPerBatch`, as soon as they arrive,
 * whatever the window: the spans of each hand-over say what is read (everything before each
 * span's `lower`, and everything between spans). When a window finishes and another still holds
 * more than {@link SPLIT_PAGES} pages (by the `total` of its last page), that one is cut in two at
 * the middle of what it has left, and a scanner starts on the second half: the read keeps
 * `concurrency` requests going until the end, whatever the distribution of start dates. A window
 * is written in order, so a file sink still appends to its days.
 */
export const readWindows = <S, E, R>(
  client: TaskHistoryClientShape,
  query: ExecutionQuery.Selection,
  spans: ReadonlyArray<Span>,
  options: WindowOptions,
  init: S,
  write: (state: S, handOver: HandOver) => Effect.Effect<S, E, R>
): Effect.Effect<S, E | RequestError | ExportError, R> =>
  Effect.scoped(
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const windows = new Set<Window>()
      // Windows that have a step to take, in the order their steps arrived.
      const ready = yield* Queue.unbounded<Window>()
      let afterInclusive = options.afterInclusive

      const open = (span: Span) =>
        Effect.gen(function* () {
          const w: Window = {
            bound: { end: span.end },
            handed: span.lower,
            taken: span.lower,
            ahead: span.lower,
            left: undefined,
            read: 0,
            from: span.lower,
            group: [],
            queue: yield* Queue.bounded<Exit.Exit<Step | undefined, RequestError | ExportError>>(
              Math.max(1, options.prefetch)
            ),
            fiber: undefined
          }
          const pull = scan(client, query, { lower: span.lower, afterInclusive }, w.bound)
          const produce = Effect.gen(function* () {
            for (;;) {
              const exit = yield* Effect.exit(pull)
              if (Exit.isSuccess(exit) && exit.value !== undefined) {
                const step = exit.value
                w.ahead = step.cursor.lower
                w.left = step.left
                w.read += step.records.length + step.invalid.length
              }
              yield* Queue.offer(w.queue, exit)
              yield* Queue.offer(ready, w)
              if (Exit.isFailure(exit) || exit.value === undefined || exit.value.done) return
            }
          })
          w.fiber = yield* Effect.forkIn(produce, scope)
          windows.add(w)
        })

      /** Cuts the window with the most left in two while fewer than `concurrency` are read. */
      const cut = Effect.gen(function* () {
        while (windows.size < options.concurrency) {
          let best: Window | undefined
          let most = 0
          for (const w of windows) {
            const n = pending(w)
            if (n > most) {
              most = n
              best = w
            }
          }
          if (best === undefined || most < SPLIT_PAGES * PAGE_SIZE) return
          const from = Math.max(best.ahead, best.taken)
          const mid = from + Math.floor((best.bound.end - from) / 2)
          if (best.bound.end - mid < MIN_SPLIT_MS || mid <= from) return
          const end = best.bound.end
          best.bound.end = mid
          best.left = most / 2
          yield* open({ lower: mid, end })
          yield* Effect.logDebug(
            `reading ${new Date(mid).toISOString()} to ${new Date(end).toISOString()} in a window of its own`
          )
        }
      })

      const spansNow = (): Array<Span> =>
        [...windows].map((w) => ({ lower: w.handed, end: w.bound.end })).sort((x, y) => x.lower - y.lower)

      for (const span of spans) if (span.lower < span.end) yield* open(span)
      let state = init
      if (windows.size === 0) {
        const done: Step = {
          records: [],
          starts: [],
          invalid: [],
          cursor: { lower: spans[spans.length - 1]?.end ?? 0, afterInclusive },
          left: 0,
          done: true
        }
        return yield* write(state, {
          from: done.cursor.lower,
          steps: [done],
          spans: [],
          finished: true,
          last: true
        })
      }
      yield* cut
      while (windows.size > 0) {
        const w = yield* Queue.take(ready)
        if (!windows.has(w)) continue
        const exit = yield* Queue.take(w.queue)
        if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
        const raw: Step = exit.value ?? {
          records: [],
          starts: [],
          invalid: [],
          cursor: { lower: w.bound.end, afterInclusive },
          left: 0,
          done: true
        }
        const step = clamp(raw, w.bound.end)
        if (step.cursor.afterInclusive) afterInclusive = true
        w.taken = step.cursor.lower
        w.group.push(step)
        const finished = step.done || step.cursor.lower >= w.bound.end
        if (finished) {
          windows.delete(w)
          if (w.fiber !== undefined) yield* Fiber.interrupt(w.fiber)
        }
        if (windows.size < options.concurrency) yield* cut
        if (!finished && w.group.length < options.pagesPerBatch) continue
        const from = w.handed
        w.handed = w.taken
        const steps = w.group.splice(0)
        state = yield* write(state, { from, steps, spans: spansNow(), finished, last: windows.size === 0 })
      }
      return state
    })
  )

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
