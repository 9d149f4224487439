// The README's usage example, kept compiling by `pnpm typecheck` (tsconfig.test.json includes it).
// Run it against the simulator: see the README's Development section.
import { writeFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { ExecutionQuery, TaskHistoryClient } from "@taskhistory/core"
import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
import { Effect, Layer } from "effect"
import { Names, Report } from "../src/index.js"

const program = Effect.gen(function* () {
  const client = yield* TaskHistoryClient.TaskHistoryClient
  // [start, end): executions belong to it by dateStarted; the previous period has the same length.
  const period = yield* Report.period("2026-09-01", "2026-12-01")
  const query = yield* ExecutionQuery.makeEffect({ afterDate: Report.previousPeriod(period).start })
  const data = yield* Report.fromStream(client.executions(query), { period, top: 15 })
  const names = yield* Names.decode({ workflows: { "wf-1": "Sync contacts" }, users: {} })
  writeFileSync("report.html", Report.render(data, { generatedAt: new Date(), names }))
})

const MainLive = TaskHistoryClient.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))
NodeRuntime.runMain(program.pipe(Effect.provide(MainLive)))
