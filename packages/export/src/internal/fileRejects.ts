/**
 * The rejects of a file sink: `DIR/_rejects.ndjson`, one JSON object per quarantined record,
 * appended (and fsynced) before the manifest that counts it. Bytes past the manifest's count were
 * appended by a batch whose state was never written, and are cut off on open.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { Reject } from "../Sink.js"
import { appendDurable, fsyncDir, orMissing, statOf, truncateDurable } from "./atomicFile.js"
import { io, type Store } from "./fileDays.js"
import { rejectKey } from "./rejects.js"

export const REJECTS_FILE = "_rejects.ndjson"

/** The key of a reject in the file (JSON text): its stream, then its key within the stream. */
const keyOf = (streamKey: string, reject: Reject): string =>
  JSON.stringify(`${streamKey}\u0000${rejectKey(reject)}`)

const KEY = /^\{"key":("(?:[^"\\]|\\.)*")/

const lineOf = (key: string, streamKey: string | undefined, r: Reject): string =>
  `{"key":${key},"streamKey":${JSON.stringify(streamKey ?? null)},"id":${JSON.stringify(r.id ?? null)},"reason":${JSON.stringify(r.reason)},"seenAt":${JSON.stringify(r.seenAt)},"raw":${JSON.stringify(r.raw)}}\n`

/** Appends the rejects not stored yet (once per stream and key) and counts them in the manifest. */
export const append = (store: Store, rejects: ReadonlyArray<Reject>, streamKey: string | undefined) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const keys = new Set<string>()
    for (const r of rejects) {
      const key = keyOf(streamKey ?? "", r)
      if (store.rejectKeys.has(key) || keys.has(key)) continue
      keys.add(key)
      lines.push(lineOf(key, streamKey, r))
    }
    if (lines.length === 0) return
    const text = lines.join("")
    const firstOnes = store.manifest.rejects.bytes === 0
    yield* io(store, "write rejects", async () => {
      await appendDurable(path.join(store.dir, REJECTS_FILE), text)
      if (firstOnes) await fsyncDir(store.dir)
    })
    store.manifest.rejects = {
      count: store.manifest.rejects.count + lines.length,
      bytes: store.manifest.rejects.bytes + Buffer.byteLength(text)
    }
    for (const key of keys) store.rejectKeys.add(key)
  })

/**
 * Cuts off rejects appended after the last manifest, reads the keys of those it keeps, and
 * corrects the manifest's count. Returns whether the manifest changed.
 */
export const reconcile = (store: Store) =>
  Effect.gen(function* () {
    const file = path.join(store.dir, REJECTS_FILE)
    const size = (yield* io(store, "recover", () => statOf(file)))?.size ?? 0
    // Rejects appended by a batch whose state was never written: that batch will be re-sent.
    if (size > store.manifest.rejects.bytes) {
      yield* io(store, "recover", () => truncateDurable(file, store.manifest.rejects.bytes))
    }
    const text = (yield* io(store, "recover", () => orMissing(fs.readFile(file, "utf8")))) ?? ""
    store.rejectKeys.clear()
    let count = 0
    for (const line of text.split("\n")) {
      if (line.length === 0) continue
      store.rejectKeys.add(KEY.exec(line)?.[1] ?? `line:${count}`)
      count++
    }
    const bytes = Buffer.byteLength(text)
    if (count === store.manifest.rejects.count && bytes === store.manifest.rejects.bytes) return false
    store.manifest.rejects = { count, bytes }
    return true
  })
