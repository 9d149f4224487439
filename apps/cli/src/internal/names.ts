/**
 * The `--names FILE` of `usage` and `report`: labels for workflow and user ids, in JSON or YAML
 * (`{ workflows: { id: label }, users: { id: label } }`), read by one reader for both commands.
 *
 * @internal
 */
import { readFileSync } from "node:fs"
import * as Options from "@effect/cli/Options"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type { Names } from "@taskhistory/report/Names"
import { Effect } from "effect"

/** The `--names FILE` flag. @internal */
export const option = Options.text("names").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription(
    'Labels for ids, JSON or YAML: { "workflows": { id: label }, "users": { id: label } }, shown beside the ids.'
  ),
  Options.optional
)

/** Reads a `--names` file: JSON, or YAML (a superset of JSON). A bad file is exit 2. @internal */
export const read = (path: string): Effect.Effect<Names, InvalidInput> =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (e) =>
        new InvalidInput({
          field: "--names",
          value: path,
          expected: `a readable file (${e instanceof Error ? e.message : String(e)})`
        })
    })
    const YAML = yield* Effect.promise(() => import("yaml"))
    const parsed = yield* Effect.try({
      try: () => YAML.parse(text) as unknown,
      catch: () => new InvalidInput({ field: "--names", value: path, expected: "a JSON or YAML file" })
    })
    const { Names } = yield* Effect.promise(() => import("@taskhistory/report"))
    return yield* Names.decode(parsed, path)
  })
