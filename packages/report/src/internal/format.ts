/** Number and date formatting of the report: fixed locale (en-US) and UTC, so output is deterministic. */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 })
const oneDecimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 })

/** `1234567` -> `1,234,567` (up to 2 decimals for fractional task counts). */
export const count = (n: number): string => integer.format(n)

/** A duration in ms: `1234.56` -> `1,234.6`; `undefined` -> an en dash. */
export const ms = (n: number | undefined): string => (n === undefined ? "–" : oneDecimal.format(n))

/** A rate in [0, 1] as a percentage with two decimals: `0.04213` -> `4.21%`. */
export const percent = (rate: number): string => `${(rate * 100).toFixed(2)}%`

/** A relative change: `0.123` -> `+12.3%`; `undefined` -> `n/a`. */
export const change = (ratio: number | undefined): string =>
  ratio === undefined
    ? "n/a"
    : `${ratio > 0 ? "+" : ratio < 0 ? "-" : "±"}${Math.abs(ratio * 100).toFixed(1)}%`

/** A difference of rates in percentage points: `0.0052` -> `+0.52 pp`. */
export const points = (delta: number | undefined): string =>
  delta === undefined
    ? "n/a"
    : `${delta > 0 ? "+" : delta < 0 ? "-" : "±"}${Math.abs(delta * 100).toFixed(2)} pp`

/** An ISO instant as `2026-09-01 00:00 UTC` (seconds shown only when not zero). */
export const instant = (iso: string): string => {
  const d = new Date(iso)
  const s = d.toISOString()
  const seconds = s.slice(17, 23) === "00.000" ? "" : `:${s.slice(17, 19)}`
  return `${s.slice(0, 10)} ${s.slice(11, 16)}${seconds} UTC`
}

/** The length of a period in days: `90 days`, `36 hours` below two days. */
export const length = (start: string, end: string): string => {
  const hours = (Date.parse(end) - Date.parse(start)) / 3_600_000
  return hours < 48 ? `${oneDecimal.format(hours)} hours` : `${oneDecimal.format(hours / 24)} days`
}

export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const
export const WEEKDAY_NAMES = [
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
  "Sunday"
] as const

/** An hour of day: `7` -> `07:00`. */
export const hour = (h: number): string => `${String(h).padStart(2, "0")}:00`

/** Cuts a string to `max` characters, with an ellipsis when cut. */
export const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s)
