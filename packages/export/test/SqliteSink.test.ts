import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as SqliteSink from "../src/SqliteSink.js"
import { sinkContract } from "./sinkContract.js"

const dir = mkdtempSync(join(tmpdir(), "taskhistory-sqlite-sink-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
let current = ""
const fresh = () => {
  current = join(dir, `db-${++n}`, "export.db")
  return SqliteSink.layer({ path: current })
}
const reopen = () => SqliteSink.layer({ path: current })
const rawOf = (id: string) =>
  Effect.flatMap(
    SqlClient,
    (sql) => sql<{ raw: string }>`SELECT raw FROM workflow_executions WHERE id = ${id}`
  ).pipe(
    Effect.map((rows) => rows[0]?.raw),
    Effect.provide(SqliteClient.layer({ filename: current })),
    Effect.orDie
  )

sinkContract("SqliteSink", fresh, reopen, rawOf)

// `layerSqlClient`: the same tables served over any SQLite SqlClient.
const overClient = () =>
  SqliteSink.layerSqlClient(`sqlite:${current}`).pipe(
    Layer.provide(Layer.orDie(SqliteClient.layer({ filename: current })))
  )
sinkContract(
  "SqliteSink.layerSqlClient over a SqlClient",
  () => {
    current = join(dir, `db-${++n}`, "export.db")
    mkdirSync(join(dir, `db-${n}`), { recursive: true })
    return overClient()
  },
  overClient,
  rawOf
)

describe("SqliteSink (file)", () => {
  it.effect("uses WAL mode and records the migration once", () =>
    Effect.gen(function* () {
      yield* Effect.void.pipe(Effect.provide(fresh()))
      yield* Effect.void.pipe(Effect.provide(reopen()))
      yield* Effect.gen(function* () {
        const sql = yield* SqlClient
        const [mode] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
        expect(mode?.journal_mode).toBe("wal")
        const versions = yield* sql<{ version: number }>`SELECT version FROM taskhistory_migrations`
        expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5])
        const indexes = yield* sql<{ name: string }>`PRAGMA index_list(workflow_executions)`
        expect(indexes.map((i) => i.name)).toContain("workflow_executions_date_started")
      }).pipe(Effect.provide(SqliteClient.layer({ filename: current })))
    })
  )

  it.effect(
    "holds PATH.lock while open: a second writer is refused naming the holder; a reader without the lock is not",
    () =>
      Effect.gen(function* () {
        const path = join(dir, "locked", "export.db")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const sink = yield* SqliteSink.make({ path })
            yield* sink.writeBatch({ records: [], rejects: [], state: undefined })
            const lock = JSON.parse(readFileSync(`${path}.lock`, "utf8"))
            expect(lock.pid).toBe(process.pid)
            const second = yield* Effect.flip(Effect.scoped(SqliteSink.make({ path })))
            expect(second.reason).toBe("Locked")
            expect(second.message).toContain(
              `sqlite:${path}: lock failed: locked by this process (${path}.lock)`
            )
            const reader = yield* SqliteSink.make({ path, lock: false })
            expect((yield* reader.status).rows).toBe(0)
          })
        )
        expect(existsSync(`${path}.lock`)).toBe(false)
      })
  )

  it.effect("fails with a SinkError naming the sink when the file cannot be opened", () =>
    Effect.gen(function* () {
      const file = join(dir, "not-a-dir")
      writeFileSync(file, "")
      const path = join(file, "x.db")
      const exit = yield* Effect.exit(Effect.void.pipe(Effect.provide(SqliteSink.layer({ path }))))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const text = JSON.stringify(exit.cause)
        expect(text).toContain("SinkError")
        expect(text).toContain(`sqlite:${path}`)
      }
    })
  )
})
