/**
 * The alerts of `run --alerts FILE`, wired into the process: after every successful run the
 * rules are evaluated over the sink (through an `ExportReader`, zero API requests), the new
 * "firing"/"resolved" notifications are stored with the alert state in the sink (its outbox)
 * before any is sent, and a background fiber delivers the outbox: a notification leaves it once
 * delivered, rejected (a 4xx) or a day old. So a restart (even after kill -9) repeats nothing
 * that was delivered and loses nothing that was not; a crash in the instant between a delivery
 * and its removal from the outbox is the one case that sends it twice: delivery is at least once,
 * and every message carries a delivery id (the same on every retry and resend) to de-duplicate on.
 *
 * Nothing here fails or holds up the export: failures are log lines and
 * `taskhistory_alert_notifications_total{result}`.
 *
 * @internal
 */
import * as Alerts from "@taskhistory/export/Alerts"
import type { ExportReaderShape } from "@taskhistory/export/ExportReader"
import type { SinkShape } from "@taskhistory/export/Sink"
import { Clock, Duration, Effect, Fiber, Option, Ref, type Scope } from "effect"
import { Counter, Gauge, type Registry } from "prom-client"
import type { AlertsConfig } from "./alertsFile.js"
import * as Webhooks from "./webhooks.js"

/** How long an undelivered notification is kept for later runs. */
const MAX_AGE_MS = 24 * 3_600_000

/** @internal */
export interface AlertingOptions {
  readonly config: AlertsConfig
  readonly sink: SinkShape
  readonly reader: ExportReaderShape
  readonly streamKey: string
  readonly selection: Parameters<typeof Alerts.evaluate>[3]
  readonly registry?: Registry | undefined
  readonly delivery?: Webhooks.DeliveryOptions | undefined
  /**
   * The stream's name, for a stream of `run --config`: every message names it (`"stream"` in the
   * `json` body, the Slack text), and the metrics get a `stream` label.
   */
  readonly stream?: string | undefined
}

/** @internal */
export interface Alerting {
  /** Evaluates the rules with windows ending at `windowEnd` (ISO), stores, starts delivery. Never fails. */
  readonly afterRun: (windowEnd: string) => Effect.Effect<void>
  /** Waits (at most `timeout`) for the deliveries started so far. */
  readonly drain: (timeout: Duration.DurationInput) => Effect.Effect<void>
}

