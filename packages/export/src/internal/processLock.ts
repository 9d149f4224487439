/**
 * The single-writer lock of a sink on disk: a lock file created with `O_EXCL` (a file sink's
 * `DIR/_lock`, a SQLite database's `PATH.lock`) naming the holder: its pid, host, pid namespace,
 * process start time and a token. {@link acquire} holds it for the life of a scope and touches the
 * file every {@link HEARTBEAT_MS} while it does.
 *
 * Whether a lock found on disk is still held:
 *
 * - a holder on this machine (same host name and pid namespace) holds it while its pid is alive
 *   and still the same process (the start time in `/proc`, on Linux): a lock left by a killed
 *   process is taken over at once, and so is one whose pid now belongs to another process;
 * - a holder on another machine (a directory shared over the network, a container with another
 *   pid namespace) cannot be asked: it holds the lock while it keeps touching the file, and a
 *   lock not touched for {@link STALE_MS} is taken over.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import { hostname } from "node:os"
import * as path from "node:path"
import { Duration, Effect, Schedule, type Scope } from "effect"
import { errorCode, fsyncDir, orMissing, TMP_PREFIX } from "./atomicFile.js"
import * as SinkErrors from "./sinkErrors.js"

/** The lock file of a file sink's directory. */
export const LOCK_FILE = "_lock"

/** How often a holder touches its lock file. */
export const HEARTBEAT_MS = 10_000

/** A lock of another machine not touched for this long is taken over. */
export const STALE_MS = 60_000

/** Locks this process holds (a second sink on the same file in one process is refused). */
const heldLocks = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errorCode(e) === "EPERM"
  }
}

/** A process's start time (Linux `/proc/PID/stat`, field 22), to tell a reused pid apart. */
const processStart = (pid: number): Promise<string | undefined> =>
  fs.readFile(`/proc/${pid}/stat`, "utf8").then(
    (text) => text.slice(text.lastIndexOf(")") + 2).split(" ")[19],
    () => undefined
  )

/** The pid namespace of this process (Linux), so that containers sharing a host name are told apart. */
const pidNamespace = (): Promise<string | undefined> =>
  fs.readlink("/proc/self/ns/pid").then(
    (link) => link,
    () => undefined
  )

/** What a lock file says about its holder. */
export interface Holder {
  readonly pid: number
  readonly host: string | undefined
  readonly ns: string | undefined
  readonly start: string | undefined
  readonly since: string | undefined
}

const parseHolder = (text: string): Holder | undefined => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null) return undefined
  const record = value as Record<string, unknown>
  const str = (key: string) => (typeof record[key] === "string" ? (record[key] as string) : undefined)
  const pid = typeof record.pid === "number" && Number.isInteger(record.pid) ? record.pid : undefined
  if (pid === undefined) return undefined
  return { pid, host: str("host"), ns: str("ns"), start: str("start"), since: str("since") }
}

/** `pid 123 on host web-1 since 2026-12-01T10:00:00.000Z`: who holds a lock, for people. */
export const describeHolder = (holder: Holder): string =>
  `pid ${holder.pid} on host ${holder.host ?? "unknown"}${holder.since === undefined ? "" : ` since ${holder.since}`}`

type LockResult =
  | { readonly _tag: "Acquired"; readonly token: string }
  | { readonly _tag: "Held"; readonly by: string }

interface Me {
  readonly pid: number
  readonly host: string
  readonly ns: string | undefined
  readonly start: string | undefined
}

const me = async (): Promise<Me> => ({
  pid: process.pid,
  host: hostname(),
  ns: await pidNamespace(),
  start: await processStart(process.pid)
})

/** Who holds the lock whose content is `existing` (modified at `mtimeMs`), or `undefined` when it is stale. */
const heldBy = async (existing: string, mtimeMs: number, self: Me): Promise<string | undefined> => {
  const holder = parseHolder(existing)
  // An unreadable lock (a crash while it was written is not possible: it is written whole with
  // O_EXCL, so this is someone else's file): treat it as held, naming the file.
  if (holder === undefined) return "an unknown process (unreadable lock file)"
  // A lock written before locks named their host is one of this machine (the only case then).
  const sameMachine =
    holder.host === undefined || (holder.host === self.host && (holder.ns ?? null) === (self.ns ?? null))
  if (!sameMachine) {
    return Date.now() - mtimeMs > STALE_MS ? undefined : describeHolder(holder)
  }
  // Our own pid in a lock we do not hold: a previous process that had the same pid. A live pid
  // whose start time differs from the one in the lock: the pid was reused by another process.
  if (holder.pid === self.pid || !isAlive(holder.pid)) return undefined
  const liveStart = holder.start === undefined ? undefined : await processStart(holder.pid)
  return holder.start === undefined || liveStart === undefined || liveStart === holder.start
    ? describeHolder(holder)
    : undefined
}

