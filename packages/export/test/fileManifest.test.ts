import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Manifest from "../src/internal/fileManifest.js"
import { tempDir } from "./helpers.js"

describe("fileManifest", () => {
  it.effect("reads nothing before the first write, then what was written", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-manifest-")
      assert.isUndefined(yield* Manifest.read(dir, "csv", "csv:test", "open"))
      const m = Manifest.empty()
      m.states.set("all", {
        streamKey: "all",
        highWaterMark: "2026-11-01T00:00:00.000Z",
        longestRunMs: 5,
        lastRunAt: undefined,
        cursor: { v: 2 }
      })
      m.days.set("2026-11-02", { rows: 3, source: { ino: 1, size: 10, mtimeMs: 2 } })
      m.days.set("2026-11-01", { rows: 2, source: { ino: 3, size: 20, mtimeMs: 4 } })
      m.rejects = { count: 1, bytes: 40 }
      yield* Effect.promise(() => Manifest.write(dir, "csv", m))
      const back = yield* Manifest.read(dir, "csv", "csv:test", "open")
      assert.deepStrictEqual(back?.states.get("all"), m.states.get("all"))
      assert.deepStrictEqual([...(back?.days.keys() ?? [])], ["2026-11-01", "2026-11-02"])
      assert.strictEqual(back === undefined ? 0 : Manifest.rowCount(back), 5)
      assert.deepStrictEqual(back?.rejects, { count: 1, bytes: 40 })
      cleanup()
    })
  )

  it.effect("writes the step backlog oldest first, one entry a line, and reads it back", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-manifest-")
      const m = Manifest.empty()
      const steps = Manifest.stepsOf(m)
      const queuedAt = "2026-11-03T00:00:00.000Z"
      // Out of order, two at the same instant (then by id), one date with an offset.
      steps.backlog.set("c", {
        executionId: "c",
        status: "FAILED",
        dateStarted: "2026-11-02T00:00:00Z",
        queuedAt
      })
      steps.backlog.set("b", {
        executionId: "b",
        status: "SUCCEEDED",
        dateStarted: "2026-11-01T00:00:00Z",
        queuedAt
      })
      steps.backlog.set("a", {
        executionId: "a",
        status: "FAILED",
        dateStarted: "2026-11-01T01:00:00+01:00",
        queuedAt
      })
      steps.scopes.add("all")
      // A cursor that holds the marker's text changes nothing.
      m.states.set("all", {
        streamKey: "all",
        highWaterMark: undefined,
        longestRunMs: 0,
        lastRunAt: undefined,
        cursor: { note: "\u0000backlog" }
      })
      yield* Effect.promise(() => Manifest.write(dir, "ndjson", m))
      const text = fs.readFileSync(path.join(dir, Manifest.STATE_FILE), "utf8")
      assert.deepStrictEqual(JSON.parse(text).steps.backlog, [
        ["a", "FAILED", "2026-11-01T01:00:00+01:00", queuedAt],
        ["b", "SUCCEEDED", "2026-11-01T00:00:00Z", queuedAt],
        ["c", "FAILED", "2026-11-02T00:00:00Z", queuedAt]
      ])
      assert.include(text, `\n${JSON.stringify(["b", "SUCCEEDED", "2026-11-01T00:00:00Z", queuedAt])},\n`)
      const back = yield* Manifest.read(dir, "ndjson", "ndjson:test", "open")
      assert.deepStrictEqual([...(back?.steps?.backlog.keys() ?? [])], ["a", "b", "c"])
      assert.deepStrictEqual(back?.steps?.backlog.get("c"), steps.backlog.get("c"))
      assert.deepStrictEqual(back?.states.get("all")?.cursor, { note: "\u0000backlog" })
      // An emptied backlog is an empty array.
      steps.backlog.clear()
      yield* Effect.promise(() => Manifest.write(dir, "ndjson", m))
      assert.deepStrictEqual(
        JSON.parse(fs.readFileSync(path.join(dir, Manifest.STATE_FILE), "utf8")).steps.backlog,
        []
      )
      cleanup()
    })
  )

  it.effect("refuses a file that is not a manifest, or one of another format", () =>
    Effect.gen(function* () {
      const { dir, cleanup } = tempDir("taskhistory-manifest-")
      yield* Effect.promise(() => Manifest.write(dir, "parquet", Manifest.empty()))
      const other = yield* Effect.flip(Manifest.read(dir, "csv", "csv:test", "read state"))
      assert.strictEqual(other.reason, "Corrupt")
      assert.include(other.detail, "holds a parquet export, not csv")
      fs.writeFileSync(path.join(dir, Manifest.STATE_FILE), "{not json")
      const bad = yield* Effect.flip(Manifest.read(dir, "csv", "csv:test", "open"))
      assert.strictEqual(bad.reason, "Corrupt")
      assert.strictEqual(bad.operation, "open")
      cleanup()
    })
  )
})
