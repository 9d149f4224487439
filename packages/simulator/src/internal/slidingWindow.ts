/**
 * A sliding-window log: at most `limit` acquisitions in any window of `windowMs`. It keeps the
 * times of the last `limit` acquisitions in a ring; the next one is allowed once the oldest of
 * them is at least `windowMs` old.
 */
export class SlidingWindow {
  private readonly ring: Float64Array
  private head = 0
  private size = 0

  constructor(
    readonly limit: number,
    readonly windowMs: number
  ) {
    this.ring = new Float64Array(limit)
  }

  /** Records an acquisition at `now` and returns 0, or returns how long to wait (ms). */
  tryAcquire(now: number): number {
    if (this.size < this.limit) {
      this.ring[(this.head + this.size) % this.limit] = now
      this.size++
      return 0
    }
    const oldest = this.ring[this.head]!
    if (now - oldest >= this.windowMs) {
      this.ring[this.head] = now
      this.head = (this.head + 1) % this.limit
      return 0
    }
    return oldest + this.windowMs - now
  }
}

/** The largest number of events seen in any window of `windowMs` (events at non-decreasing times). */
export class WindowMax {
  private times: Array<number> = []
  private head = 0
  max = 0

  constructor(readonly windowMs: number) {}

  record(now: number): void {
    this.times.push(now)
    while (this.head < this.times.length && this.times[this.head]! <= now - this.windowMs) this.head++
    const inWindow = this.times.length - this.head
    if (inWindow > this.max) this.max = inWindow
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head)
      this.head = 0
    }
  }
}
