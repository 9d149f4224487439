/**
 * Process wiring of the exporter: logging.
 *
 * @internal
 */
import { type Effect, Logger, LogLevel } from "effect"

/**
 * Debug logs with `--verbose` (the logger itself, logfmt on stderr, comes from app-kit's runner).
 *
 * @internal
 */
export const withLogging =
  (verbose: boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Logger.withMinimumLogLevel(effect, verbose ? LogLevel.Debug : LogLevel.Info)
