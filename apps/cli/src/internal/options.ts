/**
 * The option and argument builders the commands share, their help text with examples, and the
 * error for invalid input a command finds itself.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as Help from "@taskhistory/app-kit/Help"
import * as Main from "@taskhistory/app-kit/Main"
import * as OutputFormat from "@taskhistory/app-kit/OutputFormat"

/** A command's help: a description, notes, and example lines (app-kit's `Help.text`). @internal */
export const examples = (
  description: string,
  lines: ReadonlyArray<string>,
  notes: ReadonlyArray<string> = []
): HelpDoc.HelpDoc => Help.text(description, lines, notes)

/** Invalid input found by a command itself (exit code 2). @internal */
export const usageError = (text: string): Main.CliError => new Main.CliError({ exitCode: 2, text })

/** A choice whose error names the flag and the bad value (any case accepted). @internal */
export const choiceOption = OutputFormat.choice

/** `--format`, among the given formats. @internal */
export const formatOption = OutputFormat.option

/**
 * `--raw-csv`: with `--format csv`, cells exactly as served. By default a text cell a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a `'` in front.
 * @internal
 */
export const rawCsv: Options.Options<boolean> = Options.boolean("raw-csv").pipe(
  Options.withDescription(
    "With --format csv: cells exactly as served. By default a text cell starting with =, +, -, @ (a spreadsheet formula) gets a ' in front."
  )
)

/** The `<executionId>` argument. @internal */
export const executionId: Args.Args<string> = Args.text({ name: "executionId" }).pipe(
  Args.withDescription("The execution's id.")
)
