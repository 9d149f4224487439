/**
 * The execution filters both binaries share (`--integration`, `--workflow-id`, `--user-id`,
 * `--status`, `--after`, `--before`, `--sort`), parsed into a validated `ExecutionQuery`. A bad
 * value is an error naming the flag and the value (exit code 2).
 *
 * The flags are derived from `ExecutionQuery.fields` in `@taskhistory/core`: that table (name,
 * kind of value, flag, description) is where a filter is added or changed.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Clock, Effect, Either, Option } from "effect"
import * as Dates from "./Dates.js"

/**
 * The filter flags as typed, before validation, by filter name.
 *
 * @since 0.1.0
 */
export type FilterFlags = { readonly [K in ExecutionQuery.Field]: Option.Option<string> }

/**
 * The flags that select executions, without dates or order.
 *
 * @since 0.1.0
 */
export type SelectionFlags = Pick<FilterFlags, ExecutionQuery.SelectionField>

/**
 * The flag of a filter, as typed on the command line (`workflowId` -> `--workflow-id`).
 *
 * @since 0.1.0
 */
export const flagOf = (field: ExecutionQuery.Field): string => `--${ExecutionQuery.fields[field].flag}`

const flag = (field: ExecutionQuery.Field): Options.Options<Option.Option<string>> => {
  const spec: ExecutionQuery.FieldSpec = ExecutionQuery.fields[field]
  const text = Options.text(spec.flag)
  return (spec.placeholder === undefined ? text : Options.withPseudoName(text, spec.placeholder)).pipe(
    Options.withDescription(spec.description),
    Options.optional
  )
}

const flagsOf = <K extends ExecutionQuery.Field>(
  names: ReadonlyArray<K>
): Options.Options<{ readonly [P in K]: Option.Option<string> }> =>
  Options.map(Options.all(names.map(flag)), (values) => {
    const out: Partial<Record<K, Option.Option<string>>> = {}
    names.forEach((name, i) => {
      out[name] = values[i] ?? Option.none()
    })
    // Every name was given a value above.
    return out as { readonly [P in K]: Option.Option<string> }
  })

/**
 * The flags that select executions without dates or order (`--integration`, `--workflow-id`,
 * `--user-id`, `--status`), unvalidated: for commands with their own notion of time, such as the
 * exporter's `--since`. Validate them with {@link validate}.
 *
 * @since 0.1.0
 */
export const selectionFlags: Options.Options<SelectionFlags> = flagsOf(ExecutionQuery.selectionFields)

/**
 * The raw filter flags (no validation): for commands that validate them later. Validate them
 * with {@link validate}.
 *
 * @since 0.1.0
 */
export const flags: Options.Options<FilterFlags> = flagsOf(ExecutionQuery.fieldNames)

/**
 * Validates filter flags (all of them, or a subset such as {@link selectionFlags}) into a query;
 * the error names the flag (`--status`) and the value. Dates may be ISO 8601 or relative to
 * `nowMs` (`30m`, `24h`, `7d`, `2w`: see `Dates`).
 *
 * @since 0.1.0
 */
export const validate = <K extends ExecutionQuery.Field>(
  input: {
    readonly [P in K]: Option.Option<string>
  },
  nowMs: number
): Either.Either<Pick<ExecutionQuery.ExecutionQuery, K>, InvalidInput> => {
  const given: Partial<FilterFlags> = input
  const query: { -readonly [P in ExecutionQuery.Field]?: string } = {}
  for (const key of ExecutionQuery.fieldNames) {
    const value = given[key]
    if (value === undefined || Option.isNone(value)) continue
    if (ExecutionQuery.fields[key].kind === "date") {
      const date = Dates.resolve(value.value, nowMs)
      if (date === undefined) {
        return Either.left(
          new InvalidInput({ field: flagOf(key), value: value.value, expected: Dates.expected })
        )
      }
      query[key] = date
    } else {
      query[key] = value.value
    }
  }
  return Either.mapLeft(
    ExecutionQuery.make(query),
    (e) =>
      new InvalidInput({
        field: ExecutionQuery.isField(e.field) ? flagOf(e.field) : e.field,
        value: e.value,
        // the core's messages name the API's parameters; the user typed the flags
        expected: e.expected.replace(/\b(afterDate|beforeDate)\b/g, (name) =>
          ExecutionQuery.isField(name) ? flagOf(name) : name
        )
      })
  )
}

/**
 * Validates filter flags into a query (relative dates against `nowMs`); the error is the message
 * naming the flag and the value.
 *
 * @since 0.1.0
 */
export const make = (
  input: FilterFlags,
  nowMs: number
): Either.Either<ExecutionQuery.ExecutionQuery, string> =>
  Either.mapLeft(validate(input, nowMs), (e) => e.message)

/**
 * The filter options, validated into an `ExecutionQuery` at parse time.
 *
 * @example
 * const count = Command.make("count", { query: FilterOptions.options }, ({ query }) => ...)
 *
 * @since 0.1.0
 */
export const options: Options.Options<ExecutionQuery.ExecutionQuery> = Options.mapEffect(flags, (input) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Either.match(make(input, now), {
      onLeft: (message) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message))),
      onRight: Effect.succeed
    })
  )
)

/**
 * The filters without `--sort`, validated at parse time: for commands whose output does not
 * depend on the order of the read (`count`, `usage`, `report`), where `--sort` would be
 * accepted and mean nothing (it is refused as an unknown flag instead).
 *
 * @since 0.2.0
 */
export const unorderedOptions: Options.Options<Omit<ExecutionQuery.ExecutionQuery, "sortBy">> =
  Options.mapEffect(
    flagsOf(
      ExecutionQuery.fieldNames.filter((f): f is Exclude<ExecutionQuery.Field, "sortBy"> => f !== "sortBy")
    ),
    (input) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Either.match(validate(input, now), {
          onLeft: (e) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(e.message))),
          onRight: Effect.succeed
        })
      )
  )
