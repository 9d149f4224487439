/**
 * No progress, no spending: a server that ignores `offset` or the date filters must not have the
 * engine spend the key's budget. The run stops with `ExportError` `NoProgress` after a handful of
 * wasted requests, and what it wrote before is kept.
 */
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Simulator } from "@taskhistory/simulator"
import { Effect } from "effect"
import * as SqliteSink from "../src/SqliteSink.js"
import { runWith, tempDir } from "./helpers.js"

const tmp = tempDir("taskhistory-noprogress-")
afterAll(tmp.cleanup)
let n = 0
const sink = () => SqliteSink.layer({ path: join(tmp.dir, `run-${++n}.db`) })

describe("Exporter against servers that go nowhere", () => {
  it.live("ignore-offset while one instant holds more than a page: NoProgress after a few requests", () =>
    Effect.gen(function* () {
      const at = new Date(Date.now() - 3 * 86_400_000).toISOString()
      const sim = yield* Simulator.start({
        records: 300,
        seed: 5,
        churn: { sameStartDate: { count: 250, date: at } }
      })
      yield* sim.configure({ fault: "ignore-offset" })
      const error = yield* Effect.flip(runWith(sim, sink()))
      expect(error).toMatchObject({ _tag: "ExportError", reason: "NoProgress" })
      expect(error.message).toContain("ignore offset")
      const stats = yield* sim.stats
      // keyset pages up to the instant, then at most a handful in it: not the key's whole budget
      expect(stats.byRoute.list).toBeLessThan(40)
    }).pipe(Effect.scoped)
  )

  it.live("ignore-dates: NoProgress instead of reading the whole history over and over", () =>
    Effect.gen(function* () {
      const sim = yield* Simulator.start({ records: 3000, seed: 6 })
      yield* sim.configure({ fault: "ignore-dates" })
      const error = yield* Effect.flip(runWith(sim, sink()))
      expect(error).toMatchObject({ _tag: "ExportError", reason: "NoProgress" })
      expect((yield* sim.stats).byRoute.list).toBeLessThan(40)
    }).pipe(Effect.scoped)
  )

  it.live("an honest server is read in full, without a NoProgress false alarm", () =>
    Effect.gen(function* () {
      const at = new Date(Date.now() - 3 * 86_400_000).toISOString()
      const sim = yield* Simulator.start({
        records: 400,
        seed: 7,
        churn: { sameStartDate: { count: 250, date: at } }
      })
      const report = yield* runWith(sim, sink())
      expect(report.inserted).toBe(650)
    }).pipe(Effect.scoped)
  )
})
