/**
 * When `taskhistory-exporter run` runs: once, on a cron expression, or every fixed interval.
 * Runs never overlap: a run that is still going when the next one is due makes that start
 * (and any other missed one) be skipped, with a log line saying so; the schedule then resumes
 * at its next due time. A failed run is logged and the schedule continues.
 *
 * Time comes from Effect's `Clock`, so `TestClock` drives the schedule in tests.
 *
 * @since 0.1.0
 */
import { parseDuration } from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Cause, Clock, Cron, Data, Duration, Effect, Either, Option } from "effect"

/**
 * A schedule of runs.
 *
 * - `Once`: a single run; its failure is the command's failure.
 * - `Cron`: at every instant matched by a cron expression (UTC unless `timezone` is given).
 * - `Every`: at a fixed rate, the first run at start and then every `interval` after it.
 *
 * @since 0.1.0
 */
export type RunSchedule = Data.TaggedEnum<{
  Once: {}
  Cron: { readonly expression: string; readonly cron: Cron.Cron }
  Every: { readonly interval: Duration.Duration }
}>

/**
 * Constructors and matchers of {@link RunSchedule}.
 *
 * @since 0.1.0
 */
export const RunSchedule = Data.taggedEnum<RunSchedule>()

/**
 * The flags that choose a schedule.
 *
 * @since 0.1.0
 */
export interface ScheduleFlags {
  readonly once?: boolean | undefined
  readonly schedule?: string | undefined
  readonly every?: string | undefined
  /** Time zone of the cron expression (an IANA name). Default UTC. */
  readonly timezone?: string | undefined
  /** The shortest `every` accepted (shorter is refused). Default: no minimum. */
  readonly minEvery?: Duration.Duration | undefined
}

/**
 * Parses a cron expression: five fields (minute hour day month weekday) or six (with seconds
 * first). The error names the expression.
 *
 * @since 0.1.0
 */
export const parseCron = (expression: string, timezone = "UTC"): Either.Either<RunSchedule, InvalidInput> => {
  const bad = (why: string) =>
    new InvalidInput({
      field: "--schedule",
      value: expression,
      expected: `a cron expression such as "*/15 * * * *" (${why})`
    })
  return Either.flatMap(
    Either.mapLeft(Cron.parse(expression.trim(), timezone), (error) => bad(error.message)),
    (cron) =>
      // An expression that parses but never matches (e.g. "0 0 30 2 *") has no next run.
      Either.isRight(Either.try(() => Cron.next(cron, new Date(0))))
        ? Either.right(RunSchedule.Cron({ expression: expression.trim(), cron }))
        : Either.left(bad("it never matches"))
  )
}

/**
 * Chooses the schedule from the flags: `--once` (the default), `--schedule CRON` or
 * `--every DURATION` (a unit required, at most the longest timer, at least `minEvery` when
 * given); at most one of them.
 *
 * @since 0.1.0
 */
export const fromFlags = (flags: ScheduleFlags): Either.Either<RunSchedule, InvalidInput> => {
  const given = [flags.once === true, flags.schedule !== undefined, flags.every !== undefined].filter(
    Boolean
  ).length
  if (given > 1) {
    return Either.left(
      new InvalidInput({
        field: "schedule flags",
        value: [
          flags.once === true ? "--once" : undefined,
          flags.schedule !== undefined ? `--schedule ${flags.schedule}` : undefined,
          flags.every !== undefined ? `--every ${flags.every}` : undefined
        ]
          .filter((s) => s !== undefined)
          .join(" "),
        expected: "at most one of --once, --schedule and --every"
      })
    )
  }
  if (flags.schedule !== undefined) {
    if (flags.timezone !== undefined) {
      const zone = flags.timezone
      const valid = Either.isRight(Either.try(() => new Intl.DateTimeFormat("en-US", { timeZone: zone })))
      if (!valid) {
        return Either.left(
          new InvalidInput({
            field: "--timezone",
            value: zone,
            expected: "an IANA time zone such as Europe/Paris"
          })
        )
      }
    }
    return parseCron(flags.schedule, flags.timezone ?? "UTC")
  }
  if (flags.every !== undefined) {
    const every = flags.every
    const min = flags.minEvery
    return Either.flatMap(parseDuration(every, "--every"), (interval) =>
      min !== undefined && Duration.lessThan(interval, min)
        ? Either.left(
            new InvalidInput({
              field: "--every",
              value: every,
              expected: `a duration of at least ${Duration.format(min)} (runs closer than that would spend the API budget back to back; --min-every lowers the minimum)`
            })
          )
        : Either.right(RunSchedule.Every({ interval }))
    )
  }
  return Either.right(RunSchedule.Once())
}

/**
 * The next start of a schedule: the first due time strictly after `previousDue` that is not in
 * the past at `now`, with the number of due times skipped because they passed while a run was
 * going. `previousDue` is `undefined` before the first run (a fixed-rate schedule then starts at
 * `now`; a cron schedule at its first match after `now`). `Once` has no next start after a run.
 *
 * @since 0.1.0
 */
