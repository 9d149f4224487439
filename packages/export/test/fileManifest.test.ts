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
