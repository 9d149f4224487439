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

const idsOf = (page: ExecutionPage): Array<string> => {
  const ids: Array<string> = new Array(page.records.length)
  for (let k = 0; k < ids.length; k++) ids[k] = (page.records[k] as ExecutionPage["records"][number]).id
  return ids
}

/** Whether `id` is one of the ids of `pages`. */
const among = (pages: ReadonlyArray<ReadonlyArray<string>>, id: string): boolean =>
  pages.some((ids) => ids.includes(id))

/** A guard for one read; feed it each page in order, with the offset of the next one. */
export class PageGuard {
  /** The ids of the last pages (arrays: a set per page cost more than the rare full check). */
  private readonly recent: Array<ReadonlyArray<string>> = []
  private wasted = 0
  private read = 0

  constructor(private readonly total: number | undefined) {}

  /** Whether every id of `ids` is among those of the last pages. */
  private allSeen(ids: ReadonlyArray<string>): boolean {
    if (ids.length === 0 || !among(this.recent, ids[0] as string)) return false
    // The first is a repeat: check them all, against one set of the recent ids.
    const seen = new Set<string>()
    for (const page of this.recent) for (const id of page) seen.add(id)
    return ids.every((id) => seen.has(id))
  }

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
    const old = this.allSeen(ids)
    this.recent.push(ids)
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
