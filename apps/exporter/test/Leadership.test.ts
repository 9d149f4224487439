import { describe, expect, it } from "@effect/vitest"
import type { Lease, LeaseStore } from "@taskhistory/export/Sink"
import { SinkError } from "@taskhistory/export/Sink"
import { Clock, Deferred, Duration, Effect, Fiber, Option, TestClock } from "effect"
import * as Leadership from "../src/Leadership.js"

interface Row {
  holder: string | undefined
  token: number
  expiresAt: number
}

/** Leases in memory on the Effect clock (the test's stand-in for the Postgres rows). */
const memoryStore = () => {
  const rows = new Map<string, Row>()
  const replicas = new Map<string, number>()
  const writes: Array<{ stream: string; holder: string; token: number; at: number }> = []
  const store: LeaseStore = {
    heartbeat: (holder, ttlMs) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        replicas.set(holder, now + ttlMs)
        return [...replicas.values()].filter((t) => t > now).length
      }),
    acquire: (stream, holder, ttlMs) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const row = rows.get(stream)
        if (row !== undefined && row.holder !== undefined && row.holder !== holder && row.expiresAt > now)
          return Option.none()
        const token = (row?.token ?? 0) + 1
        rows.set(stream, { holder, token, expiresAt: now + ttlMs })
        const takenFrom = row?.holder !== undefined && row.holder !== holder ? row.holder : undefined
        return Option.some({
          lease: { stream, holder, token, expiresAt: new Date(now + ttlMs).toISOString(), ttlMs },
          takenFrom
        })
      }),
    renew: (lease, ttlMs) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const row = rows.get(lease.stream)
        if (row === undefined || row.holder !== lease.holder || row.token !== lease.token)
          return Option.none()
        row.expiresAt = now + ttlMs
        return Option.some({ ...lease, expiresAt: new Date(now + ttlMs).toISOString(), ttlMs })
      }),
    release: (lease) =>
      Effect.sync(() => {
        const row = rows.get(lease.stream)
        if (row !== undefined && row.holder === lease.holder && row.token === lease.token) {
          row.holder = undefined
          row.expiresAt = 0
        }
      }),
    leave: (holder) => Effect.sync(() => replicas.delete(holder)),
    list: Effect.map(Clock.currentTimeMillis, (now) =>
      [...rows.entries()].map(([stream, row]) => ({
        stream,
        holder: row.holder,
        token: row.token,
        expiresAt: new Date(row.expiresAt).toISOString(),
        acquiredAt: new Date(0).toISOString(),
        expired: row.expiresAt <= now
      }))
    )
  }
  /** A write fenced like the Postgres sink's: refused unless the lease is the writer's and alive. */
  const write = (lease: Lease) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const row = rows.get(lease.stream)
      if (
        row === undefined ||
        row.holder !== lease.holder ||
        row.token !== lease.token ||
        row.expiresAt <= now
      ) {
        return yield* new SinkError({
          reason: "Fenced",
          sink: "memory",
          operation: "write batch",
          detail: "fenced"
        })
      }
      writes.push({ stream: lease.stream, holder: lease.holder, token: lease.token, at: now })
    })
  return { store, rows, writes, write }
}

/** A store whose calls fail while `cut.value` (a replica cut off from the database). */
const cuttable = (store: LeaseStore) => {
  const cut = { value: false }
  const guard = <A>(effect: Effect.Effect<A, SinkError>) =>
    Effect.suspend(() =>
      cut.value
        ? Effect.fail(
            new SinkError({ reason: "Unavailable", sink: "memory", operation: "lease", detail: "cut" })
          )
        : effect
    )
  const wrapped: LeaseStore = {
    heartbeat: (h, t) => guard(store.heartbeat(h, t)),
    acquire: (s, h, t) => guard(store.acquire(s, h, t)),
    renew: (l, t) => guard(store.renew(l, t)),
    release: (l) => guard(store.release(l)),
    leave: (h) => guard(store.leave(h)),
    list: store.list
  }
  return { cut, store: wrapped }
}

const LEASE = Duration.seconds(30)
const CHECK = Duration.seconds(10)

/** Events of one replica. */
const recorder = () => {
  const events: Array<string> = []
  const leading = new Map<string, boolean>()
  return {
    events,
    leading,
    options: (holder: string) => ({
      holder,
      lease: LEASE,
      check: CHECK,
      isFenced: Leadership.isFencedCause,
      onLeader: (label: string, on: boolean) =>
        Effect.sync(() => {
          leading.set(label, on)
        }),
      onTakeover: (label: string) => Effect.sync(() => events.push(`takeover ${label}`)),
      onLost: (label: string, reason: string) => Effect.sync(() => events.push(`lost ${label} ${reason}`))
    })
  }
}

/** A stream that writes every second while led. */
const writer = (mem: ReturnType<typeof memoryStore>, stream: string) => ({
  stream,
  label: stream,
  lead: (lease: Lease) => Effect.forever(Effect.zipRight(mem.write(lease), Effect.sleep(Duration.seconds(1))))
})

