/**
 * Labels for workflow and user ids: the `--names FILE` mapping of the contract,
 * `{ "workflows": { id: label }, "users": { id: label } }`. Ids without a label show as the id.
 *
 * @since 0.1.0
 */

import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Either, ParseResult, Schema } from "effect"

const Labels = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * The names mapping as a schema: both keys optional, every label a string.
 *
 * @since 0.1.0
 */
export const Names = Schema.Struct({
  workflows: Schema.optional(Labels),
  users: Schema.optional(Labels)
})

/**
 * Labels for workflow and user ids.
 *
 * @since 0.1.0
 */
export type Names = typeof Names.Type

/**
 * No labels: every id shows as itself.
 *
 * @since 0.1.0
 */
export const empty: Names = {}

const decodeNames = Schema.decodeUnknownEither(Names, { errors: "first", onExcessProperty: "error" })

/**
 * Checks a parsed names file (the value of its JSON or YAML). `source` names the file in the
 * error, which is the core's `InvalidInput` (exit code 2 in the binaries).
 *
 * @example
 * const names = Names.decode(JSON.parse(text), "names.json") // Either<Names, InvalidInput>
 *
 * @since 0.1.0
 */
export const decode = (input: unknown, source = "names"): Either.Either<Names, InvalidInput> =>
  Either.mapLeft(decodeNames(input), (error) => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    const path = issue === undefined ? "" : issue.path.map(String).join(".")
    return new InvalidInput({
      field: "--names",
      value: source,
      expected: `{ "workflows": { id: label }, "users": { id: label } }${
        issue === undefined ? "" : ` (${path === "" ? "" : `${path}: `}${issue.message})`
      }`
    })
  })

const own = (labels: Readonly<Record<string, string>> | undefined, id: string): string | undefined =>
  labels !== undefined && Object.hasOwn(labels, id) ? labels[id] : undefined

/**
 * The label of a workflow id, or `undefined` when the mapping has none.
 *
 * @since 0.1.0
 */
export const workflow = (names: Names, id: string): string | undefined => own(names.workflows, id)

/**
 * The label of a user id, or `undefined` when the mapping has none.
 *
 * @since 0.1.0
 */
export const user = (names: Names, id: string): string | undefined => own(names.users, id)
