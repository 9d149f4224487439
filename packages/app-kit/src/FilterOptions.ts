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
import { Effect, Either, Option } from "effect"

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
 * the error names the flag (`--status`) and the value.
 *
 * @since 0.1.0
 */
export const validate = <K extends ExecutionQuery.Field>(
  input: {
    readonly [P in K]: Option.Option<string>
  }
): Either.Either<Pick<ExecutionQuery.ExecutionQuery, K>, InvalidInput> => {
  const given: Partial<FilterFlags> = input
  const query: { -readonly [P in ExecutionQuery.Field]?: string } = {}
  for (const key of ExecutionQuery.fieldNames) {
    const value = given[key]
    if (value !== undefined && Option.isSome(value)) query[key] = value.value
  }
  return Either.mapLeft(
    ExecutionQuery.make(query),
    (e) =>
      new InvalidInput({
        field: ExecutionQuery.isField(e.field) ? flagOf(e.field) : e.field,
        value: e.value,
        expected: e.expected
      })
  )
}

/**
 * Validates filter flags into a query; the error is the message naming the flag and the value.
 *
 * @since 0.1.0
 */
export const make = (input: FilterFlags): Either.Either<ExecutionQuery.ExecutionQuery, string> =>
  Either.mapLeft(validate(input), (e) => e.message)

/**
 * The filter options, validated into an `ExecutionQuery` at parse time.
 *
 * @example
 * const count = Command.make("count", { query: FilterOptions.options }, ({ query }) => ...)
 *
 * @since 0.1.0
 */
export const options: Options.Options<ExecutionQuery.ExecutionQuery> = Options.mapEffect(flags, (input) =>
  Either.match(make(input), {
    onLeft: (message) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message))),
    onRight: Effect.succeed
  })
)
