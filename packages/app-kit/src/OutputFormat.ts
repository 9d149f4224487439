/**
 * `--format` and other choice flags, the same in both binaries: `table` (for people, the
 * default) and `json` (one JSON document) on every command that prints data, `ndjson` and `csv`
 * where the output is rows. Any case is accepted; a bad value is exit 2 naming the flag, the
 * value and the choices.
 *
 * @since 0.2.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Effect } from "effect"

/**
 * Every output format.
 *
 * @since 0.2.0
 */
export type Format = "table" | "json" | "ndjson" | "csv"

/**
 * Every output format, in the order help lists them.
 *
 * @since 0.2.0
 */
export const formats: ReadonlyArray<Format> = ["table", "json", "ndjson", "csv"]

/**
 * A choice flag whose error names the flag, the bad value and the choices (any case accepted).
 *
 * @example
 * const by = OutputFormat.choice("by", ["workflow", "user"], "workflow", "Group by workflow or user.")
 *
 * @since 0.2.0
 */
export const choice = <A extends string>(
  name: string,
  choices: ReadonlyArray<A>,
  fallback: A,
  what: string
): Options.Options<A> =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join("|")),
    Options.withDescription(`${what} Default: ${fallback}.`),
    Options.withDefault(fallback as string),
    Options.mapEffect((value) => {
      const found = choices.find((c) => c === value.toLowerCase())
      return found === undefined
        ? Effect.fail(
            ValidationError.invalidValue(
              HelpDoc.p(`invalid --${name} ${JSON.stringify(value)}: expected one of ${choices.join(", ")}`)
            )
          )
        : Effect.succeed(found)
    })
  )

/**
 * `--format`, among the given formats (`table` and `json` at least).
 *
 * @example
 * const format = OutputFormat.option(["table", "json"], "table", "table, or json ({\"count\": N}).")
 *
 * @since 0.2.0
 */
export const option = <F extends Format>(
  choices: ReadonlyArray<F>,
  fallback: F,
  what: string
): Options.Options<F> => choice("format", choices, fallback, what)
