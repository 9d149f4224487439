import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as AtomicFile from "../src/internal/atomicFile.js"
import { tempDir } from "./helpers.js"

describe("atomicFile", () => {
  it("replaces, appends and truncates files, and removes what a crash left", async () => {
    const { dir, cleanup } = tempDir("taskhistory-atomic-")
    await AtomicFile.writeAtomic(dir, "a.txt", "one\n")
    const first = await AtomicFile.statOf(path.join(dir, "a.txt"))
    await AtomicFile.appendAtomic(dir, "a.txt", "two\n")
    assert.strictEqual(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "one\ntwo\n")
    const second = await AtomicFile.statOf(path.join(dir, "a.txt"))
    // A new version is a new file (renamed over the old one).
    assert.isFalse(AtomicFile.sameStat(first, second))
    assert.isTrue(AtomicFile.sameStat(second, await AtomicFile.statOf(path.join(dir, "a.txt"))))
    assert.isUndefined(await AtomicFile.statOf(path.join(dir, "missing")))
    await AtomicFile.truncateDurable(path.join(dir, "a.txt"), 4)
    assert.strictEqual(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "one\n")
    fs.writeFileSync(path.join(dir, `${AtomicFile.TMP_PREFIX}left-by-a-crash`), "x")
    await AtomicFile.removeTemps(dir)
    assert.deepStrictEqual(fs.readdirSync(dir), ["a.txt"])
    cleanup()
  })
})
