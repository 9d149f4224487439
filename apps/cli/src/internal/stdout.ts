/**
 * Writing to stdout with back-pressure: a write waits for `drain` when the pipe is full, so a
 * slow reader (`| less`) slows the read down instead of filling memory.
 *
 * @internal
 */

import type { Chunk } from "effect"
import { Console, Effect, Option, Stream } from "effect"

/**
 * Texts from this length on are written as their UTF-8 bytes: a write the pipe cannot take at
 * once waits in Node's stream queue, and bytes wait off the JavaScript heap, where a string of a
 * page's output would be copied and promoted by the garbage collector meanwhile. Encoding costs
 * the same either way (Node encodes a string when it writes it).
 */
const AS_BYTES = 4096

const drain: Effect.Effect<void> = Effect.async<void>((resume) => {
  process.stdout.once("drain", () => resume(Effect.void))
})

/** @internal */
export const write = (text: string): Effect.Effect<void> =>
  text === ""
    ? Effect.void
    : Effect.suspend(() =>
        process.stdout.write(text.length >= AS_BYTES ? Buffer.from(text) : text) ? Effect.void : drain
      )

/** @internal */
export const line = (text: string): Effect.Effect<void> => write(`${text}\n`)

/**
 * Notices, warnings and summaries: stderr, never stdout, through the runner's Console, so that
 * they are scrubbed of secrets, their control characters escaped, and drained before exit.
 * @internal
 */
export const notice = (text: string): Effect.Effect<void> => Console.error(text)

/**
 * `Stream.runForEachChunk`, through `Stream.toPull`: each chunk is pulled and handed to `f`, the
 * next pulled when `f` is done. Run by a sink (`runForEachChunk`), a bulk read's chunks lived
 * through scavenges and were promoted to the old generation (measured: 40 MB per 1,000 pages
 * against 17 MB pulled; see bench/RESULTS-cli.md), which cost garbage-collector time on every
 * page of `list --all`.
 * @internal
 */
export const forEachChunk = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  f: (chunk: Chunk.Chunk<A>) => Effect.Effect<void>
): Effect.Effect<void, E, R> =>
  Effect.scoped(
    Effect.flatMap(Stream.toPull(stream), (pull) => {
      const loop: Effect.Effect<void, E, R> = Effect.matchEffect(pull, {
        onFailure: (end) => (Option.isNone(end) ? Effect.void : Effect.fail(end.value)),
        onSuccess: (chunk) => Effect.flatMap(f(chunk), () => loop)
      })
      return loop
    })
  )
