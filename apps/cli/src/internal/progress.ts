/**
 * A one-line progress bar on stderr (records so far / total, rate, ETA), redrawn at most ten
 * times a second. Only when stderr is a TTY and `--quiet` is off.
 *
 * While the bar is on screen, any other write to stderr (notices, errors) and, when stdout is a
 * TTY too, any write to stdout (rows printed to the same terminal) first clears the bar, so that
 * no output line starts with a stale bar; the bar is drawn again below a write that ends a line,
 * and not at all while such a write has left a line open (it would erase that line).
 * The bar is also cleared when the process exits before `done` (Ctrl-C, a failure).
 *
 * @internal
 */
import { Duration } from "effect"
import { humanMs } from "./format.js"

/** @internal */
export interface Progress {
  readonly add: (n: number) => void
  readonly setTotal: (total: number | undefined, budget?: Duration.Duration) => void
  readonly done: () => void
}

const none: Progress = { add: () => {}, setTotal: () => {}, done: () => {} }

/** @internal */
export const enabled = (quiet: boolean): boolean => !quiet && process.stderr.isTTY === true

const clearLine = "\r\u001b[2K"

type Write = NodeJS.WriteStream["write"]

const endsLine = (chunk: unknown): boolean =>
  typeof chunk === "string"
    ? chunk.endsWith("\n")
    : chunk instanceof Uint8Array && chunk.length > 0 && chunk[chunk.length - 1] === 10

const isEmpty = (chunk: unknown): boolean =>
  (typeof chunk === "string" || chunk instanceof Uint8Array) && chunk.length === 0

/** @internal */
export const make = (quiet: boolean, label = "executions"): Progress => {
  if (!enabled(quiet)) return none
  const stderr = process.stderr
  const stderrWrite: Write = stderr.write
  const ownWrite = (text: string) => stderrWrite.call(stderr, text)
  const started = performance.now()
  let count = 0
  let total: number | undefined
  let budgetMs: number | undefined
  let last = 0
  let drawn = false
  let finished = false
  // Guarded streams whose last write left a line open.
  const open = new Set<NodeJS.WriteStream>()
  const draw = (force: boolean) => {
    if (finished || open.size > 0) return
    const now = performance.now()
    if (!force && now - last < 100) return
    last = now
    const elapsed = (now - started) / 1000
    const rate = elapsed > 0 ? count / elapsed : 0
    let text = `${count}${total === undefined ? "" : `/${total}`} ${label}, ${Math.round(rate)}/s`
    if (total !== undefined && total > 0) {
      const width = 24
      const filled = Math.min(width, Math.floor((count / total) * width))
      const remaining = Math.max(0, total - count)
      const byRate = rate > 0 ? (remaining / rate) * 1000 : undefined
      const byBudget = budgetMs === undefined ? undefined : (budgetMs * remaining) / total
      const eta = Math.max(byRate ?? 0, byBudget ?? 0)
      text = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text}, ETA ${humanMs(eta)}`
    }
    ownWrite(`${clearLine}${text}`)
    drawn = true
  }
  const clear = () => {
    if (drawn) ownWrite(clearLine)
    drawn = false
  }
  // Other writes to the terminal clear the bar first and bring it back after a complete line.
  const guard = (stream: NodeJS.WriteStream): (() => void) => {
    const original: Write = stream.write
    const guarded = (chunk: unknown, ...rest: Array<unknown>): boolean => {
      const showing = drawn
      clear()
      const ok = (original as (...args: Array<unknown>) => boolean).call(stream, chunk, ...rest)
      if (endsLine(chunk)) open.delete(stream)
      else if (!isEmpty(chunk)) open.add(stream)
      if (showing) draw(true)
      return ok
    }
    stream.write = guarded as Write
    return () => {
      if (stream.write === guarded) stream.write = original
    }
  }
  const unguard = [guard(stderr), ...(process.stdout.isTTY === true ? [guard(process.stdout)] : [])]
  const onExit = () => clear()
  process.once("exit", onExit)
  return {
    add: (n) => {
      count += n
      draw(false)
    },
    setTotal: (t, budget) => {
      total = t
      budgetMs = budget === undefined ? undefined : Duration.toMillis(budget)
    },
    done: () => {
      if (finished) return
      clear()
      finished = true
      for (const restore of unguard) restore()
      process.off("exit", onExit)
    }
  }
}
