/**
 * The filters of a workflow-execution search, validated and normalised once so that every
 * request (and every consumer: CLI, exporter, simulator) sees the same values.
 *
 * {@link fields} is the one place that says which filters exist: the {@link ExecutionQuery}
 * schema, {@link make}, {@link toUrlParams}/{@link fromUrlParams}, the binaries' flags
 * (`@taskhistory/app-kit/FilterOptions`), the export's stream filters ({@link Selection}) and
 * the simulator are all derived from it.
 *
 * @since 0.1.0
 */
import { Effect, Either, Record, Schema } from "effect"
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
 * The kinds of value a filter takes, each with the schema of its validated form: `text` (a
 * non-empty string, kept as given), `status` (a known status, any case in), `date` (ISO 8601 in,
 * `YYYY-MM-DDTHH:mm:ss.sssZ` out) and `sort` (`asc`/`desc`, any case in).
 *
 * @since 0.1.0
 */
export const kinds = {
  text: Schema.NonEmptyString,
  status: KnownStatus,
  date: Schema.String,
  sort: SortOrder
} as const

/**
 * A kind of filter value.
 *
 * @since 0.1.0
 */
export type Kind = keyof typeof kinds

/**
 * How one filter is taken and shown.
 *
 * @since 0.1.0
 */
export interface FieldSpec {
  readonly kind: Kind
  /** The flag both binaries give it, without the leading dashes. */
  readonly flag: string
  /** The placeholder of the flag's value in `--help`, when it is not free text. */
  readonly placeholder?: string
  /** What the flag does, for `--help`. */
  readonly description: string
  /**
   * Whether the filter selects executions (an export stream is defined by these), rather than
   * bounding their dates or ordering them.
   */
  readonly selects: boolean
}

/**
 * Every filter of a search, in the order of the query string: the API's parameter name (the
 * key), the kind of value, and the flag of the binaries. Add a filter here, and the schema, the
 * validation, the query string, the flags and the simulator's parsing follow.
 *
 * @since 0.1.0
 */
export const fields = {
  integration: {
    kind: "text",
    flag: "integration",
    selects: true,
    description: "Only executions of this integration (e.g. salesforce)."
  },
  workflowId: {
    kind: "text",
    flag: "workflow-id",
    selects: true,
    description: "Only executions of this workflow."
  },
  userId: {
    kind: "text",
    flag: "user-id",
    selects: true,
    description: "Only executions of this Connected User."
  },
  status: {
    kind: "status",
    flag: "status",
    placeholder: KnownStatuses.join("|"),
    selects: true,
    description: "Only executions with this status (any case)."
  },
  afterDate: {
    kind: "date",
    flag: "after",
    placeholder: "DATE",
    selects: false,
    description:
      "Only executions started after this date: ISO 8601 (2023-02-16, 2023-02-16T00:00:00Z; no zone: UTC) or a time before now (30m, 24h, 7d, 2w)."
  },
  beforeDate: {
    kind: "date",
    flag: "before",
    placeholder: "DATE",
    selects: false,
    description: "Only executions started before this date (ISO 8601, or relative such as 24h)."
  },
  sortBy: {
    kind: "sort",
    flag: "sort",
    placeholder: "asc|desc",
    selects: false,
    description: "Order by start date. Default: desc (the API's default)."
  }
} as const satisfies Record<string, FieldSpec>

type Fields = typeof fields

/**
 * The name of a filter (its query-string parameter).
 *
 * @since 0.1.0
 */
export type Field = keyof Fields

/**
 * The filters that select executions (see {@link FieldSpec.selects}).
 *
 * @since 0.1.0
 */
export type SelectionField = { readonly [K in Field]: Fields[K]["selects"] extends true ? K : never }[Field]

/**
 * Every filter name, in the order of {@link fields}.
 *
 * @since 0.1.0
 */
export const fieldNames: ReadonlyArray<Field> = Record.keys(fields)

const isSelectionField = (name: Field): name is SelectionField => fields[name].selects

/**
 * The names of the filters that select executions, in the order of {@link fields}.
 *
 * @since 0.1.0
 */
export const selectionFields: ReadonlyArray<SelectionField> = fieldNames.filter(isSelectionField)

/**
 * Whether a string names a filter.
 *
 * @since 0.1.0
 */
export const isField = (name: string): name is Field => Object.hasOwn(fields, name)

/**
 * A validated query. Dates are normalised to `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC).
 *
 * @since 0.1.0
 */
export const ExecutionQuery = Schema.Struct(
  // Record.map cannot tie each key to its own kind's schema in the type; this is what it builds.
  Record.map(fields, (spec) => Schema.optional(kinds[spec.kind])) as unknown as {
    readonly [K in Field]: Schema.optional<(typeof kinds)[Fields[K]["kind"]]>
  }
)

/**
 * A validated query.
 *
 * @since 0.1.0
 */
export type ExecutionQuery = typeof ExecutionQuery.Type

