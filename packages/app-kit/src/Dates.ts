/**
 * The dates both binaries take (`--after`, `--before`, `--since`, the report's period): an ISO
 * 8601 date or date-time (no zone: UTC), or a time before now written as a number and a unit:
 * `30m`, `24h`, `7d`, `2w` (also `s`). The result is always an ISO instant in UTC.
 *
 * @since 0.2.0
 */
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Clock, Effect, Either } from "effect"

const RELATIVE = /^(\d{1,9})\s*(s|m|h|d|w)$/i

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
}

/**
 * What a date flag expects, for error messages and help.
 *
 * @since 0.2.0
 */
export const expected =
  "an ISO 8601 date such as 2023-02-16 or 2023-02-16T00:00:00Z, or a time before now such as 30m, 24h, 7d or 2w"

/**
 * Whether a value is a relative date (`7d`), not an ISO one.
 *
 * @since 0.2.0
 */
export const isRelative = (input: string): boolean => RELATIVE.test(input.trim())

/**
 * Resolves a date as typed against `nowMs`: an ISO instant string, or `undefined` when the
 * value is neither an ISO 8601 date nor a relative one.
 *
 * @example
 * resolve("7d", Date.parse("2026-12-08T00:00:00Z")) // "2026-12-01T00:00:00.000Z"
 * resolve("2023-02-16", 0) // "2023-02-16T00:00:00.000Z"
 *
 * @since 0.2.0
 */
export const resolve = (input: string, nowMs: number): string | undefined => {
  const m = RELATIVE.exec(input.trim())
  if (m === null) return ExecutionQuery.normalizeDate(input)
  const ms = nowMs - Number(m[1]) * (UNIT_MS[(m[2] ?? "").toLowerCase()] ?? Number.NaN)
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

/**
 * {@link resolve} with an error naming the flag and the value (exit code 2).
 *
 * @since 0.2.0
 */
export const parse = (input: string, flag: string, nowMs: number): Either.Either<string, InvalidInput> => {
  const date = resolve(input, nowMs)
  return date === undefined
    ? Either.left(new InvalidInput({ field: flag, value: input, expected }))
    : Either.right(date)
}

/**
 * {@link parse} against the current time of the `Clock`.
 *
 * @since 0.2.0
 */
export const parseNow = (input: string, flag: string): Effect.Effect<string, InvalidInput> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Either.match(parse(input, flag, now), { onLeft: Effect.fail, onRight: Effect.succeed })
  )
