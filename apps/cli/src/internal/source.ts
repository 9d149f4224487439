/**
 * `--source api|SINK` of `usage` and `report`: read the executions from the API (the default) or
 * from an exporter's sink (`sqlite:PATH`, `postgres://...`, or a file sink's directory), which costs no API request.
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import * as Main from "@taskhistory/app-kit/Main"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import * as ExportReader from "@taskhistory/export/ExportReader"
import type { SinkError } from "@taskhistory/export/Sink"
import * as SinkSpec from "@taskhistory/export/SinkSpec"
import { Effect, Either } from "effect"

/** Where the executions come from. @internal */
export type Source = { readonly _tag: "Api" } | { readonly _tag: "Sink"; readonly spec: SinkSpec.SinkSpec }

/** The `--source` flag. @internal */
export const sourceOption = Options.text("source").pipe(
  Options.withPseudoName("api|SINK"),
  Options.withDescription(
    "Where to read the executions: api (default), or an exporter's sink: sqlite:PATH, postgres://..., ndjson:DIR, csv:DIR or parquet:DIR (zero API requests; the output says how fresh the export is)."
  ),
  Options.withDefault("api")
)

/** Parses `--source`. @internal */
export const parse = (text: string): Either.Either<Source, InvalidInput> =>
  text.trim().toLowerCase() === "api"
    ? Either.right({ _tag: "Api" })
    : Either.map(
        Either.mapLeft(
          SinkSpec.parse(text),
          (e) => new InvalidInput({ field: "--source", value: e.value, expected: `api, or ${e.expected}` })
        ),
        (spec) => ({ _tag: "Sink", spec })
      )

/** A sink that cannot be read: exit 2 when the file or driver is the problem, 6 otherwise. */
const exitCodes = <A, E, R>(effect: Effect.Effect<A, E | SinkError, R>) =>
  Effect.catchIf(
    effect,
    (e): e is SinkError => typeof e === "object" && e !== null && "_tag" in e && e._tag === "SinkError",
    (e) =>
      Effect.fail(
        new Main.CliError({
          exitCode:
            e.reason === "DriverMissing" || (e.reason === "Unavailable" && e.sink.startsWith("sqlite:"))
              ? 2
              : 6,
          text: e.message
        })
      )
  )

/** Provides the sink's reader (its SQL driver loaded then), with the exit codes of its errors. @internal */
export const provideReader =
  (spec: SinkSpec.SinkSpec) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    exitCodes(Effect.provide(effect, ExportReader.layer(spec)))

/** One line on how fresh an export is. @internal */
export const describeFreshness = (name: string, f: ExportReader.Freshness): string =>
  f.lastRunAt === undefined
    ? `source ${name}: no export run has finished yet`
    : `source ${name}: last successful export run ${f.lastRunAt}${
        f.highWaterMark === undefined ? "" : `, complete up to ${f.highWaterMark}`
      }`
