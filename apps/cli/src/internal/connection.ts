/**
 * What every command that talks to the API shares: the client built from the connection flags,
 * and the cost notice before a long read.
 *
 * @internal
 */
import type { FileSystem } from "@effect/platform/FileSystem"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as CostNotice from "@taskhistory/app-kit/CostNotice"
import type * as Main from "@taskhistory/app-kit/Main"
import type { ExecutionQuery } from "@taskhistory/core/ExecutionQuery"
import { type CostPlanOptions, TaskHistoryClient } from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import type { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Effect } from "effect"
import * as Out from "./stdout.js"

/** Provides the client, its config and limiter built from the connection flags. @internal */
export const provideConnection =
  (connection: ConnectionOptions.ConnectionFlags) =>
  <A, E>(
    effect: Effect.Effect<A, E, TaskHistoryClient | TaskHistoryConfig.TaskHistoryConfig>
  ): Effect.Effect<A, E | Main.CliError | InvalidInput, FileSystem> =>
    Effect.provide(effect, ConnectionOptions.layer(connection))

/**
 * Reads the cost plan of a full read (one request; two with `options.steps`, which also counts
 * the step requests, an estimate), and prints it on stderr when the read will take over a minute
 * at the rate-limit budget. @internal
 */
export const costNotice = (query: ExecutionQuery, quiet: boolean, options: CostPlanOptions = {}) =>
  Effect.gen(function* () {
    const client = yield* TaskHistoryClient
    const config = yield* TaskHistoryConfig.TaskHistoryConfig
    const plan = yield* client.costPlan(query, options)
    if (!quiet && CostNotice.isLong(plan)) {
      yield* Out.notice(`${CostNotice.describe(plan, config.rateLimit, "this read")}; Ctrl-C stops it`)
    }
    return plan
  })
