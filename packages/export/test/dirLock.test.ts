import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as DirLock from "../src/internal/dirLock.js"
import { tempDir } from "./helpers.js"

describe("dirLock", () => {
  it.effect("holds the lock for its scope, refuses a second holder, and releases it on close", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const file = path.join(dir, DirLock.LOCK_FILE)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* DirLock.acquire(dir, "csv:test")
          const lock = JSON.parse(fs.readFileSync(file, "utf8"))
          assert.strictEqual(lock.pid, process.pid)
          const second = yield* Effect.flip(Effect.scoped(DirLock.acquire(dir, "csv:test")))
          assert.strictEqual(second.reason, "Locked")
          assert.strictEqual(second.operation, "lock")
          assert.include(second.message, "locked by this process")
        })
      )
      assert.isFalse(fs.existsSync(file))
      // Released: it can be taken again.
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(Effect.scoped(DirLock.acquire(dir, "csv:test")))))
      cleanup()
    })
  )

  it.effect("takes over the lock of a dead process", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-lock-")
      const file = path.join(dir, DirLock.LOCK_FILE)
      // A pid above the kernel's pid_max: never alive.
      fs.writeFileSync(file, `${JSON.stringify({ pid: 99_999_999, start: "1", token: "old" })}\n`)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* DirLock.acquire(dir, "csv:test")
          assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).pid, process.pid)
        })
      )
      cleanup()
    })
  )
})
