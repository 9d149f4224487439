/**
 * Recovery of a file sink directory, on open and after a failed batch: removes the temp files a
 * crash left, recounts every day whose file is not the version the manifest names (written by a
 * batch whose state was lost), folds every Parquet journal into its day file, forgets days that
 * are gone, and cuts the rejects back to the manifest. Memory starts again from what is durable.
 *
 * @internal
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { removeEmptyDir, removeTemps, sameStat, statOf } from "./atomicFile.js"
import { DAY_DIR, dayDir, io, readDay, type Store, writeWhole } from "./fileDays.js"
import { journal } from "./fileFormat.js"
import * as Manifest from "./fileManifest.js"
import * as Rejects from "./fileRejects.js"

/** Whether the day `day` on disk is what the manifest says; otherwise brings the manifest in line. */
const reconcileDay = (store: Store, day: string) =>
  Effect.gen(function* () {
    const { format } = store
    const ddir = dayDir(store.dir, day)
    const stats = yield* io(store, "recover", async () => {
      await removeTemps(ddir)
      const source = await statOf(path.join(ddir, format.file))
      const pending = format.journaled ? await statOf(path.join(ddir, journal.file)) : undefined
      return { source, pending }
    })
    if (stats.source === undefined && stats.pending === undefined) {
      // A day directory created by a batch that crashed before its first file was renamed.
      yield* io(store, "recover", () => removeEmptyDir(ddir))
      return { exists: false, changed: false }
    }
    const known = store.manifest.days.get(day)
    if (stats.pending === undefined && sameStat(known?.source, stats.source) && known?.derived === undefined)
      return { exists: true, changed: false }
    const loaded = yield* readDay(store, day)
    // A journal (a deferred Parquet rebuild, or the sidecar of an older version) is folded in now.
    const entry =
      stats.pending === undefined
        ? { rows: loaded.rows.size, source: stats.source! }
        : yield* writeWhole(store, loaded)
    store.manifest.days.set(day, entry)
    return { exists: true, changed: true }
  })

/** Recovers the directory of `store` (see the module's description). */
export const recover = (store: Store) =>
  Effect.gen(function* () {
    store.cache.clear()
    const read = yield* Manifest.read(store.dir, store.format.name, store.name, "open")
    store.manifest = read ?? Manifest.empty()
    let changed = false
    const entries = yield* io(store, "recover", async () => {
      await removeTemps(store.dir)
      return fs.readdir(store.dir, { withFileTypes: true })
    })
    const onDisk = new Set<string>()
    for (const dirent of entries) {
      const day = dirent.isDirectory() ? DAY_DIR.exec(dirent.name)?.[1] : undefined
      if (day === undefined) continue
      const result = yield* reconcileDay(store, day)
      if (result.exists) onDisk.add(day)
      if (result.changed) changed = true
    }
    for (const day of [...store.manifest.days.keys()]) {
      if (!onDisk.has(day)) {
        store.manifest.days.delete(day)
        changed = true
      }
    }
    if (yield* Rejects.reconcile(store)) changed = true
    if (changed || read === undefined) {
      yield* io(store, "write state", () => Manifest.write(store.dir, store.format.name, store.manifest))
    }
  })
