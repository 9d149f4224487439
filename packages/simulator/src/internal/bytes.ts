/** A growable byte writer for rendering pages straight to bytes (no intermediate strings). */

const HEX = new Uint8Array(Buffer.from("0123456789abcdef", "latin1"))
const DAY_MS = 86_400_000
const dayPrefix = new Map<number, Uint8Array>()

export class ByteWriter {
  buf: Buffer = Buffer.allocUnsafe(1 << 16)
  pos = 0

  reset(): void {
    this.pos = 0
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.put(b)
  }

  /** Copies short byte runs without a capacity check (call `ensure` first). */
  put(b: Uint8Array): void {
    const buf = this.buf
    let pos = this.pos
    for (let i = 0; i < b.length; i++) buf[pos++] = b[i]!
    this.pos = pos
  }

  byte(c: number): void {
    this.ensure(1)
    this.buf[this.pos++] = c
  }

  string(s: string): void {
    this.ensure(s.length * 3)
    this.pos += this.buf.write(s, this.pos, "utf8")
  }

  /** The low `count` hex digits of `n`, most significant first. */
  hex(n: number, count: number): void {
    this.ensure(count)
    const buf = this.buf
    for (let shift = (count - 1) * 4; shift >= 0; shift -= 4) buf[this.pos++] = HEX[(n >>> shift) & 15]!
  }

  /** A non-negative integer in decimal. */
  uint(n: number): void {
    if (n < 10) {
      this.byte(48 + n)
      return
    }
    if (n >= 1e15) {
      this.string(String(n))
      return
    }
    this.ensure(16)
    let digits = 1
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++
    const buf = this.buf
    let end = this.pos + digits
    this.pos = end
    for (let m = n; digits > 0; digits--) {
      const q = Math.floor(m / 10)
      buf[--end] = 48 + (m - q * 10)
      m = q
    }
  }

  private two(n: number): void {
    this.buf[this.pos++] = 48 + ((n / 10) | 0)
    this.buf[this.pos++] = 48 + (n % 10)
  }

  /** `new Date(ms).toISOString()`, without the quotes. */
  iso(ms: number): void {
    const day = Math.floor(ms / DAY_MS)
    let prefix = dayPrefix.get(day)
    if (prefix === undefined) {
      const text = new Date(day * DAY_MS).toISOString().slice(0, 11)
      if (text.length !== 11 || dayPrefix.size > 100_000) {
        this.string(new Date(ms).toISOString())
        return
      }
      prefix = new Uint8Array(Buffer.from(text, "latin1"))
      dayPrefix.set(day, prefix)
    }
    this.ensure(24)
    this.buf.set(prefix, this.pos)
    this.pos += 11
    let rest = ms - day * DAY_MS
    const h = Math.floor(rest / 3_600_000)
    rest -= h * 3_600_000
    const m = Math.floor(rest / 60_000)
    rest -= m * 60_000
    const s = Math.floor(rest / 1000)
    const milli = Math.floor(rest - s * 1000)
    this.two(h)
    this.buf[this.pos++] = 58
    this.two(m)
    this.buf[this.pos++] = 58
    this.two(s)
    this.buf[this.pos++] = 46
    this.buf[this.pos++] = 48 + ((milli / 100) | 0)
    this.two(milli % 100)
    this.buf[this.pos++] = 90
  }

  /** A copy of what was written. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos))
  }
}

/** UTF-8 bytes of a string. */
export const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "utf8"))
