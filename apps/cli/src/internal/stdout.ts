/**
 * Writing to stdout with back-pressure: a write waits for `drain` when the pipe is full, so a
 * slow reader (`| less`) slows the read down instead of filling memory.
 *
 * @internal
 */
import { Console, Effect } from "effect"

/** @internal */
export const write = (text: string): Effect.Effect<void> =>
  text === ""
    ? Effect.void
    : Effect.async<void>((resume) => {
        if (process.stdout.write(text)) resume(Effect.void)
        else process.stdout.once("drain", () => resume(Effect.void))
      })

/** @internal */
export const line = (text: string): Effect.Effect<void> => write(`${text}\n`)

/**
 * Notices, warnings and summaries: stderr, never stdout, through the runner's Console, so that
 * they are scrubbed of secrets, their control characters escaped, and drained before exit.
 * @internal
 */
export const notice = (text: string): Effect.Effect<void> => Console.error(text)
