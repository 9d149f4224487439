/** A growable array of run durations (ms), 8 bytes each, sorted once when read. */
export class Durations {
  values = new Float64Array(16)
  size = 0

  push(value: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.size++] = value
  }

  /** The values seen, ascending (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, this.size).sort()
  }

  /** Every value of `parts`, ascending, in one new array. */
  static mergeSorted(parts: Iterable<Durations>): Float64Array {
    const list = [...parts]
    let size = 0
    for (const d of list) size += d.size
    const all = new Float64Array(size)
    let at = 0
    for (const d of list) {
      all.set(d.values.subarray(0, d.size), at)
      at += d.size
    }
    return all.sort()
  }
}
