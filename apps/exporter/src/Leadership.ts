/**
 * One leader per stream among replicas: each replica checks its leases every check interval,
 * renews the ones it holds, takes free or expired ones up to its fair share of the streams, and
 * runs the streams it leads. Leases live in the sink's database (a `LeaseStore`, on the
 * database's clock); every write of a leader is fenced by its lease's token, so a replica that
 * was paused past its lease cannot write once another took the stream over.
 *
 * A stream whose lease was lost (taken over, expired without a renewal, or a write refused by
 * the fence) is stopped, logged and counted; the replica then stands by for it. With the lease
 * time `L` and the check interval `C`, a stream whose leader died is taken over within `L + C`.
 *
 * Time comes from Effect's `Clock` (`TestClock` in tests).
 *
 * @since 0.3.0
 */
import type { Lease, LeaseStore, SinkError } from "@taskhistory/export/Sink"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option, Predicate } from "effect"

/**
 * Why a replica stopped leading a stream.
 *
 * - `taken`: its renewal found another holder (it was paused or cut off past its lease).
 * - `expired`: it could not renew before its lease ran out (the database unreachable).
 * - `fenced`: a write was refused by the fence.
 *
 * @since 0.3.0
 */
export type LostReason = "taken" | "expired" | "fenced"

/**
 * A stream to lead.
 *
 * @since 0.3.0
 */
export interface Stream<E, R> {
  /** The lease's key: project and filters. */
  readonly stream: string
  /** For logs and metric labels. */
  readonly label: string
  /**
   * Runs the stream while this replica leads it, its writes fenced by `lease`. It should not end
   * by itself: a failure that is a refused write (see {@link Options.isFenced}) means the lease
   * was lost; any other failure ends {@link supervise} with it (a permanent error).
   */
  readonly lead: (lease: Lease) => Effect.Effect<unknown, E, R>
}

/**
 * Options of {@link supervise}.
 *
 * @since 0.3.0
 */
export interface Options<E> {
  /** This replica, unique among replicas (host, pid and a random part). */
  readonly holder: string
  readonly lease: Duration.Duration
  readonly check: Duration.Duration
  /** Whether a stream's failure is a write refused by the fence. */
  readonly isFenced: (cause: Cause.Cause<E>) => boolean
  readonly onLeader?: ((label: string, leading: boolean) => Effect.Effect<void>) | undefined
  readonly onTakeover?: ((label: string) => Effect.Effect<void>) | undefined
  readonly onLost?: ((label: string, reason: LostReason) => Effect.Effect<void>) | undefined
}

/**
 * A `SinkError` of reason `Fenced` in a cause.
 *
 * @since 0.3.0
 */
export const isFencedCause = (cause: Cause.Cause<unknown>): boolean =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => false,
    onSome: (error) =>
      Predicate.isTagged(error, "SinkError") && (error as unknown as SinkError).reason === "Fenced"
  })

interface Led<E> {
  lease: Lease
  /** Local time until which the lease is surely ours (the start of its last renewal + the lease). */
  validUntil: number
  readonly fiber: Fiber.RuntimeFiber<unknown, E>
}

/** A replica's fair share of `streams` among `live` replicas. */
export const fairShare = (streams: number, live: number): number =>
  Math.max(1, Math.ceil(streams / Math.max(1, live)))

/** A stable order of the streams that differs between replicas (spreads their first tries). */
const hash = (text: string): number => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0
  return h
}

/**
 * Leads `streams` as one replica among others sharing `store`, until interrupted (then every
 * stream is stopped and its lease let go, so another replica takes it at once) or until a stream
 * fails with a permanent error (the result's failure).
 *
 * @since 0.3.0
 */
