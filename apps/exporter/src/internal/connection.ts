/**
 * Process wiring of the exporter: the API client from the connection flags, and logging.
 *
 * @internal
 */
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import { type Effect, Logger, LogLevel } from "effect"

/**
 * The Task History client built from the connection flags and the environment.
 *
 * @internal
 */
export const clientLayer = (flags: ConnectionOptions.ConnectionFlags) => ConnectionOptions.layer(flags)

/**
 * Debug logs with `--verbose` (the logger itself, logfmt on stderr, comes from app-kit's runner).
 *
 * @internal
 */
export const withLogging =
  (verbose: boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Logger.withMinimumLogLevel(effect, verbose ? LogLevel.Debug : LogLevel.Info)
