/**
 * De-duplication by id of a read in start-date order, in memory that does not grow with the
 * read. Offset paging repeats records (when executions are added, offsets shift), but a listing
 * sorted by `dateStarted` only repeats records at or behind the point the read has reached: a
 * record that started strictly behind the last one kept was kept already (or appeared behind the
 * reader after it went past, which a reader never promises to see), and one that started at the
 * same instant is told apart by its id. So only the ids at the edge (the last start kept) are
 * held, not every id read.
 *
 * A page whose records are not in the query's order (a server that does not sort) turns the
 * de-duplication into a set of every id kept from then on, starting with the ids of the last
 * {@link RECENT} pages (a repeat of a record kept before those pages would then pass).
 *
 * @internal
 */
import type { WorkflowExecution } from "../WorkflowExecution.js"

/** `YYYY-MM-DDTHH:mm:ss.sssZ`: such strings sort as their instants do. */
const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/**
 * A key of `dateStarted` that compares as the instant does (the canonical UTC form, to the
 * millisecond), or undefined when it is not a date.
 */
export const startKey = (date: string): string | undefined => {
  if (date.length === 24 && CANONICAL.test(date)) return date
  const ms = Date.parse(date)
  if (Number.isNaN(ms)) return undefined
  const iso = new Date(ms).toISOString()
  return iso.length === 24 ? iso : undefined
}

/** Pages whose records a fallback to every id starts from. */
const RECENT = 4

/** The records of each page not kept before, by id, for a read in `order` of start dates. */
export class OrderedDedupe {
  /** The start of the last record kept, in the read's order. */
  private edge: string | undefined
  /** The first id kept that started at `edge`. */
  private edgeId: string | undefined
  /**
   * The other ids kept that started at `edge`, when there are any: most instants have one
   * execution, and a set per record was a tenth of a bulk read's allocations.
   */
  private moreAtEdge: Set<string> | undefined
  /** Every id kept since the pages turned out not to be in order. */
  private all: Set<string> | undefined
  /**
   * The ids kept from the last pages (while in order): ids only, not the records, which would
   * otherwise live four pages longer than they are needed (the garbage collector copies and
   * promotes whatever lives that long).
   */
  private readonly recent: Array<ReadonlyArray<string>> = []

  /** `order`: the query's `sortBy` (DESC when absent, as the API). */
  constructor(order: "ASC" | "DESC" | undefined) {
    this.descending = order !== "ASC"
  }

  private readonly descending: boolean

  /** How many ids are held (for tests: stays small while the read is in order). */
  get held(): number {
    if (this.all !== undefined) return this.all.size
    return (this.edgeId === undefined ? 0 : 1) + (this.moreAtEdge?.size ?? 0)
  }

  /** Adds `id` to the ids at the edge; false when it was there already. */
  private addAtEdge(id: string): boolean {
    if (this.edgeId === undefined) {
      this.edgeId = id
      return true
    }
    if (id === this.edgeId) return false
    this.moreAtEdge ??= new Set()
    const before = this.moreAtEdge.size
    return this.moreAtEdge.add(id).size !== before
  }

  /** The records of `batch` (one page, in the server's order) to keep. */
  keep(batch: ReadonlyArray<WorkflowExecution>): Array<WorkflowExecution> {
    const out: Array<WorkflowExecution> = []
    let previous: string | undefined
    for (let k = 0; k < batch.length; k++) {
      const record = batch[k] as WorkflowExecution
      if (this.all !== undefined) {
        const before = this.all.size
        if (this.all.add(record.id).size !== before) out.push(record)
        continue
      }
      const key = startKey(record.dateStarted)
      if (key === undefined || (previous !== undefined && this.behind(key, previous))) {
        // Not in order: from here on, every id kept is remembered, starting with those still
        // known (the edge, the last pages, this page so far).
        this.all = new Set(this.moreAtEdge)
        if (this.edgeId !== undefined) this.all.add(this.edgeId)
        for (const page of this.recent) for (const id of page) this.all.add(id)
        for (const kept of out) this.all.add(kept.id)
        this.recent.length = 0
        k--
        continue
      }
      previous = key
      const edge = this.edge
      if (edge === undefined || this.behind(edge, key)) {
        this.edge = key
        this.edgeId = record.id
        this.moreAtEdge = undefined
        out.push(record)
      } else if (edge === key) {
        if (this.addAtEdge(record.id)) out.push(record)
      }
      // else: started behind the edge, so read already.
    }
    if (this.all === undefined) {
      const ids: Array<string> = new Array(out.length)
      for (let k = 0; k < out.length; k++) ids[k] = (out[k] as WorkflowExecution).id
      this.recent.push(ids)
      if (this.recent.length > RECENT) this.recent.shift()
    }
    return out
  }

  /** Whether `a` comes before `b` in the read's order. */
  private behind(a: string, b: string): boolean {
    return this.descending ? a > b : a < b
  }
}
