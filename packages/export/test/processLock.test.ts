import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { hostname } from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import * as ProcessLock from "../src/internal/processLock.js"
import { tempDir } from "./helpers.js"

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
})

/** A live process that is not this one (a sleeping child). */
const liveProcess = (): number => {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
  children.push(child)
  return child.pid!
}

const ns = fs.readlinkSync("/proc/self/ns/pid")

const writeLock = (file: string, holder: Record<string, unknown>) =>
  fs.writeFileSync(
    file,
    `${JSON.stringify({ start: null, token: "theirs", since: "2026-12-01T10:00:00.000Z", ...holder })}\n`
  )

describe("processLock", () => {
  it.effect("holds the lock for its scope, refuses a second holder, and releases it on close", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const file = path.join(dir, ProcessLock.LOCK_FILE)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* ProcessLock.acquire(dir, "csv:test")
          const lock = JSON.parse(fs.readFileSync(file, "utf8"))
          assert.strictEqual(lock.pid, process.pid)
          assert.strictEqual(lock.host, hostname())
          const second = yield* Effect.flip(Effect.scoped(ProcessLock.acquire(dir, "csv:test")))
          assert.strictEqual(second.reason, "Locked")
          assert.strictEqual(second.operation, "lock")
          assert.include(second.message, "locked by this process")
        })
      )
      assert.isFalse(fs.existsSync(file))
      // Released: it can be taken again.
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(Effect.scoped(ProcessLock.acquire(dir, "csv:test")))))
      cleanup()
    })
  )

  it.effect("takes over the lock of a dead process", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const file = path.join(dir, ProcessLock.LOCK_FILE)
      // A pid above the kernel's pid_max: never alive.
      writeLock(file, { pid: 99_999_999, host: hostname(), ns })
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* ProcessLock.acquire(dir, "csv:test")
          assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).pid, process.pid)
        })
      )
      cleanup()
    })
  )

  it.effect("refuses the lock of a live process of this machine, naming its pid and host", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const pid = liveProcess()
      writeLock(path.join(dir, ProcessLock.LOCK_FILE), { pid, host: hostname(), ns })
      const error = yield* Effect.flip(Effect.scoped(ProcessLock.acquire(dir, "csv:test")))
      assert.strictEqual(error.reason, "Locked")
      assert.include(
        error.message,
        `locked by pid ${pid} on host ${hostname()} since 2026-12-01T10:00:00.000Z`
      )
      assert.notInclude(error.message, "\n")
      cleanup()
    })
  )

  it.effect("a lock of another machine holds while it is touched, and is taken over once it is not", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const file = path.join(dir, ProcessLock.LOCK_FILE)
      // The pid is not alive here, but it is another machine's pid: only its heartbeat counts.
      writeLock(file, { pid: 99_999_999, host: "elsewhere", ns: "pid:[1]" })
      const error = yield* Effect.flip(Effect.scoped(ProcessLock.acquire(dir, "csv:test")))
      assert.include(error.message, "locked by pid 99999999 on host elsewhere")
      // The same host name in another pid namespace (a container) is another machine too.
      writeLock(file, { pid: 99_999_999, host: hostname(), ns: "pid:[1]" })
      assert.strictEqual(
        (yield* Effect.flip(Effect.scoped(ProcessLock.acquire(dir, "csv:test")))).reason,
        "Locked"
      )
      const old = new Date(Date.now() - ProcessLock.STALE_MS - 5_000)
      fs.utimesSync(file, old, old)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* ProcessLock.acquire(dir, "csv:test")
          assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).pid, process.pid)
        })
      )
      cleanup()
    })
  )

  it.live("with wait, waits for the holder to let go, then takes the lock", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const file = path.join(dir, ProcessLock.LOCK_FILE)
      const pid = liveProcess()
      writeLock(file, { pid, host: hostname(), ns })
      const waiting = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function* () {
            yield* ProcessLock.acquire(dir, "csv:test", { wait: true, pollInterval: "20 millis" })
            return JSON.parse(fs.readFileSync(file, "utf8")).pid as number
          })
        )
      )
      yield* Effect.sleep("200 millis")
      // Still waiting: the holder is alive.
      assert.isTrue((yield* Fiber.poll(waiting))._tag === "None")
      assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).pid, pid)
      process.kill(pid, "SIGKILL")
      assert.strictEqual(yield* Fiber.join(waiting), process.pid)
      cleanup()
    })
  )
})