export const supervise = <E, R>(
  store: LeaseStore,
  streams: ReadonlyArray<Stream<E, R>>,
  options: Options<E>
): Effect.Effect<never, E, R> =>
  Effect.gen(function* () {
    const leaseMs = Math.max(1, Duration.toMillis(options.lease))
    const checkMs = Math.max(1, Duration.toMillis(options.check))
    const { holder } = options
    const led = new Map<string, Led<E>>()
    let first = true
    /** Local time since which a stream was seen without a leader (while this replica had its share). */
    const freeSince = new Map<string, number>()
    /**
     * Streams taken beyond the share because nobody led them for longer than a lease, with when:
     * they are not handed over for ten leases (the replica that should take them is stuck), then
     * count like the others again (it may have recovered).
     */
    const adopted = new Map<string, number>()
    const order = [...streams].sort((a, b) => hash(`${holder}|${a.stream}`) - hash(`${holder}|${b.stream}`))
    const ttl = leaseMs
    for (const s of streams) if (options.onLeader) yield* options.onLeader(s.label, false)

    const stop = (s: Stream<E, R>, reason: LostReason | undefined) =>
      Effect.gen(function* () {
        const current = led.get(s.stream)
        if (current === undefined) return
        led.delete(s.stream)
        adopted.delete(s.stream)
        yield* Fiber.interrupt(current.fiber)
        if (options.onLeader) yield* options.onLeader(s.label, false)
        if (reason === undefined) {
          yield* store
            .release(current.lease)
            .pipe(
              Effect.catchAll((e) =>
                Effect.logWarning(`could not let the lease of stream ${s.label} go: ${e.message}`)
              )
            )
          return
        }
        if (options.onLost) yield* options.onLost(s.label, reason)
        const why =
          reason === "taken"
            ? "another replica took it over (this one was paused or cut off past its lease)"
            : reason === "expired"
              ? "it could not be renewed before it expired"
              : "a write was refused: the lease is no longer this replica's"
        yield* Effect.logWarning(
          `lost the lease of stream ${s.label} (token ${current.lease.token}): ${why}; nothing more is written by this replica, standing by`
        )
      })

    const tick = Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      // Streams whose run ended: a refused write is a lost lease; anything else is permanent.
      for (const s of streams) {
        const current = led.get(s.stream)
        if (current === undefined) continue
        const exit = current.fiber.unsafePoll()
        if (exit === null) continue
        if (Exit.isFailure(exit) && options.isFenced(exit.cause)) {
          yield* stop(s, "fenced")
        } else if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          yield* stop(s, undefined)
          return yield* Effect.failCause(exit.cause)
        } else {
          yield* stop(s, undefined)
        }
      }
      const live = yield* store.heartbeat(holder, ttl).pipe(
        Effect.map(Option.some),
        Effect.catchAll((e) =>
          Effect.as(Effect.logWarning(`could not reach the lease store: ${e.message}`), Option.none<number>())
        )
      )
      for (const s of streams) {
        const current = led.get(s.stream)
        if (current === undefined) continue
        const renewed = yield* Effect.either(store.renew(current.lease, ttl))
        if (renewed._tag === "Right") {
          if (Option.isSome(renewed.right)) {
            current.lease = renewed.right.value
            current.validUntil = start + leaseMs
          } else {
            yield* stop(s, "taken")
          }
        } else {
          const now = yield* Clock.currentTimeMillis
          if (now >= current.validUntil) yield* stop(s, "expired")
          else
            yield* Effect.logWarning(
              `could not renew the lease of stream ${s.label}: ${renewed.left.message}`
            )
        }
      }
      if (Option.isNone(live)) return
      for (const [stream, at] of adopted) if (start - at > 10 * leaseMs) adopted.delete(stream)
      // Several streams: the first check only says this replica is alive, so that replicas started
      // together count each other before any takes its share (no take-all-then-hand-over).
      if (first && streams.length > 1) {
        first = false
        return
      }
      first = false
      const share = fairShare(streams.length, live.value)
      // More than our share while others are free: hand one stream over per check.
      // (Streams adopted because nobody led them are extra: they do not count against the share.)
      if (led.size - adopted.size > share) {
        // Not a stream taken because it had no leader: its fair taker did not take it.
        const surplus = order.filter((s) => led.has(s.stream) && !adopted.has(s.stream)).at(-1)
        if (surplus !== undefined) {
          yield* Effect.logInfo(
            `handing stream ${surplus.label} over: ${live.value} replicas share ${streams.length} streams (${share} each)`
          )
          yield* stop(surplus, undefined)
        }
        return
      }
      // A stream nobody led for longer than a lease (its fair taker is stuck or gone before its
      // heartbeat expired) is taken beyond the share.
      const orphans = new Set<string>()
      if (led.size >= share && led.size < streams.length) {
        const records = yield* store.list.pipe(Effect.orElseSucceed(() => []))
        const now = yield* Clock.currentTimeMillis
        for (const s of streams) {
          const record = records.find((r) => r.stream === s.stream)
          const free = record === undefined || record.holder === undefined || record.expired
          if (!free || led.has(s.stream)) {
            freeSince.delete(s.stream)
            continue
          }
          const since = freeSince.get(s.stream) ?? now
          freeSince.set(s.stream, since)
          if (now - since > leaseMs) orphans.add(s.stream)
        }
      }
      for (const s of order) {
        if (led.size >= share && !orphans.has(s.stream)) continue
        if (led.has(s.stream)) continue
        const acquiredAt = yield* Clock.currentTimeMillis
        const acquired = yield* store
          .acquire(s.stream, holder, ttl)
          .pipe(
            Effect.catchAll((e) =>
              Effect.as(
                Effect.logWarning(`could not take the lease of stream ${s.label}: ${e.message}`),
                Option.none()
              )
            )
          )
        if (Option.isNone(acquired)) continue
        const { lease, takenFrom } = acquired.value
        if (takenFrom !== undefined && options.onTakeover) yield* options.onTakeover(s.label)
        yield* Effect.logInfo(
          takenFrom === undefined
            ? `leading stream ${s.label} (lease token ${lease.token}, expires ${lease.expiresAt})`
            : `took stream ${s.label} over from ${takenFrom}, whose lease expired (token ${lease.token})`
        )
        if (led.size >= share) {
          adopted.set(s.stream, acquiredAt)
          yield* Effect.logInfo(
            `stream ${s.label} had no leader for longer than a lease: taking it beyond this replica's share`
          )
        }
        const fiber = yield* Effect.forkDaemon(s.lead(lease))
        led.set(s.stream, { lease, validUntil: acquiredAt + leaseMs, fiber })
        if (options.onLeader) yield* options.onLeader(s.label, true)
      }
    })

    const releaseAll = Effect.gen(function* () {
      for (const s of streams) yield* stop(s, undefined)
      yield* store.leave(holder).pipe(Effect.ignore)
    })

    const loop: Effect.Effect<never, E, R> = Effect.gen(function* () {
      while (true) {
        const started = yield* Clock.currentTimeMillis
        yield* tick
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Duration.millis(Math.max(0, checkMs - (now - started))))
      }
    })
    return yield* loop.pipe(Effect.ensuring(Effect.uninterruptible(releaseAll)))
  })

