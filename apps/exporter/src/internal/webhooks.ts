/**
 * Delivery of alert notifications to webhooks: the body in Slack's incoming-webhook format or the
 * contract's JSON, an HMAC-SHA256 signature of the body when the webhook has a secret, and a
 * bounded retry (exponential backoff with jitter, Retry-After honoured up to a cap) on transport
 * errors, timeouts, 429 and 5xx. Other answers (4xx, redirects) are not retried. Nothing said
 * about a failure names the URL: only the webhook's name, the HTTP status or the error code.
 *
 * @internal
 */
import { createHash, createHmac, randomBytes } from "node:crypto"
import type * as Alerts from "@taskhistory/export/Alerts"
import { Duration, Effect, Random, Redacted } from "effect"
import type { Webhook } from "./alertsFile.js"

/** @internal */
export interface DeliveryOptions {
  /** Attempts in all (1 = no retry). Default 5. */
  readonly attempts?: number | undefined
  /** The first retry's delay; doubled each time, with jitter. Default 500 ms. */
  readonly baseDelayMs?: number | undefined
  /** The longest delay between two attempts (Retry-After included). Default 30 s. */
  readonly maxDelayMs?: number | undefined
  /** Per attempt. Default 10 s. */
  readonly timeoutMs?: number | undefined
}

/** @internal */
export interface Delivery {
  readonly result: "delivered" | "failed"
  /** Retrying later may help (transport errors, 429, 5xx). */
  readonly transient: boolean
  readonly attempts: number
  /** `HTTP 200`, `HTTP 500`, `connection failed (ECONNREFUSED)`, `timed out after 10s`. */
  readonly detail: string
}

const describeGroup = (group: Alerts.Group): string =>
  group.workflowId !== undefined
    ? `workflow ${group.workflowId}`
    : group.userId !== undefined
      ? `user ${group.userId}`
      : "all executions"

const percent = (rate: number) => `${(Math.round(rate * 1000) / 10).toString()}%`

/** One line for people (logs, Slack); with `stream` (a stream of `run --config`), it names it first. @internal */
export const summary = (m: Alerts.AlertMessage, stream?: string): string =>
  `${stream === undefined ? "" : `stream ${stream}: `}${m.state === "firing" ? "FIRING" : "RESOLVED"} ${m.rule} (${describeGroup(m.group)}): ${m.failures} of ${m.executions} executions failed (${percent(m.failureRate)}) from ${m.windowStart} to ${m.windowEnd}`

/**
 * The delivery id of a stored notification: 32 hex digits of the SHA-256 of its outbox id, so the
 * same on every retry and on a resend after a restart (delivery is at least once: a crash after
 * the webhook answered and before the outbox forgot the notification sends it again), and
 * different for every other notification. Receivers de-duplicate on it. @internal
 */
export const deliveryId = (pending: Alerts.Pending, stream?: string): string =>
  createHash("sha256")
    // Two streams of one --config may queue notifications with the same outbox id: the stream's
    // name keeps their delivery ids apart.
    .update(stream === undefined ? pending.id : `${stream}\n${pending.id}`, "utf8")
    .digest("hex")
    .slice(0, 32)

/** One POST to a webhook: its body and the delivery id it carries in `X-Taskhistory-Delivery`. @internal */
export interface Request {
  readonly body: string
  readonly deliveryId: string
}

/**
 * The request of a stored notification for `webhook` (the `json` body carries `deliveryId` too);
 * with `stream` (a stream of `run --config`), the `json` body has `"stream"` and the Slack text
 * names it. @internal
 */
export const request = (webhook: Webhook, pending: Alerts.Pending, stream?: string): Request => {
  const id = deliveryId(pending, stream)
  const message = pending.message
  return {
    deliveryId: id,
    body:
      webhook.format === "json"
        ? JSON.stringify({ ...(stream === undefined ? {} : { stream }), ...message, deliveryId: id })
        : JSON.stringify({
            text: `${message.state === "firing" ? ":red_circle:" : ":large_green_circle:"} ${summary(message, stream)}`
          })
  }
}