/** @internal */
export const make = (options: AlertingOptions): Effect.Effect<Alerting, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { config, sink, reader, streamKey, stream, registry } = options
    const scope = yield* Effect.scope
    // The streams of one --config share the registry: the first stream's alerting registers the
    // metrics (with a `stream` label), the others (and a stream led again) use them.
    const streamLabel = stream === undefined ? {} : { stream }
    const existing = (name: string) => registry?.getSingleMetric(name)
    const notifications =
      registry === undefined
        ? undefined
        : ((existing("taskhistory_alert_notifications_total") as Counter<string> | undefined) ??
          new Counter({
            name: "taskhistory_alert_notifications_total",
            help: "Alert notifications sent to webhooks, by result: delivered, retried (an attempt that failed and was retried), failed (given up for this run, or rejected).",
            labelNames: stream === undefined ? ["result"] : ["stream", "result"],
            registers: [registry]
          }))
    const firing =
      registry === undefined
        ? undefined
        : ((existing("taskhistory_alerts_firing") as Gauge<string> | undefined) ??
          new Gauge({
            name: "taskhistory_alerts_firing",
            help: "Groups for which an alert rule is firing, by rule.",
            labelNames: stream === undefined ? ["rule"] : ["stream", "rule"],
            registers: [registry]
          }))
    for (const result of ["delivered", "retried", "failed"])
      notifications?.labels({ ...streamLabel, result }).inc(0)
    for (const rule of config.rules) firing?.labels({ ...streamLabel, rule: rule.name }).set(0)
    const count = (result: string) =>
      Effect.sync(() => notifications?.labels({ ...streamLabel, result }).inc())
    // A stream of --config whose leadership ends (another replica evaluates it now): not firing here.
    if (stream !== undefined) {
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const rule of config.rules) firing?.labels({ stream, rule: rule.name }).set(0)
        })
      )
    }

    /** Serialises every read-modify-write of the stored alert state. */
    const lock = yield* Effect.makeSemaphore(1)
    /** Serialises delivery passes. */
    const passes = yield* Effect.makeSemaphore(1)
    const lastPass = yield* Ref.make<Option.Option<Fiber.RuntimeFiber<void>>>(Option.none())

    const load = Effect.map(sink.loadAlertState(streamKey), Alerts.decodeState)
    const update = (f: (state: Alerts.AlertState) => Alerts.AlertState) =>
      lock.withPermits(1)(Effect.flatMap(load, (state) => sink.saveAlertState(streamKey, f(state))))

    const webhook = (name: string) => config.webhooks.find((w) => w.name === name)

    /** Delivers what the outbox holds, oldest first; a webhook that fails transiently is tried again next pass. */
    const pass = Effect.gen(function* () {
      const { outbox } = yield* load
      if (outbox.length === 0) return
      const now = yield* Clock.currentTimeMillis
      const down = new Set<string>()
      for (const pending of outbox) {
        const target = webhook(pending.webhook)
        if (target === undefined) {
          yield* Effect.logWarning(
            `alert notification dropped: webhook ${pending.webhook} is no longer in ${config.file}`
          )
          yield* update((s) => Alerts.removeFromOutbox(s, new Set([pending.id])))
          continue
        }
        if (down.has(target.name)) continue
        if (now - Date.parse(pending.queuedAt) > MAX_AGE_MS) {
          yield* count("failed")
          yield* Effect.logError(
            `webhook ${target.name}: gave up on ${pending.message.state} ${pending.message.rule}: not delivered for 24 hours`
          )
          yield* update((s) => Alerts.removeFromOutbox(s, new Set([pending.id])))
          continue
        }
        const delivery = yield* Webhooks.deliver(
          target,
          Webhooks.request(target, pending, stream),
          options.delivery,
          (detail, delayMs) =>
            Effect.zipRight(
              count("retried"),
              Effect.logWarning(
                `webhook ${target.name}: ${detail}, retrying in ${Duration.format(Duration.millis(Math.round(delayMs)))}`
              )
            )
        )
        if (delivery.result === "delivered") {
          yield* update((s) => Alerts.removeFromOutbox(s, new Set([pending.id])))
          yield* count("delivered")
          yield* Effect.logInfo(
            `webhook ${target.name}: delivered ${pending.message.state} ${pending.message.rule} (${delivery.detail})`
          )
        } else {
          yield* count("failed")
          if (delivery.transient) {
            down.add(target.name)
            yield* Effect.logError(
              `webhook ${target.name}: not delivered after ${delivery.attempts} attempts (${delivery.detail}); kept for the next run`
            )
          } else {
            yield* update((s) => Alerts.removeFromOutbox(s, new Set([pending.id])))
            yield* Effect.logError(
              `webhook ${target.name}: rejected ${pending.message.state} ${pending.message.rule} (${delivery.detail}); dropped`
            )
          }
        }
      }
    }).pipe(
      Effect.catchAll((error) => Effect.logError(`alert notifications not delivered: ${error.message}`)),
      passes.withPermits(1)
    )

    const startPass = Effect.flatMap(Effect.forkIn(pass, scope), (fiber) =>
      Ref.set(lastPass, Option.some(fiber))
    )

    const afterRun = (windowEnd: string) =>
      Effect.gen(function* () {
        const end = Date.parse(windowEnd)
        const started = yield* Clock.currentTimeMillis
        const evaluation = yield* Alerts.evaluate(reader, config.rules, end, options.selection)
        const now = yield* Clock.currentTimeMillis
        let queued: ReadonlyArray<Alerts.Pending> = []
        let state: Alerts.AlertState = Alerts.emptyState
        yield* lock.withPermits(1)(
          Effect.gen(function* () {
            const next = Alerts.step(config.rules, yield* load, evaluation, now)
            // Stored before anything is sent: a restart finds what is still to deliver.
            yield* sink.saveAlertState(streamKey, next.state)
            queued = next.queued
            state = next.state
          })
        )
        const done = yield* Clock.currentTimeMillis
        yield* Effect.logDebug(
          `alerts: ${config.rules.length} rule(s) evaluated over ${evaluation.read} executions${evaluation.inSink ? " (counted in the sink)" : ""} and stored in ${done - started} ms`
        )
        for (const rule of config.rules) {
          firing
            ?.labels({ ...streamLabel, rule: rule.name })
            .set(Object.values(state.rules[rule.name] ?? {}).filter((g) => g.firing).length)
        }
        const announced = new Set<string>()
        for (const p of queued) {
          const line = Webhooks.summary(p.message, stream)
          if (announced.has(line)) continue
          announced.add(line)
          yield* Effect.logInfo(`alert ${line}`)
        }
        if (state.outbox.length > 0) yield* startPass
      }).pipe(Effect.catchAll((error) => Effect.logError(`alert rules not evaluated: ${error.message}`)))

    // Notifications a previous process stored and did not deliver go out now.
    yield* startPass

    const drain = (timeout: Duration.DurationInput) =>
      Effect.flatMap(Ref.get(lastPass), (fiber) =>
        Option.match(fiber, {
          onNone: () => Effect.void,
          onSome: (f) =>
            Fiber.join(f).pipe(
              Effect.timeout(timeout),
              Effect.catchAll(() =>
                Effect.logWarning("alert notifications still being delivered at exit: kept for the next run")
              )
            )
        })
      )

    return { afterRun, drain }
  })
