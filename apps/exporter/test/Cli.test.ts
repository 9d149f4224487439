import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import { Duration, Effect, Option, TestClock } from "effect"
import * as Cli from "../src/Cli.js"
import { version } from "../src/internal/version.js"

const flags = {
  config: Option.none<string>(),
  connection: ConnectionOptions.emptyFlags,
  once: false,
  schedule: Option.none<string>(),
  every: Option.none<string>(),
  minEvery: "10s",
  timezone: Option.none<string>(),
  sink: Cli.defaultSink,
  sinkFile: Option.none<string>(),
  filters: {
    integration: Option.none<string>(),
    workflowId: Option.none<string>(),
    userId: Option.none<string>(),
    status: Option.none<string>()
  },
  since: Option.none<string>(),
  lookback: Option.none<string>(),
  onInvalid: "quarantine" as const,
  batchSize: Option.none<number>(),
  steps: "none" as "none" | "failed" | "all",
  stepsBudget: 0.5,
  stepsMaxRequests: Option.none<number>(),
  report: Option.none<string>(),
  reportDays: 30,
  alerts: Option.none<string>(),
  waitForLock: false,
  lease: "30s",
  leaseCheck: "10s",
  metricsPort: Option.none<number>(),
  umask: Option.none<string>(),
  metricsHost: "127.0.0.1"
}

describe("Cli.runSettings", () => {
  it.live("turns the flags into the engine's options and a schedule", () =>
    Effect.gen(function* () {
      const settings = yield* Cli.runSettings({
        ...flags,
        every: Option.some("15m"),
        sink: "sqlite:/tmp/x.db",
        filters: { ...flags.filters, status: Option.some("failed"), integration: Option.some("slack") },
        since: Option.some("2026-01-02"),
        lookback: Option.some("2h"),
        batchSize: Option.some(300)
      })
      expect(settings.schedule._tag).toBe("Every")
      expect(settings.sink).toEqual({ _tag: "Sqlite", path: "/tmp/x.db" })
      expect(settings.options.filters).toEqual({ status: "FAILED", integration: "slack" })
      expect(settings.options.since).toBe("2026-01-02T00:00:00.000Z")
      expect(Duration.toMillis(Duration.decode(settings.options.lookback ?? 0))).toBe(7_200_000)
      expect(settings.options.batchSize).toBe(300)
      expect(settings.options.onInvalid).toBe("quarantine")
      // Every sink stores step executions (file sinks in DIR/step_executions/).
      const files = yield* Cli.runSettings({ ...flags, steps: "failed", sink: "csv:/tmp/x" })
      expect(files.options.steps).toBe("failed")
    })
  )

  it.effect("takes --since relative to now (7d, 2w); durations without a unit are refused", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-12-01T06:00:00.000Z"))
      const week = yield* Cli.runSettings({ ...flags, since: Option.some("7d") })
      expect(week.options.since).toBe("2026-11-24T06:00:00.000Z")
      const twoWeeks = yield* Cli.runSettings({ ...flags, since: Option.some("2w") })
      expect(twoWeeks.options.since).toBe("2026-11-17T06:00:00.000Z")
      const bare = (patch: Partial<typeof flags>) => Effect.flip(Cli.runSettings({ ...flags, ...patch }))
      expect((yield* bare({ every: Option.some("5") })).message).toContain('--every "5"')
      expect((yield* bare({ every: Option.some("5") })).message).toContain("unit")
      expect((yield* bare({ lookback: Option.some("90") })).message).toContain("unit")
      expect((yield* bare({ since: Option.some("7") })).message).toContain("7d")
    })
  )

  it.live("names the bad value of each flag", () =>
    Effect.gen(function* () {
      const bad = (patch: Partial<typeof flags>) => Effect.flip(Cli.runSettings({ ...flags, ...patch }))
      expect((yield* bad({ since: Option.some("yesterday") })).message).toContain('"yesterday"')
      expect((yield* bad({ lookback: Option.some("-1h") })).message).toContain('"-1h"')
      expect((yield* bad({ sink: "ftp://x" })).message).toContain('--sink "ftp://x"')
      expect((yield* bad({ lease: "30" })).message).toContain('"30"')
      expect((yield* bad({ lease: "500ms" })).message).toContain('--lease "500ms"')
      expect((yield* bad({ lease: "10s", leaseCheck: "10s" })).message).toContain('--lease-check "10s"')
      expect((yield* bad({ metricsPort: Option.some(70_000) })).message).toContain("70000")
      expect((yield* bad({ batchSize: Option.some(0) })).message).toContain("--batch-size")
      expect((yield* bad({ sink: "sqlite:" })).message).toContain('--sink "sqlite:"')
      expect((yield* bad({ sink: "sqlite:/nonexistent-dir-th/x.db" })).message).toMatch(
        /--sink "sqlite:\/nonexistent-dir-th\/x.db".*\/nonexistent-dir-th does not exist/
      )
      expect((yield* bad({ sink: "sqlite::memory:", every: Option.some("1h") })).message).toContain(
        '--sink "sqlite::memory:"'
      )
      expect((yield* bad({ since: Option.some("2999-01-01") })).message).toContain(
        '--since "2999-01-01": expected a date in the past'
      )
      expect((yield* bad({ since: Option.some("2026-01-01T00:00:00+99:99") })).message).toContain(
        '"2026-01-01T00:00:00+99:99"'
      )
      expect((yield* bad({ every: Option.some("1ms") })).message).toContain(
        '--every "1ms": expected a duration of at least 10s'
      )
      expect((yield* bad({ every: Option.some("5s"), minEvery: "6s" })).message).toContain("at least 6s")
      expect((yield* bad({ every: Option.some("99999999999d") })).message).toContain("at most")
      expect((yield* bad({ every: Option.some("1") })).message).toContain("a bare number")
      expect((yield* bad({ minEvery: "fast" })).message).toContain('--min-every "fast"')
      expect((yield* bad({ steps: "failed", stepsBudget: 2 })).message).toContain("--steps-budget")
      expect((yield* bad({ filters: { ...flags.filters, status: Option.some("done") } })).message).toContain(
        '--status "done"'
      )
    })
  )
})

describe("version", () => {
  it("matches package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    expect(version).toBe(pkg.version)
  })
})