/**
 * One `LeaseStore` over the stores of several sinks (a `--config` whose streams write to several
 * Postgres databases or schemas): each stream's lease lives in its own sink's store, where its
 * writes are fenced, and the replicas' heartbeats in all of them, so that every replica counts
 * the same live replicas and takes its fair share of all the streams. `storeOf` maps a stream
 * (`Lease.stream`) to its store.
 *
 * @since 0.3.0
 */
export const combine = (storeOf: ReadonlyMap<string, LeaseStore>): LeaseStore => {
  const stores = [...new Set(storeOf.values())]
  const of = (stream: string) => {
    const store = storeOf.get(stream)
    // Every stream given to `supervise` has a store: a stream without one is a bug of the caller.
    if (store === undefined) throw new Error(`no lease store for stream ${stream}`)
    return store
  }
  return {
    heartbeat: (holder, ttlMs) =>
      Effect.map(
        Effect.forEach(stores, (store) => store.heartbeat(holder, ttlMs)),
        (counts) => Math.max(1, ...counts)
      ),
    acquire: (stream, holder, ttlMs) => Effect.suspend(() => of(stream).acquire(stream, holder, ttlMs)),
    renew: (lease, ttlMs) => Effect.suspend(() => of(lease.stream).renew(lease, ttlMs)),
    release: (lease) => Effect.suspend(() => of(lease.stream).release(lease)),
    leave: (holder) => Effect.forEach(stores, (store) => store.leave(holder), { discard: true }),
    list: Effect.map(
      Effect.forEach(stores, (store) => store.list),
      (lists) => lists.flat()
    )
  }
}
