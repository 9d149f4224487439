/**
 * Small Effect helpers shared by the core's test files.
 */
import { Cause, Duration, Effect, Exit, Option } from "effect"

/** The error `effect` fails with (a defect if it succeeds or dies instead). */
export const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && Option.isSome(Cause.failureOption(exit.cause))
      ? Effect.succeed(Option.getOrThrow(Cause.failureOption(exit.cause)))
      : Effect.dieMessage(
          `expected a failure, got ${Exit.isSuccess(exit) ? "a success" : Cause.pretty(exit.cause)}`
        )
  )

/** `effect`, or a defect when it takes longer than a generous bound (its own errors pass through). */
export const within = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  what: string,
  bound: Duration.DurationInput = "5 seconds"
) =>
  Effect.timeoutFailCause(effect, {
    duration: bound,
    onTimeout: () => Cause.die(new Error(`${what}: not within ${Duration.format(Duration.decode(bound))}`))
  })
