import { describe, expect, it } from "@effect/vitest"
import { parseArgs } from "../src/internal/cli.js"

describe("taskhistory-simulator flags", () => {
  it("parse into options", () => {
    const parsed = parseArgs([
      "--port=0",
      "--records",
      "50000",
      "--seed",
      "3",
      "--rate-limit",
      "1000/10m",
      "--page-shape",
      "data",
      "--no-total",
      "--no-next-link-sort-asc",
      "--exclusive-dates",
      "--next-link-origin",
      "localhost:4011",
      "--fault-rate",
      "0.05",
      "--reset-rate",
      "0.01",
      "--slow-rate",
      "0.02",
      "--html-rate",
      "0.03",
      "--slow-ms",
      "500",
      "--latency",
      "10-30",
      "--malformed",
      "4",
      "--late-arrivals",
      "9",
      "--insert-per-second",
      "1.5",
      "--expire-per-request",
      "2",
      "--replay-fault",
      "429-no-apply",
      "--retry-after-format",
      "date",
      "--span",
      "90",
      "--now",
      "2026-11-28T00:00:00Z"
    ])
    expect(parsed).toEqual({
      ok: true,
      value: {
        port: 0,
        records: 50000,
        seed: 3,
        rateLimit: "1000/10m",
        pageShape: "data",
        includeTotal: false,
        nextLinkSortAsc: false,
        inclusiveDates: false,
        nextLinkOrigin: { host: "localhost", port: 4011 },
        faults: { errorRate: 0.05, resetRate: 0.01, slowRate: 0.02, htmlRate: 0.03 },
        slowMs: 500,
        latency: { minMs: 10, maxMs: 30 },
        malformed: 4,
        churn: { lateArrivals: 9, insertPerSecond: 1.5, expirePerRequest: 2 },
        replayFault: "429-no-apply",
        retryAfterFormat: "date",
        span: 90,
        now: "2026-11-28T00:00:00Z"
      }
    })
  })

  it("defaults to port 4010, answers --help, and names the bad value", () => {
    expect(parseArgs([])).toEqual({ ok: true, value: { port: 4010 } })
    expect(parseArgs(["--records", "5", "--help"])).toEqual({ ok: true, value: "help" })
    expect(parseArgs(["--fault-rate", "2"])).toEqual({
      ok: false,
      error: 'invalid --fault-rate "2": expected a probability between 0 and 1'
    })
    expect(parseArgs(["--latency", "soon"])).toMatchObject({ ok: false })
    expect(parseArgs(["--page-shape", "items"])).toMatchObject({ ok: false })
    expect(parseArgs(["--seed"])).toEqual({ ok: false, error: "--seed needs a value" })
    expect(parseArgs(["extra"])).toEqual({ ok: false, error: 'unknown flag "extra"' })
  })
})
