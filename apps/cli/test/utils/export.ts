/**
 * Exports made by the library (not the binaries under test) from a simulator into a sink, so that
 * the CLI's `--source` commands have something to read.
 */
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
import * as Exporter from "@taskhistory/export/Exporter"
import type { Sink } from "@taskhistory/export/Sink"
import type { RunningSimulator } from "@taskhistory/simulator"
import { Effect, Layer, Logger, LogLevel } from "effect"

/** The client to a simulator, with a budget no test reaches. */
const clientOf = (sim: RunningSimulator) =>
  TaskHistoryClient.layer.pipe(
    Layer.provideMerge(RateLimiter.layerFromConfig),
    Layer.provideMerge(
      TaskHistoryConfig.layer({
        apiKey: sim.apiKey,
        projectId: sim.projectId,
        baseUrl: sim.url,
        rateLimit: "10000/1s"
      })
    ),
    Layer.provide(UndiciHttpClient.layer)
  )

/** One export run of the simulator into each of `sinks`, in turn (errors only are logged). */
export const exportInto = async <E>(
  sim: RunningSimulator,
  sinks: ReadonlyArray<Layer.Layer<Sink, E>>,
  options: Exporter.RunOptions
): Promise<void> => {
  const client = clientOf(sim)
  for (const sink of sinks) {
    await Effect.runPromise(
      Exporter.run(options).pipe(
        Effect.provide(Layer.merge(client, sink)),
        Logger.withMinimumLogLevel(LogLevel.Error)
      )
    )
  }
}
