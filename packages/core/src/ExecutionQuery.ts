/**
 * The filters of a workflow-execution search, validated and normalised once so that every
 * request (and every consumer: CLI, exporter, simulator) sees the same values.
 *
 * @since 0.1.0
 */
import { Effect, Either, Schema } from "effect"
import { InvalidInput } from "./TaskHistoryError.js"
import { KnownStatus, KnownStatuses } from "./WorkflowExecution.js"

/**
 * Sort order by start date. The API's default is `DESC`.
 *
 * @since 0.1.0
 */
export const SortOrder = Schema.Literal("ASC", "DESC")

/**
 * Sort order by start date.
 *
 * @since 0.1.0
 */
export type SortOrder = typeof SortOrder.Type

/**
 * A validated query. Dates are normalised to `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC).
 *
 * @since 0.1.0
 */
export const ExecutionQuery = Schema.Struct({
  integration: Schema.optional(Schema.NonEmptyString),
  workflowId: Schema.optional(Schema.NonEmptyString),
  userId: Schema.optional(Schema.NonEmptyString),
  status: Schema.optional(KnownStatus),
  afterDate: Schema.optional(Schema.String),
  beforeDate: Schema.optional(Schema.String),
  sortBy: Schema.optional(SortOrder)
})

/**
 * A validated query.
 *
 * @since 0.1.0
 */
export type ExecutionQuery = typeof ExecutionQuery.Type

/**
 * What a user may give: statuses and sort orders in any case, dates in any ISO 8601 form that
 * names at least a day (`2023-02-16`, `2023-02-16T00:00:00`, `2023-02-16T00:00:00+02:00`).
 *
 * @since 0.1.0
 */
export interface ExecutionQueryInput {
  readonly integration?: string | undefined
  readonly workflowId?: string | undefined
  readonly userId?: string | undefined
  readonly status?: string | undefined
  readonly afterDate?: string | Date | undefined
  readonly beforeDate?: string | Date | undefined
  readonly sortBy?: string | undefined
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Parses an ISO 8601 date or date-time into a UTC instant string. A value with no zone is taken
 * as UTC (the API's examples send `2023-02-16T00:00:00`). Returns `undefined` when the value is
 * not a real date (`2023-02-30` is refused, not rolled over).
 *
 * @since 0.1.0
 */
export const normalizeDate = (input: string): string | undefined => {
  const m = ISO_DATE.exec(input.trim())
  if (m === null) return undefined
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "0", zone] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (day > daysInMonth) return undefined
  const ms = Math.floor(Number(`0.${frac}`) * 1000)
  let offsetMinutes = 0
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1
    const digits = zone.slice(1).replace(":", "")
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)))
  }
  const epoch = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000
  return new Date(epoch).toISOString()
}

const invalid = (field: string, value: string, expected: string) =>
  new InvalidInput({ field, value, expected })

/**
 * Validates and normalises user input into an {@link ExecutionQuery}. The error names the field
 * and the bad value.
 *
 * @since 0.1.0
 */
export const make = (input: ExecutionQueryInput): Either.Either<ExecutionQuery, InvalidInput> => {
  const out: {
    -readonly [K in keyof ExecutionQuery]: ExecutionQuery[K]
  } = {}
  for (const key of ["integration", "workflowId", "userId"] as const) {
    const value = input[key]
    if (value === undefined) continue
    if (value.trim() === "") return Either.left(invalid(key, value, "a non-empty value"))
    out[key] = value
  }
  if (input.status !== undefined) {
    const status = input.status.toUpperCase()
    if (!(KnownStatuses as ReadonlyArray<string>).includes(status)) {
      return Either.left(invalid("status", input.status, KnownStatuses.join(", ")))
    }
    out.status = status as KnownStatus
  }
  for (const key of ["afterDate", "beforeDate"] as const) {
    const value = input[key]
    if (value === undefined) continue
    const text = value instanceof Date ? value.toISOString() : value
    const date = value instanceof Date && !Number.isNaN(value.getTime()) ? text : normalizeDate(text)
    if (date === undefined) {
      return Either.left(invalid(key, text, "an ISO 8601 date such as 2023-02-16 or 2023-02-16T00:00:00Z"))
    }
    out[key] = date
  }
  if (out.afterDate !== undefined && out.beforeDate !== undefined && out.afterDate > out.beforeDate) {
    return Either.left(
      invalid("beforeDate", out.beforeDate, `a date not earlier than afterDate (${out.afterDate})`)
    )
  }
  if (input.sortBy !== undefined) {
    const sort = input.sortBy.toUpperCase()
    if (sort !== "ASC" && sort !== "DESC") return Either.left(invalid("sortBy", input.sortBy, "asc or desc"))
    out.sortBy = sort
  }
  return Either.right(out)
}

/**
 * {@link make} as an Effect.
 *
 * @since 0.1.0
 */
export const makeEffect = (input: ExecutionQueryInput): Effect.Effect<ExecutionQuery, InvalidInput> =>
  Either.match(make(input), { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * The query string parameters of a query (without `offset`), in a stable order.
 *
 * @since 0.1.0
 */
export const toUrlParams = (query: ExecutionQuery): ReadonlyArray<readonly [string, string]> => {
  const params: Array<readonly [string, string]> = []
  for (const key of [
    "integration",
    "workflowId",
    "userId",
    "status",
    "afterDate",
    "beforeDate",
    "sortBy"
  ] as const) {
    const value = query[key]
    if (value !== undefined) params.push([key, value])
  }
  return params
}
