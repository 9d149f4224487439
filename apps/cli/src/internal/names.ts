/**
 * The `--names FILE` of `usage` and `report`: labels for workflow and user ids, in JSON or YAML
 * (`{ workflows: { id: label }, users: { id: label } }`), read by one reader for both commands.
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import * as InputFile from "@taskhistory/app-kit/InputFile"
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

/** Labels for a few hundred thousand ids; a bigger file (or `/dev/zero`) is a mistake. */
const MAX_BYTES = 32 * 1024 * 1024

/** Reads a `--names` file: JSON, or YAML (a superset of JSON). A bad file is exit 2. @internal */
export const read = (path: string): Effect.Effect<Names, InvalidInput> =>
  Effect.gen(function* () {
    const text = yield* InputFile.readText("--names", path, MAX_BYTES)
    const YAML = yield* Effect.promise(() => import("yaml"))
    const parsed = yield* Effect.try({
      try: () => YAML.parse(text) as unknown,
      catch: () => new InvalidInput({ field: "--names", value: path, expected: "a JSON or YAML file" })
    })
    const { Names } = yield* Effect.promise(() => import("@taskhistory/report"))
    return yield* Names.decode(parsed, path)
  })
