/**
 * Reading a file a user names on the command line (a key file, a names or alerts file, a config)
 * without trusting its size: at most `maxBytes` are read, so `/dev/zero`, a FIFO that never ends
 * or a log passed by mistake is refused with exit code 2 instead of growing memory.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Effect, Option } from "effect"

/**
 * The size limit of a key file: a Paragon key is a few hundred bytes.
 *
 * @since 0.1.0
 */
export const keyFileLimit = 4 * 1024

const human = (bytes: number) =>
  bytes >= 1024 * 1024
    ? `${bytes / 1024 / 1024} MiB`
    : bytes >= 1024
      ? `${bytes / 1024} KiB`
      : `${bytes} bytes`

/**
 * Reads at most `maxBytes` of the file at `path` as UTF-8 text. A file that is larger (or a
 * device or FIFO that keeps giving) fails with `InvalidInput` naming `field` and the path, as
 * does one that cannot be read; nothing beyond `maxBytes + 1` bytes is ever held.
 *
 * @example
 * const text = yield* InputFile.readText("--names", "./names.yaml", 1024 * 1024)
 *
 * @since 0.1.0
 */
export const readText = (
  field: string,
  path: string,
  maxBytes: number
): Effect.Effect<string, InvalidInput, FileSystem.FileSystem> =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const unreadable = (why: string) =>
        new InvalidInput({ field, value: path, expected: `a readable file (${why})` })
      const file = yield* fs
        .open(path, { flag: "r" })
        .pipe(
          Effect.mapError((error) =>
            unreadable(
              error._tag === "SystemError" && error.reason === "NotFound"
                ? "no such file"
                : error._tag === "SystemError" && error.reason === "PermissionDenied"
                  ? "permission denied"
                  : error.message
            )
          )
        )
      const chunks: Array<Uint8Array> = []
      let length = 0
      // A read may return less than asked (a pipe): read until the end or past the limit.
      while (length <= maxBytes) {
        const chunk = yield* file
          .readAlloc(FileSystem.Size(maxBytes + 1 - length))
          .pipe(Effect.mapError((error) => unreadable(error.message)))
        if (Option.isNone(chunk) || chunk.value.length === 0) break
        chunks.push(chunk.value)
        length += chunk.value.length
      }
      if (length > maxBytes) {
        return yield* new InvalidInput({
          field,
          value: path,
          expected: `a file of at most ${human(maxBytes)} (this one is larger)`
        })
      }
      return new TextDecoder().decode(Buffer.concat(chunks, length))
    })
  )