/**
 * The part of a query that selects executions, without dates or order: what defines an export
 * stream.
 *
 * @since 0.1.0
 */
export type Selection = Pick<ExecutionQuery, SelectionField>

/**
 * The selecting filters of a query (drops dates and order).
 *
 * @since 0.1.0
 */
export const selection = (query: ExecutionQuery): Selection => {
  const out: { -readonly [K in SelectionField]?: ExecutionQuery[K] } = {}
  for (const key of selectionFields) {
    const value = query[key]
    if (value !== undefined) Object.assign(out, { [key]: value })
  }
  return out
}

interface KindInput {
  readonly text: string
  readonly status: string
  readonly date: string | Date
  readonly sort: string
}

/**
 * What a user may give: statuses and sort orders in any case, dates in any ISO 8601 form that
 * names at least a day (`2023-02-16`, `2023-02-16T00:00:00`, `2023-02-16T00:00:00+02:00`).
 *
 * @since 0.1.0
 */
export type ExecutionQueryInput = {
  readonly [K in Field]?: KindInput[Fields[K]["kind"]] | undefined
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Parses an ISO 8601 date or date-time into a UTC instant string. A value with no zone is taken
 * as UTC (the API's examples send `2023-02-16T00:00:00`). Returns `undefined` when the value is
 * not a real date (`2023-02-30` is refused, not rolled over) or its zone offset is not a real one
 * (beyond ±18:00, or minutes over 59: `+99:99`).
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
    const offsetHours = Number(digits.slice(0, 2))
    const offsetMins = Number(digits.slice(2, 4))
    // Real zone offsets lie within ±18:00 (`+99:99` would move the date by days).
    if (offsetMins > 59 || offsetHours * 60 + offsetMins > 18 * 60) return undefined
    offsetMinutes = sign * (offsetHours * 60 + offsetMins)
  }
  const epoch = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000
  return new Date(epoch).toISOString()
}

/** The validated value of one filter, or the value as shown in the error and what was expected. */
const parseValue = (
  kind: Kind,
  value: string | Date
): Either.Either<string, { readonly shown: string; readonly expected: string }> => {
  if (value instanceof Date) {
    if (kind === "date" && !Number.isNaN(value.getTime())) return Either.right(value.toISOString())
    value = String(value)
  }
  switch (kind) {
    case "text":
      return value.trim() === ""
        ? Either.left({ shown: value, expected: "a non-empty value" })
        : Either.right(value)
    case "status": {
      const status = value.toUpperCase()
      return (KnownStatuses as ReadonlyArray<string>).includes(status)
        ? Either.right(status)
        : Either.left({ shown: value, expected: KnownStatuses.join(", ") })
    }
    case "date": {
      const date = normalizeDate(value)
      return date === undefined
        ? Either.left({
            shown: value,
            expected: "an ISO 8601 date such as 2023-02-16 or 2023-02-16T00:00:00Z"
          })
        : Either.right(date)
    }
    case "sort": {
      const sort = value.toUpperCase()
      return sort === "ASC" || sort === "DESC"
        ? Either.right(sort)
        : Either.left({ shown: value, expected: "asc or desc" })
    }
  }
}

/**
 * Validates and normalises user input into an {@link ExecutionQuery}. The error names the field
 * and the bad value.
 *
 * @since 0.1.0
 */
export const make = (input: ExecutionQueryInput): Either.Either<ExecutionQuery, InvalidInput> => {
  // Each kind's parser returns exactly its schema's type (see `kinds`), so the record built
  // here is an ExecutionQuery.
  const out: Record<string, string> = {}
  for (const key of fieldNames) {
    const value = input[key]
    if (value === undefined) continue
    const parsed = parseValue(fields[key].kind, value)
    if (Either.isLeft(parsed)) {
      return Either.left(
        new InvalidInput({ field: key, value: parsed.left.shown, expected: parsed.left.expected })
      )
    }
    out[key] = parsed.right
  }
  const { afterDate, beforeDate } = out
  if (afterDate !== undefined && beforeDate !== undefined && afterDate > beforeDate) {
    return Either.left(
      new InvalidInput({
        field: "beforeDate",
        value: beforeDate,
        expected: `a date not earlier than afterDate (${afterDate})`
      })
    )
  }
  return Either.right(out as ExecutionQuery)
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
  for (const key of fieldNames) {
    const value = query[key]
    if (value !== undefined) params.push([key, value])
  }
  return params
}

/**
 * Validates the filters of a query string (what a server receives; other parameters, such as
 * `offset`, are ignored): the reverse of {@link toUrlParams}.
 *
 * @since 0.1.0
 */
export const fromUrlParams = (params: URLSearchParams): Either.Either<ExecutionQuery, InvalidInput> => {
  const input: { -readonly [K in Field]?: string } = {}
  for (const key of fieldNames) {
    const value = params.get(key)
    if (value !== null) input[key] = value
  }
  return make(input)
}