const tryAcquire = async (file: string): Promise<LockResult> => {
  const key = path.resolve(file)
  if (heldLocks.has(key)) return { _tag: "Held", by: "this process" }
  const dir = path.dirname(key)
  const token = randomUUID()
  const self = await me()
  const content = `${JSON.stringify({
    pid: self.pid,
    host: self.host,
    ns: self.ns ?? null,
    start: self.start ?? null,
    token,
    since: new Date().toISOString()
  })}\n`
  for (let attempt = 0; attempt < 5; attempt++) {
    const created = await fs.writeFile(key, content, { flag: "wx" }).then(
      () => true,
      (e: unknown) => (errorCode(e) === "EEXIST" ? false : Promise.reject(e))
    )
    if (created) {
      await fsyncDir(dir)
      heldLocks.add(key)
      return { _tag: "Acquired", token }
    }
    const existing = await orMissing(fs.readFile(key, "utf8"))
    const stat = await orMissing(fs.stat(key))
    if (existing === undefined || stat === undefined) continue
    const by = await heldBy(existing, stat.mtimeMs, self)
    if (by !== undefined) return { _tag: "Held", by }
    // Stale: move it aside (only if it is still the same file) and try again.
    const aside = path.join(dir, `${TMP_PREFIX}${randomUUID()}-stale-lock`)
    const moved = await orMissing(fs.rename(key, aside).then(() => true))
    if (moved === true) {
      const movedContent = await orMissing(fs.readFile(aside, "utf8"))
      if (movedContent !== existing) {
        // Someone replaced the stale lock between our read and our rename: put theirs back.
        await fs.link(aside, key).catch(() => undefined)
        await orMissing(fs.unlink(aside))
        return { _tag: "Held", by: "another process (taking over a stale lock)" }
      }
      await orMissing(fs.unlink(aside))
    }
  }
  return { _tag: "Held", by: "another process (lock keeps changing)" }
}

const release = async (file: string, token: string): Promise<void> => {
  const key = path.resolve(file)
  heldLocks.delete(key)
  const content = await orMissing(fs.readFile(key, "utf8"))
  if (content?.includes(token)) await orMissing(fs.unlink(key))
}

/** Touches the lock file (its mtime is the heartbeat other machines read) while it is ours. */
const touch = async (file: string, token: string): Promise<void> => {
  const content = await orMissing(fs.readFile(file, "utf8"))
  if (content?.includes(token)) {
    const now = new Date()
    await orMissing(fs.utimes(file, now, now))
  }
}

/**
 * Options of {@link acquire}.
 */
export interface AcquireOptions {
  /** Wait for the holder to let go instead of failing. Default `false`. */
  readonly wait?: boolean | undefined
  /** How often a waiting process looks again. Default 1 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
}

/**
 * Takes the lock file `file` until the scope closes, touching it every {@link HEARTBEAT_MS};
 * fails with a `Locked` `SinkError` naming the holder (pid and host) when another live process
 * (or this one) has it, or, with `wait`, waits until it is free (logging once who holds it).
 */
export const acquireFile = (
  file: string,
  sink: string,
  options: AcquireOptions = {}
): Effect.Effect<void, SinkErrors.SinkError, Scope.Scope> => {
  // One attempt; the release is registered in the scope only when the lock was taken.
  const attempt = Effect.uninterruptible(
    Effect.tryPromise({ try: () => tryAcquire(file), catch: SinkErrors.fromCause("Io", sink, "lock") }).pipe(
      Effect.tap((result) =>
        result._tag === "Acquired"
          ? Effect.addFinalizer(() =>
              Effect.promise(() => release(file, result.token).catch(() => undefined))
            )
          : Effect.void
      )
    )
  )
  const locked = (by: string) => SinkErrors.make("Locked", sink, "lock", `locked by ${by} (${file})`)
  const poll = Duration.decode(options.pollInterval ?? Duration.seconds(1))
  const loop = (logged: string | undefined): Effect.Effect<string, SinkErrors.SinkError, Scope.Scope> =>
    Effect.flatMap(attempt, (result) => {
      if (result._tag === "Acquired") return Effect.succeed(result.token)
      if (options.wait !== true) return Effect.fail(locked(result.by))
      const log =
        logged === result.by
          ? Effect.void
          : Effect.logInfo(`waiting for the lock of ${sink}: ${file} is held by ${result.by}`)
      return log.pipe(Effect.zipRight(Effect.sleep(poll)), Effect.zipRight(loop(result.by)))
    })
  return Effect.flatMap(loop(undefined), (token) =>
    Effect.asVoid(
      Effect.forkScoped(
        Effect.promise(() => touch(file, token).catch(() => undefined)).pipe(
          Effect.repeat(Schedule.spaced(Duration.millis(HEARTBEAT_MS))),
          Effect.delay(Duration.millis(HEARTBEAT_MS))
        )
      )
    )
  )
}

/** Takes the lock of the directory `dir` (`DIR/_lock`): {@link acquireFile}. */
export const acquire = (
  dir: string,
  sink: string,
  options: AcquireOptions = {}
): Effect.Effect<void, SinkErrors.SinkError, Scope.Scope> =>
  acquireFile(path.join(dir, LOCK_FILE), sink, options)