/** The request of `alerts test` for `webhook`, with a (random) delivery id of its own. @internal */
export const testRequest = (webhook: Webhook, at: string): Request => {
  const id = randomBytes(16).toString("hex")
  return {
    deliveryId: id,
    body:
      webhook.format === "json"
        ? JSON.stringify({ test: true, webhook: webhook.name, at, deliveryId: id })
        : JSON.stringify({ text: `taskhistory-exporter: test message for webhook ${webhook.name} (${at})` })
  }
}

/** `sha256=` and the hex HMAC-SHA256 of `text` under `secret`. @internal */
export const signature = (secret: Redacted.Redacted<string>, text: string): string =>
  `sha256=${createHmac("sha256", Redacted.value(secret)).update(text, "utf8").digest("hex")}`

/** A Retry-After header in ms (seconds or an HTTP date), if it has one that makes sense. */
const retryAfterMs = (header: string | null, now: number): number | undefined => {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

interface Attempt {
  readonly ok: boolean
  readonly transient: boolean
  readonly detail: string
  readonly retryAfterMs: number | undefined
}

const errorCode = (error: unknown): string | undefined => {
  const cause = error instanceof Error ? error.cause : undefined
  const code =
    typeof cause === "object" && cause !== null && "code" in cause
      ? (cause as { code: unknown }).code
      : undefined
  return typeof code === "string" && /^[A-Z0-9_]+$/.test(code) ? code : undefined
}

const attempt = (webhook: Webhook, request: Request, timeoutMs: number): Effect.Effect<Attempt> =>
  Effect.async<Attempt>((resume, signal) => {
    const text = request.body
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "taskhistory-exporter",
      "x-taskhistory-delivery": request.deliveryId
    }
    if (webhook.secret !== undefined) headers["x-taskhistory-signature"] = signature(webhook.secret, text)
    const timeout = AbortSignal.timeout(timeoutMs)
    fetch(Redacted.value(webhook.url), {
      method: "POST",
      headers,
      body: text,
      // A redirect could carry the body elsewhere: it is a failure, not followed.
      redirect: "manual",
      signal: AbortSignal.any([signal, timeout])
    }).then(
      async (response) => {
        // The answer's body is not needed: drop it without reading it.
        await response.body?.cancel().catch(() => undefined)
        const status = response.status
        resume(
          Effect.succeed({
            ok: status >= 200 && status < 300,
            transient: status === 429 || status >= 500,
            detail: `HTTP ${status}`,
            retryAfterMs:
              status === 429 || status === 503
                ? retryAfterMs(response.headers.get("retry-after"), Date.now())
                : undefined
          })
        )
      },
      (error: unknown) => {
        const detail = timeout.aborted
          ? `timed out after ${Duration.format(Duration.millis(timeoutMs))}`
          : `connection failed${errorCode(error) === undefined ? "" : ` (${errorCode(error)})`}`
        resume(Effect.succeed({ ok: false, transient: true, detail, retryAfterMs: undefined }))
      }
    )
  })

/**
 * Posts `request` to `webhook`, retrying transient failures with backoff (bounded: at most
 * `attempts` attempts, each at most `timeoutMs`, delays at most `maxDelayMs`). `onRetry` is told
 * of each retry. Never fails: the outcome says what happened.
 *
 * @internal
 */
export const deliver = (
  webhook: Webhook,
  request: Request,
  options: DeliveryOptions = {},
  onRetry: (detail: string, delayMs: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<Delivery> =>
  Effect.gen(function* () {
    const attempts = Math.max(1, options.attempts ?? 5)
    const base = options.baseDelayMs ?? 500
    const max = options.maxDelayMs ?? 30_000
    const timeoutMs = options.timeoutMs ?? 10_000
    let last: Attempt | undefined
    for (let i = 1; i <= attempts; i++) {
      last = yield* attempt(webhook, request, timeoutMs)
      if (last.ok) return { result: "delivered", transient: false, attempts: i, detail: last.detail }
      if (!last.transient || i === attempts)
        return { result: "failed", transient: last.transient, attempts: i, detail: last.detail }
      const jitter = 0.5 + (yield* Random.next)
      const delay = Math.min(max, last.retryAfterMs ?? base * 2 ** (i - 1) * jitter)
      yield* onRetry(last.detail, delay)
      yield* Effect.sleep(Duration.millis(delay))
    }
    return { result: "failed", transient: true, attempts, detail: last?.detail ?? "not sent" }
  })
