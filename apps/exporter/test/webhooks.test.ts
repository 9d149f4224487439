/**
 * The webhook requests of a stream of `run --config`: the `json` body names the stream, the Slack
 * text names it, and two streams' notifications with the same outbox id get different delivery ids.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as Alerts from "@taskhistory/export/Alerts"
import { Redacted } from "effect"
import * as Webhooks from "../src/internal/webhooks.js"

const message: Alerts.AlertMessage = {
  rule: "any-failure",
  state: "firing",
  group: {},
  failures: 3,
  executions: 10,
  failureRate: 0.3,
  windowStart: "2026-12-01T10:00:00.000Z",
  windowEnd: "2026-12-01T11:00:00.000Z",
  at: "2026-12-01T11:00:01.000Z"
}
const pending: Alerts.Pending = {
  id: "2026-12-01T11:00:01.000Z any-failure [null,null] firing ops",
  webhook: "ops",
  message,
  queuedAt: "2026-12-01T11:00:01.000Z"
}
const json = {
  name: "ops",
  url: Redacted.make("http://127.0.0.1:9/hook"),
  format: "json",
  secret: undefined
} as const
const slack = { ...json, name: "chat", format: "slack" } as const

describe("Webhooks.request", () => {
  it("names the stream of a --config run; leaves single-stream bodies as they were", () => {
    const prod = Webhooks.request(json, pending, "prod")
    expect(JSON.parse(prod.body)).toEqual({ stream: "prod", ...message, deliveryId: prod.deliveryId })
    expect(JSON.parse(Webhooks.request(slack, pending, "prod").body).text).toContain(
      "stream prod: FIRING any-failure"
    )
    const alone = Webhooks.request(json, pending)
    expect(JSON.parse(alone.body)).toEqual({ ...message, deliveryId: alone.deliveryId })
    expect(JSON.parse(Webhooks.request(slack, pending).body).text).not.toContain("stream")
  })

  it("two streams' notifications with one outbox id: different delivery ids, each stable", () => {
    const prod = Webhooks.request(json, pending, "prod").deliveryId
    const eu = Webhooks.request(json, pending, "eu").deliveryId
    expect(prod).toMatch(/^[0-9a-f]{32}$/)
    expect(eu).not.toBe(prod)
    expect(Webhooks.request(json, pending, "prod").deliveryId).toBe(prod)
    expect(Webhooks.request(json, pending).deliveryId).toBe(Webhooks.deliveryId(pending))
  })
})
