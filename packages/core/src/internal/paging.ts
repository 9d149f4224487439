/**
 * The guard of a paging read: it stops a read that spends requests without getting anywhere (a
 * server that ignores `offset` and serves one page over and over, a `nextLink` that loops or goes
 * back, far more records than the `total` announced) with a `NoProgress` error, after at most
 * {@link MAX_WASTED} wasted requests. Memory stays bounded: it keeps the ids of the last
 * {@link WINDOW} pages only.
 */
import { NoProgress } from "../TaskHistoryError.js"
import type { ExecutionPage } from "../WorkflowExecution.js"

/** Consecutive pages that bring nothing new before the read stops. */
export const MAX_WASTED = 3

/** Pages whose ids a new page is compared with. */
const WINDOW = 4

/** Records beyond `total` tolerated (inserts while paging): `total` plus this much again, at least 1,000. */
const pastTotalLimit = (total: number) => 2 * total + 1_000

const idsOf = (page: ExecutionPage): Array<string> => page.records.map((r) => r.id)

/** A guard for one read; feed it each page in order, with the offset of the next one. */
export class PageGuard {
  private readonly recent: Array<ReadonlySet<string>> = []
  private wasted = 0
  private read = 0

  constructor(private readonly total: number | undefined) {}

  /**
   * Checks the next page: `NoProgress` when the read should stop. `next` is the offset its
   * `nextLink` points at (undefined when it has none).
   */
  check(page: ExecutionPage, next: number | undefined): NoProgress | undefined {
    if (next !== undefined && next <= page.offset) {
      return new NoProgress({
        reason: "LinkNotAdvancing",
        detail: `the page at offset ${page.offset} links to offset ${next}`,
        wasted: this.wasted + 1
      })
    }
    this.read += page.records.length + page.invalid.length
    if (this.total !== undefined && this.read > pastTotalLimit(this.total)) {
      return new NoProgress({
        reason: "PastTotal",
        detail: `${this.read} records read at offset ${page.offset}, for a total of ${this.total}`,
        wasted: this.wasted
      })
    }
    const ids = idsOf(page)
    const old = ids.length > 0 && ids.every((id) => this.recent.some((set) => set.has(id)))
    this.recent.push(new Set(ids))
    if (this.recent.length > WINDOW) this.recent.shift()
    if (!old) {
      this.wasted = 0
      return undefined
    }
    this.wasted++
    return this.wasted >= MAX_WASTED
      ? new NoProgress({
          reason: "SamePage",
          detail: `the pages at offsets up to ${page.offset} hold only executions already read (does the server ignore offset?)`,
          wasted: this.wasted
        })
      : undefined
  }
}
