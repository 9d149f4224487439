/**
 * Reading a file a user names on the command line (a key file, a names or alerts file, a config)
 * without trusting its size: at most `maxBytes` are read, so `/dev/zero`, a FIFO that never ends
 * or a log passed by mistake is refused with exit code 2 instead of growing memory.
 *
 * @since 0.1.0
 */
import { open } from "node:fs/promises"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Effect } from "effect"

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
): Effect.Effect<string, InvalidInput> =>
  Effect.tryPromise({
    try: (signal) => readBounded(path, maxBytes, signal),
    catch: (error) => {
      const code = (error as NodeJS.ErrnoException).code
      return new InvalidInput({
        field,
        value: path,
        expected: `a readable file (${
          code === "ENOENT"
            ? "no such file"
            : code === "EACCES"
              ? "permission denied"
              : code === "EISDIR"
                ? "a directory"
                : (error as Error).message
        })`
      })
    }
  }).pipe(
    Effect.flatMap((bytes) =>
      bytes.length > maxBytes
        ? new InvalidInput({
            field,
            value: path,
            expected: `a file of at most ${human(maxBytes)} (this one is larger)`
          })
        : Effect.succeed(new TextDecoder().decode(bytes))
    )
  )

/**
 * At most `maxBytes + 1` bytes of `path`, read from the file's current position. Not the
 * platform `FileSystem`'s `File`: its reads are positional (`pread`), which a pipe or a process
 * substitution (`--config <(...)`) refuses with ESPIPE.
 */
const readBounded = async (path: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> => {
  const file = await open(path, "r")
  try {
    const buffer = Buffer.allocUnsafe(maxBytes + 1)
    let length = 0
    // A read may return less than asked (a pipe): read until the end or past the limit.
    while (length <= maxBytes && !signal.aborted) {
      const { bytesRead } = await file.read(buffer, length, maxBytes + 1 - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return buffer.subarray(0, length)
  } finally {
    await file.close()
  }
}
