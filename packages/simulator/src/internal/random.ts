/** Small, fast, seedable hashing and random numbers. Deterministic across runs and platforms. */

/** A 32-bit integer hash of up to three integers (a murmur3-style finaliser). */
export const hash3 = (a: number, b: number, c: number): number => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ Math.imul(c + 0x165667b1, 0x27d4eb2f)
  h ^= h >>> 15
  h = Math.imul(h, 0x2c1b3c6d)
  h ^= h >>> 12
  h = Math.imul(h, 0x297a2d39)
  h ^= h >>> 15
  return h >>> 0
}

/** A uniform number in [0, 1) from a hash of three integers. */
export const unit3 = (a: number, b: number, c: number): number => hash3(a, b, c) / 4294967296

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
export interface Rng {
  readonly next: () => number
}

/** Makes a seeded generator. */
export const makeRng = (seed: number): Rng => {
  let state = hash3(seed, 0x5eed, 0) | 0
  return {
    next: () => {
      state = (state + 0x6d2b79f5) | 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
}

/** A standard normal deviate (Box-Muller) from two uniforms. */
export const normal = (u1: number, u2: number): number =>
  Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2)

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** Two lower-case hex digits of a byte. */
export const hex2 = (n: number): string => HEX[n & 255]!

/** Eight lower-case hex digits of a 32-bit unsigned integer. */
export const hex8 = (n: number): string =>
  HEX[(n >>> 24) & 255]! + HEX[(n >>> 16) & 255]! + HEX[(n >>> 8) & 255]! + HEX[n & 255]!

/** A cumulative distribution of Zipf-like weights `1 / (k + 1)^s` for `n` items. */
export const zipfCdf = (n: number, s: number): Float64Array => {
  const cdf = new Float64Array(n)
  let total = 0
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s
    cdf[k] = total
  }
  for (let k = 0; k < n; k++) cdf[k] = cdf[k]! / total
  return cdf
}

/** The index a uniform `u` falls into in a cumulative distribution (binary search). */
export const sampleCdf = (cdf: Float64Array, u: number): number => {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid]! > u) hi = mid
    else lo = mid + 1
  }
  return lo
}

const PAD2: ReadonlyArray<string> = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"))
const PAD3: ReadonlyArray<string> = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"))
const DAY_MS = 86_400_000
const dayCache = new Map<number, string>()

/** `new Date(ms).toISOString()`, several times faster (the date part is cached per day). */
export const isoString = (ms: number): string => {
  const day = Math.floor(ms / DAY_MS)
  let prefix = dayCache.get(day)
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11)
    if (prefix.length !== 11 || dayCache.size > 100_000) return new Date(ms).toISOString()
    dayCache.set(day, prefix)
  }
  let rest = ms - day * DAY_MS
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const m = Math.floor(rest / 60_000)
  rest -= m * 60_000
  const sec = Math.floor(rest / 1000)
  const milli = Math.floor(rest - sec * 1000)
  return prefix + PAD2[h]! + ":" + PAD2[m]! + ":" + PAD2[sec]! + "." + PAD3[milli]! + "Z"
}