describe("Leadership.supervise", () => {
  it("fairShare spreads streams over live replicas", () => {
    expect(Leadership.fairShare(1, 3)).toBe(1)
    expect(Leadership.fairShare(2, 2)).toBe(1)
    expect(Leadership.fairShare(3, 2)).toBe(2)
    expect(Leadership.fairShare(2, 1)).toBe(2)
    expect(Leadership.fairShare(2, 0)).toBe(2)
  })

  it.effect("one leader among three replicas; a leader cut off is taken over within lease + check", () =>
    Effect.gen(function* () {
      const mem = memoryStore()
      const replicas = ["a", "b", "c"].map((name) => ({ name, rec: recorder(), link: cuttable(mem.store) }))
      const fibers = []
      for (const r of replicas) {
        fibers.push(
          yield* Effect.fork(
            Leadership.supervise(r.link.store, [writer(mem, "p/all")], r.rec.options(r.name))
          )
        )
      }
      yield* TestClock.adjust(Duration.seconds(1))
      const leaders = () => replicas.filter((r) => r.rec.leading.get("p/all") === true)
      expect(leaders().map((r) => r.name)).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(60))
      expect(leaders()).toHaveLength(1)
      const first = leaders()[0]!
      expect(new Set(mem.writes.map((w) => w.holder))).toEqual(new Set([first.name]))

      // Cut the leader off the database: its renewals fail; it stops writing when its lease ends.
      const cutAt = yield* Clock.currentTimeMillis
      first.link.cut.value = true
      let takenAt: number | undefined
      for (let s = 0; s < 60 && takenAt === undefined; s++) {
        yield* TestClock.adjust(Duration.seconds(1))
        if (leaders().some((r) => r !== first)) takenAt = yield* Clock.currentTimeMillis
      }
      expect(takenAt).toBeDefined()
      // The last renewal was at most one check before the cut.
      expect(takenAt! - cutAt).toBeLessThanOrEqual(Duration.toMillis(LEASE) + Duration.toMillis(CHECK))
      // Its write was refused by the fence, or its lease ran out first.
      expect(first.rec.events.filter((e) => e.startsWith("lost p/all"))).toHaveLength(1)
      const second = leaders().find((r) => r !== first)!
      expect(second.rec.events).toContain("takeover p/all")
      // Never two writers at the same token, and the old one wrote nothing after its lease.
      const tokens = new Map<number, Set<string>>()
      for (const w of mem.writes) tokens.set(w.token, (tokens.get(w.token) ?? new Set()).add(w.holder))
      for (const holders of tokens.values()) expect(holders.size).toBe(1)
      const lastOld = Math.max(...mem.writes.filter((w) => w.holder === first.name).map((w) => w.at))
      const firstNew = Math.min(...mem.writes.filter((w) => w.holder === second.name).map((w) => w.at))
      expect(lastOld).toBeLessThan(firstNew)
      for (const f of fibers) yield* Fiber.interrupt(f)
    })
  )

  it.effect("a paused leader's write is refused once another took over; it notices and stands by", () =>
    Effect.gen(function* () {
      const mem = memoryStore()
      const gate = yield* Deferred.make<void>()
      const paused = { value: false }
      const a = recorder()
      const b = recorder()
      // A's stream blocks (a GC pause, SIGSTOP) in the middle of a run, then writes when resumed.
      const stream = {
        stream: "p/all",
        label: "p/all",
        lead: (lease: Lease) =>
          Effect.forever(
            Effect.gen(function* () {
              if (paused.value) yield* Deferred.await(gate)
              yield* mem.write(lease)
              yield* Effect.sleep(Duration.seconds(1))
            })
          )
      }
      // A's renewals block too while paused (the whole process stops).
      const pausable: LeaseStore = {
        ...mem.store,
        renew: (l, t) =>
          Effect.zipRight(paused.value ? Deferred.await(gate) : Effect.void, mem.store.renew(l, t)),
        heartbeat: (h, t) =>
          Effect.zipRight(paused.value ? Deferred.await(gate) : Effect.void, mem.store.heartbeat(h, t))
      }
      const fa = yield* Effect.fork(Leadership.supervise(pausable, [stream], a.options("a")))
      yield* TestClock.adjust(Duration.seconds(1))
      const fb = yield* Effect.fork(Leadership.supervise(mem.store, [writer(mem, "p/all")], b.options("b")))
      yield* TestClock.adjust(Duration.seconds(20))
      expect(a.leading.get("p/all")).toBe(true)
      expect(b.leading.get("p/all")).toBe(false)
      paused.value = true
      yield* TestClock.adjust(Duration.seconds(90))
      expect(b.leading.get("p/all")).toBe(true)
      expect(b.events).toContain("takeover p/all")
      const before = mem.writes.filter((w) => w.holder === "a").length
      paused.value = false
      yield* Deferred.succeed(gate, undefined)
      yield* TestClock.adjust(Duration.seconds(30))
      expect(mem.writes.filter((w) => w.holder === "a").length).toBe(before)
      expect(a.leading.get("p/all")).toBe(false)
      expect(a.events.some((e) => e === "lost p/all fenced" || e === "lost p/all taken")).toBe(true)
      expect(b.leading.get("p/all")).toBe(true)
      yield* Fiber.interrupt(fa)
      yield* Fiber.interrupt(fb)
    })
  )

  it.effect("spreads streams: a replica that joins gets its share; a stopped one lets go at once", () =>
    Effect.gen(function* () {
      const mem = memoryStore()
      const a = recorder()
      const b = recorder()
      const streams = [writer(mem, "p1/all"), writer(mem, "p2/all")]
      const fa = yield* Effect.fork(Leadership.supervise(mem.store, streams, a.options("a")))
      // Its first check only registers it (replicas started together count each other first).
      yield* TestClock.adjust(Duration.seconds(1))
      expect([a.leading.get("p1/all"), a.leading.get("p2/all")]).toEqual([false, false])
      yield* TestClock.adjust(CHECK)
      expect([a.leading.get("p1/all"), a.leading.get("p2/all")]).toEqual([true, true])
      const fb = yield* Effect.fork(Leadership.supervise(mem.store, streams, b.options("b")))
      yield* TestClock.adjust(Duration.seconds(40))
      const ledBy = (r: typeof a) => streams.filter((s) => r.leading.get(s.stream) === true).length
      expect(ledBy(a)).toBe(1)
      expect(ledBy(b)).toBe(1)
      yield* TestClock.adjust(Duration.seconds(60))
      expect([ledBy(a), ledBy(b)]).toEqual([1, 1])
      // A stops (SIGTERM): its lease is let go and B takes both at its next check.
      yield* Fiber.interrupt(fa)
      yield* TestClock.adjust(CHECK)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(ledBy(b)).toBe(2)
      expect(b.events.filter((e) => e.startsWith("takeover"))).toEqual([])
      yield* Fiber.interrupt(fb)
    })
  )

  it.effect("replicas started together take one stream each, none taken twice", () =>
    Effect.gen(function* () {
      const mem = memoryStore()
      const replicas = [recorder(), recorder(), recorder()]
      const streams = [writer(mem, "p1/all"), writer(mem, "p2/all"), writer(mem, "p3/all")]
      const fibers = yield* Effect.forEach(replicas, (r, i) =>
        Effect.fork(Leadership.supervise(mem.store, streams, r.options(`r${i}`)))
      )
      yield* TestClock.adjust(Duration.seconds(1))
      yield* TestClock.adjust(CHECK)
      yield* TestClock.adjust(Duration.seconds(60))
      const ledBy = (r: (typeof replicas)[number]) => streams.filter((s) => r.leading.get(s.stream) === true)
      expect(replicas.map((r) => ledBy(r).length)).toEqual([1, 1, 1])
      // Each lease acquired once: nobody took all and handed some over.
      expect(streams.map((s) => mem.rows.get(s.stream)?.token)).toEqual([1, 1, 1])
      yield* Effect.forEach(fibers, Fiber.interrupt)
    })
  )

  it.effect("a stream nobody leads for longer than a lease is taken beyond the share, and kept", () =>
    Effect.gen(function* () {
      const mem = memoryStore()
      const a = recorder()
      const streams = [writer(mem, "p1/all"), writer(mem, "p2/all")]
      // Replica "stuck" is alive (its heartbeat goes on) but never takes a stream.
      const stuck = yield* Effect.fork(
        Effect.forever(Effect.zipRight(mem.store.heartbeat("stuck", 30_000), Effect.sleep(CHECK)))
      )
      const fa = yield* Effect.fork(Leadership.supervise(mem.store, streams, a.options("a")))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* TestClock.adjust(CHECK)
      const ledBy = () => streams.filter((s) => a.leading.get(s.stream) === true).length
      expect(ledBy()).toBe(1)
      yield* TestClock.adjust(Duration.sum(LEASE, Duration.times(CHECK, 2)))
      expect(ledBy()).toBe(2)
      // Not handed back and forth: the stuck replica does not take it.
      yield* TestClock.adjust(Duration.seconds(120))
      expect(ledBy()).toBe(2)
      expect(streams.map((s) => mem.rows.get(s.stream)?.token)).toEqual([1, 1])
      yield* Fiber.interrupt(fa)
      yield* Fiber.interrupt(stuck)
    })
  )

  it.effect("a stream's permanent failure ends the supervisor with it, its lease let go", () =>
    Effect.gen(function* () {
      const mem = memoryStore()
      const a = recorder()
      const exit = yield* Effect.fork(
        Leadership.supervise(
          mem.store,
          [{ stream: "p/all", label: "p/all", lead: () => Effect.fail("unauthorized" as const) }],
          a.options("a")
        )
      )
      yield* TestClock.adjust(Duration.seconds(11))
      const result = yield* Fiber.await(exit)
      expect(result._tag).toBe("Failure")
      expect(mem.rows.get("p/all")?.holder).toBeUndefined()
    })
  )
})