export const nextDue = (
  schedule: RunSchedule,
  previousDue: number | undefined,
  now: number
): Option.Option<{ readonly at: number; readonly skipped: number }> => {
  switch (schedule._tag) {
    case "Once":
      return previousDue === undefined ? Option.some({ at: now, skipped: 0 }) : Option.none()
    case "Every": {
      const interval = Math.max(1, Duration.toMillis(schedule.interval))
      if (previousDue === undefined) return Option.some({ at: now, skipped: 0 })
      const first = previousDue + interval
      if (first >= now) return Option.some({ at: first, skipped: 0 })
      const skipped = Math.ceil((now - first) / interval)
      return Option.some({ at: first + skipped * interval, skipped })
    }
    case "Cron": {
      // Cron.next returns the first match strictly after its argument.
      const from = previousDue === undefined ? now : previousDue
      const first = Cron.next(schedule.cron, new Date(from)).getTime()
      if (first >= now) return Option.some({ at: first, skipped: 0 })
      let skipped = 0
      let at = first
      // A run can overrun many cron ticks; count them, bounded to keep this cheap.
      while (at < now && skipped < 100_000) {
        skipped++
        at = Cron.next(schedule.cron, new Date(at)).getTime()
      }
      return Option.some({ at, skipped })
    }
  }
}

/** Cron ticks looked at by {@link shortestGap}: enough to meet every gap of a daily or weekly pattern. */
const GAP_TICKS = 64

/**
 * The shortest time between two starts of a schedule from `from` on: the interval of `Every`; for
 * `Cron`, the shortest gap among its next {@link GAP_TICKS} matches (`0 9,17 * * *`: 8 hours);
 * none for `Once`. A run given this as its deadline for extra work (the step backlog) never
 * overruns the next start, whichever tick it starts at.
 *
 * @since 0.3.0
 */
export const shortestGap = (schedule: RunSchedule, from: number): Option.Option<Duration.Duration> => {
  switch (schedule._tag) {
    case "Once":
      return Option.none()
    case "Every":
      return Option.some(schedule.interval)
    case "Cron": {
      let previous = Cron.next(schedule.cron, new Date(from)).getTime()
      let shortest = Number.POSITIVE_INFINITY
      for (let i = 1; i < GAP_TICKS; i++) {
        const at = Cron.next(schedule.cron, new Date(previous)).getTime()
        shortest = Math.min(shortest, at - previous)
        previous = at
      }
      return Number.isFinite(shortest) ? Option.some(Duration.millis(shortest)) : Option.none()
    }
  }
}

/**
 * A human description of a schedule, for logs.
 *
 * @since 0.1.0
 */
export const describe = (schedule: RunSchedule): string =>
  RunSchedule.$match(schedule, {
    Once: () => "once",
    Cron: ({ expression }) => `on cron "${expression}"`,
    Every: ({ interval }) => `every ${Duration.format(interval)}`
  })

const failureMessage = <E>(cause: Cause.Cause<E>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/**
 * Runs `run` on a schedule, never two at once. For `Once`, the run's result is the result. For
 * the others the returned Effect never ends by itself (interrupt it to stop; a run in flight is
 * interrupted, so make its writes uninterruptible): a failed run is logged with its cause and
 * the schedule continues, unless `stopOn` holds for it (a permanent error): then the schedule
 * ends with that failure. `onFailure` is called with each failure of a scheduled run.
 *
 * @since 0.1.0
 */
export const runScheduled = <A, E, R>(
  schedule: RunSchedule,
  run: Effect.Effect<A, E, R>,
  options?: {
    readonly onFailure?: ((cause: Cause.Cause<E>) => Effect.Effect<void>) | undefined
    /** A failure for which this holds ends the schedule with that failure (a permanent error). */
    readonly stopOn?: ((cause: Cause.Cause<E>) => boolean) | undefined
    /**
     * A failure for which this holds ends the schedule with that failure, without a log line (the
     * caller tells what it means: a lease lost).
     */
    readonly endOn?: ((cause: Cause.Cause<E>) => boolean) | undefined
  }
): Effect.Effect<A | undefined, E, R> => {
  if (schedule._tag === "Once") return run
  const loop = (previousDue: number | undefined): Effect.Effect<never, E, R> =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const next = nextDue(schedule, previousDue, now)
      if (Option.isNone(next)) return yield* Effect.never
      const { at, skipped } = next.value
      if (skipped > 0) {
        yield* Effect.logWarning(
          `the previous run overran ${skipped} scheduled start(s); skipped them, next run at ${new Date(at).toISOString()}`
        )
      } else if (at > now) {
        yield* Effect.logDebug(`next run at ${new Date(at).toISOString()}`)
      }
      if (at > now) yield* Effect.sleep(Duration.millis(at - now))
      const exit = yield* Effect.exit(run)
      if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
        if (options?.onFailure !== undefined) yield* options.onFailure(exit.cause)
        if (options?.endOn?.(exit.cause) === true) return yield* Effect.failCause(exit.cause)
        if (options?.stopOn?.(exit.cause) === true) {
          yield* Effect.logError(
            `run failed: ${failureMessage(exit.cause)}; this will not change by retrying: stopping the schedule`
          )
          return yield* Effect.failCause(exit.cause)
        }
        yield* Effect.logError(`run failed: ${failureMessage(exit.cause)}; the schedule continues`)
      } else if (exit._tag === "Failure") {
        return yield* Effect.interrupt
      }
      return yield* loop(at)
    })
  return Effect.suspend(() => loop(undefined))
}
