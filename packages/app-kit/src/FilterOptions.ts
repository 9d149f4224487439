/**
 * The execution filters both binaries share (`--integration`, `--workflow-id`, `--user-id`,
 * `--status`, `--after`, `--before`, `--sort`), parsed straight into a validated
 * `ExecutionQuery`. A bad value is an `@effect/cli` validation error naming the flag and the
 * value (exit code 2).
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import { Effect, Either, Option } from "effect"

/**
 * The filter flags as typed, before validation.
 *
 * @since 0.1.0
 */
export interface FilterFlags {
  readonly integration: Option.Option<string>
  readonly workflowId: Option.Option<string>
  readonly userId: Option.Option<string>
  readonly status: Option.Option<string>
  readonly after: Option.Option<string>
  readonly before: Option.Option<string>
  readonly sort: Option.Option<string>
}

const flagOf: Record<string, string> = {
  integration: "--integration",
  workflowId: "--workflow-id",
  userId: "--user-id",
  status: "--status",
  afterDate: "--after",
  beforeDate: "--before",
  sortBy: "--sort"
}

/**
 * The flags that select executions without dates or order (`--integration`, `--workflow-id`,
 * `--user-id`, `--status`), unvalidated: for commands with their own notion of time, such as the
 * exporter's `--since`.
 *
 * @since 0.1.0
 */
export const selectionFlags: Options.Options<
  Pick<FilterFlags, "integration" | "workflowId" | "userId" | "status">
> = Options.all({
  integration: Options.text("integration").pipe(
    Options.withDescription("Only executions of this integration (e.g. salesforce)."),
    Options.optional
  ),
  workflowId: Options.text("workflow-id").pipe(
    Options.withDescription("Only executions of this workflow."),
    Options.optional
  ),
  userId: Options.text("user-id").pipe(
    Options.withDescription("Only executions of this Connected User."),
    Options.optional
  ),
  status: Options.text("status").pipe(
    Options.withPseudoName("SUCCEEDED|FAILED|EXECUTING|DELAYED"),
    Options.withDescription("Only executions with this status (any case)."),
    Options.optional
  )
})

/**
 * The raw filter flags (no validation): for commands that need to treat one of them specially.
 *
 * @since 0.1.0
 */
export const flags: Options.Options<FilterFlags> = Options.map(
  Options.all({
    selection: selectionFlags,
    after: Options.text("after").pipe(
      Options.withPseudoName("ISO"),
      Options.withDescription(
        "Only executions started after this date, e.g. 2023-02-16 or 2023-02-16T00:00:00Z (no zone: UTC)."
      ),
      Options.optional
    ),
    before: Options.text("before").pipe(
      Options.withPseudoName("ISO"),
      Options.withDescription("Only executions started before this date."),
      Options.optional
    ),
    sort: Options.text("sort").pipe(
      Options.withPseudoName("asc|desc"),
      Options.withDescription("Order by start date. Default: desc (the API's default)."),
      Options.optional
    )
  }),
  ({ selection, ...dates }) => ({ ...selection, ...dates })
)

/**
 * Validates filter flags into a query; the error names the flag and the value.
 *
 * @since 0.1.0
 */
export const make = (input: FilterFlags): Either.Either<ExecutionQuery.ExecutionQuery, string> =>
  Either.mapLeft(
    ExecutionQuery.make({
      integration: Option.getOrUndefined(input.integration),
      workflowId: Option.getOrUndefined(input.workflowId),
      userId: Option.getOrUndefined(input.userId),
      status: Option.getOrUndefined(input.status),
      afterDate: Option.getOrUndefined(input.after),
      beforeDate: Option.getOrUndefined(input.before),
      sortBy: Option.getOrUndefined(input.sort)
    }),
    (e) => `invalid ${flagOf[e.field] ?? e.field} ${JSON.stringify(e.value)}: expected ${e.expected}`
  )

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
