/**
 * A one-line progress bar on stderr (records so far / total, rate, ETA), redrawn at most ten
 * times a second. Only when stderr is a TTY and `--quiet` is off.
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

/** @internal */
export const make = (quiet: boolean, label = "executions"): Progress => {
  if (!enabled(quiet)) return none
  const started = performance.now()
  let count = 0
  let total: number | undefined
  let budgetMs: number | undefined
  let last = 0
  let drawn = false
  const draw = (force: boolean) => {
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
    process.stderr.write(`\r\u001b[2K${text}`)
    drawn = true
  }
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
      if (drawn) process.stderr.write("\r\u001b[2K")
    }
  }
}
