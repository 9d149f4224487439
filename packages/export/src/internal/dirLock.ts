/**
 * The single-writer lock of a file sink directory: `DIR/_lock`, created with `O_EXCL`, holding
 * the pid, the process start time and a token. A lock left by a dead process is taken over, and
 * so is one whose pid now belongs to another process (told apart by the start time in `/proc`, on
 * Linux). {@link acquire} holds it for the life of a scope.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { errorCode, fsyncDir, orMissing, TMP_PREFIX } from "./atomicFile.js"
import * as SinkErrors from "./sinkErrors.js"

export const LOCK_FILE = "_lock"

/** Locks this process holds (a second sink on the same directory in one process is refused). */
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

type LockResult =
  | { readonly _tag: "Acquired"; readonly token: string }
  | { readonly _tag: "Held"; readonly by: string }

/** Whether the lock whose content is `existing` belongs to a live process other than this one. */
const heldBy = async (existing: string): Promise<string | undefined> => {
  const pid = Number(/"pid":(\d+)/.exec(existing)?.[1] ?? Number.NaN)
  const lockStart = /"start":"(\d+)"/.exec(existing)?.[1]
  // Our own pid in a lock we do not hold: a previous process that had the same pid. A live pid
  // whose start time differs from the one in the lock: the pid was reused by another process.
  if (!Number.isInteger(pid) || pid === process.pid || !isAlive(pid)) return undefined
  const liveStart = lockStart === undefined ? undefined : await processStart(pid)
  return lockStart === undefined || liveStart === undefined || liveStart === lockStart
    ? `pid ${pid}`
    : undefined
}

const tryAcquire = async (dir: string): Promise<LockResult> => {
  const file = path.join(dir, LOCK_FILE)
  const key = path.resolve(file)
  if (heldLocks.has(key)) return { _tag: "Held", by: "this process" }
  const token = randomUUID()
  const start = await processStart(process.pid)
  const content =
    JSON.stringify({ pid: process.pid, start: start ?? null, token, since: new Date().toISOString() }) + "\n"
  for (let attempt = 0; attempt < 5; attempt++) {
    const created = await fs.writeFile(file, content, { flag: "wx" }).then(
      () => true,
      (e: unknown) => (errorCode(e) === "EEXIST" ? false : Promise.reject(e))
    )
    if (created) {
      await fsyncDir(dir)
      heldLocks.add(key)
      return { _tag: "Acquired", token }
    }
    const existing = await orMissing(fs.readFile(file, "utf8"))
    if (existing === undefined) continue
    const by = await heldBy(existing)
    if (by !== undefined) return { _tag: "Held", by }
    // Stale: move it aside (only if it is still the same file) and try again.
    const aside = path.join(dir, `${TMP_PREFIX}${randomUUID()}-stale-lock`)
    const moved = await orMissing(fs.rename(file, aside).then(() => true))
    if (moved === true) {
      const movedContent = await orMissing(fs.readFile(aside, "utf8"))
      if (movedContent !== existing) {
        // Someone replaced the stale lock between our read and our rename: put theirs back.
        await fs.link(aside, file).catch(() => undefined)
        await orMissing(fs.unlink(aside))
        return { _tag: "Held", by: "another process (taking over a stale lock)" }
      }
      await orMissing(fs.unlink(aside))
    }
  }
  return { _tag: "Held", by: "another process (lock keeps changing)" }
}

const release = async (dir: string, token: string): Promise<void> => {
  const file = path.join(dir, LOCK_FILE)
  heldLocks.delete(path.resolve(file))
  const content = await orMissing(fs.readFile(file, "utf8"))
  if (content?.includes(token)) await orMissing(fs.unlink(file))
}

/**
 * Takes the lock of `dir` until the scope closes; fails with a `Locked` `SinkError` naming the
 * holder when another live process (or this one) has it.
 */
export const acquire = (dir: string, sink: string): Effect.Effect<void, SinkErrors.SinkError, Scope.Scope> =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.tryPromise({ try: () => tryAcquire(dir), catch: SinkErrors.fromCause("Io", sink, "lock") }),
      (result) =>
        result._tag === "Acquired"
          ? Effect.promise(() => release(dir, result.token).catch(() => undefined))
          : Effect.void
    ),
    (result) =>
      result._tag === "Acquired"
        ? Effect.void
        : Effect.fail(
            SinkErrors.make(
              "Locked",
              sink,
              "lock",
              `${dir} is locked by ${result.by} (${path.join(dir, LOCK_FILE)})`
            )
          )
  )
