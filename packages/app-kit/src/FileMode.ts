/**
 * Private files by default: the binaries hold customer data (executions, users, errors), so what
 * they create (SQLite databases with their `-wal`, `-shm` and `.lock`, day files, `_state.json`,
 * manifests, rejects, replay logs, reports) is readable by its owner only: files `0600`,
 * directories `0700`. The process umask is made at least `077` at start; `--umask MODE` (or
 * `TASKHISTORY_UMASK`) sets another one for teams that need group read (`027`: files `0640`,
 * directories `0750`). Files that exist already keep their mode.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Config, Effect, Either, Option } from "effect"

/**
 * The bits always masked unless `--umask` says otherwise: group and others get nothing.
 *
 * @since 0.1.0
 */
export const defaultUmask = 0o077

/**
 * Makes the process umask at least {@link defaultUmask} (bits the user's umask masks already stay
 * masked). Call it first thing in a binary; a library never changes the umask.
 *
 * @since 0.1.0
 */
export const privateByDefault = (): void => {
  const current = process.umask(defaultUmask)
  process.umask(current | defaultUmask)
}

/**
 * Parses a umask in octal (`027`, `0027`, `22`). The owner's read and write must stay allowed
 * (the binaries could not write their own files otherwise).
 *
 * @example
 * FileMode.parseUmask("027") // Right(0o027)
 *
 * @since 0.1.0
 */
export const parseUmask = (input: string, field = "--umask"): Either.Either<number, InvalidInput> => {
  const text = input.trim()
  if (!/^0?[0-7]{1,3}$/.test(text)) {
    return Either.left(
      new InvalidInput({
        field,
        value: input,
        expected: "an octal umask such as 077 (private) or 027 (group read)"
      })
    )
  }
  const mask = Number.parseInt(text, 8)
  if ((mask & 0o700) !== 0) {
    return Either.left(
      new InvalidInput({
        field,
        value: input,
        expected:
          "a umask that leaves the owner read, write and search (its first digit 0), such as 077 or 027"
      })
    )
  }
  return Either.right(mask)
}

/**
 * `--umask MODE` (falls back to `TASKHISTORY_UMASK`): add it to every command that creates files
 * and pass its value to {@link apply} before the first one is created.
 *
 * @since 0.1.0
 */
export const umaskOption: Options.Options<Option.Option<string>> = Options.text("umask").pipe(
  Options.withPseudoName("MODE"),
  Options.withDescription(
    "The umask of the files and directories this command creates, in octal. Default: 077 (files 0600, directories 0700: owner only); 027 gives the group read (0640, 0750). Also TASKHISTORY_UMASK."
  ),
  Options.withFallbackConfig(Config.string("TASKHISTORY_UMASK")),
  Options.optional
)

/**
 * Sets the process umask from the value of {@link umaskOption} (nothing when it was not given:
 * {@link privateByDefault} holds). Fails with `InvalidInput` naming the value.
 *
 * @since 0.1.0
 */
export const apply = (value: Option.Option<string>): Effect.Effect<void, InvalidInput> =>
  Option.match(value, {
    onNone: () => Effect.void,
    onSome: (text) =>
      Either.match(parseUmask(text), {
        onLeft: Effect.fail,
        onRight: (mask) =>
          Effect.sync(() => {
            process.umask(mask)
          })
      })
  })
