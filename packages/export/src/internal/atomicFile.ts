/**
 * Durable file operations of the file sinks: every file is replaced by a temp file in the same
 * directory that is written, fsynced and renamed over it, then the directory is fsynced. A crash at
 * any instant leaves the old or the new version of each file, never a mix; the temp files it
 * leaves behind are removed by {@link removeTemps}.
 *
 * Plain promises (the sinks wrap each call in an Effect with its error).
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import { constants as fsConstants } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/** The prefix of temp files. */
export const TMP_PREFIX = ".tmp-"

/** The `code` of a Node error (`ENOENT`, `EEXIST`, ...), if any. */
export const errorCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined

/** Resolves to `undefined` when the promise fails with ENOENT. */
export const orMissing = <A>(promise: Promise<A>): Promise<A | undefined> =>
  promise.catch((e: unknown) => (errorCode(e) === "ENOENT" ? undefined : Promise.reject(e)))

/** What tells two versions of a file apart. */
export interface FileStat {
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
}

/** The {@link FileStat} of a file, `undefined` when it does not exist. */
export const statOf = async (file: string): Promise<FileStat | undefined> => {
  const s = await orMissing(fs.stat(file))
  return s === undefined ? undefined : { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs }
}

/** Whether two stats are of the same version of a file. */
export const sameStat = (a: FileStat | undefined, b: FileStat | undefined): boolean =>
  a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

/** Platforms that cannot open or fsync a directory (Windows) answer with one of these. */
const noDirSync = new Set(["EISDIR", "EPERM", "EINVAL", "ENOTSUP"])

/** Makes the entries of `dir` (renames, new files) durable. */
export const fsyncDir = async (dir: string): Promise<void> => {
  const handle = await fs
    .open(dir, "r")
    .catch((e: unknown) => (noDirSync.has(errorCode(e) ?? "") ? undefined : Promise.reject(e)))
  if (handle === undefined) return
  try {
    await handle
      .sync()
      .catch((e: unknown) => (noDirSync.has(errorCode(e) ?? "") ? undefined : Promise.reject(e)))
  } finally {
    await handle.close()
  }
}

/** Opens `file` with `flags`, runs `use` on it, closes it. */
const withFile = async (file: string, flags: string, use: (handle: fs.FileHandle) => Promise<void>) => {
  const handle = await fs.open(file, flags)
  try {
    await use(handle)
  } finally {
    await handle.close()
  }
}

const tempFor = (dir: string, name: string) => path.join(dir, `${TMP_PREFIX}${randomUUID()}-${name}`)

/** Writes `data` to a fresh temp file in `dir`, fsyncs it and renames it over `dir/name`. */
export const writeAtomic = async (dir: string, name: string, data: string | Uint8Array): Promise<void> => {
  const tmp = tempFor(dir, name)
  await withFile(tmp, "wx", async (handle) => {
    await handle.writeFile(data)
    await handle.sync()
  })
  await fs.rename(tmp, path.join(dir, name))
}

/** Copies `dir/name` to a temp file (a reflink where it can), appends `data`, fsyncs, renames it back. */
export const appendAtomic = async (dir: string, name: string, data: string): Promise<void> => {
  const tmp = tempFor(dir, name)
  await fs.copyFile(path.join(dir, name), tmp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE)
  await appendDurable(tmp, data)
  await fs.rename(tmp, path.join(dir, name))
}

/** Appends `data` to `file` (created when missing) and fsyncs it. Not atomic: see the callers. */
export const appendDurable = (file: string, data: string): Promise<void> =>
  withFile(file, "a", async (handle) => {
    await handle.appendFile(data)
    await handle.sync()
  })

/** Cuts `file` to `size` bytes and fsyncs it. */
export const truncateDurable = (file: string, size: number): Promise<void> =>
  withFile(file, "r+", async (handle) => {
    await handle.truncate(size)
    await handle.sync()
  })

/** Removes the temp files left in `dir` by a crash. */
export const removeTemps = async (dir: string): Promise<void> => {
  const names = (await orMissing(fs.readdir(dir))) ?? []
  for (const name of names) {
    if (name.startsWith(TMP_PREFIX)) await orMissing(fs.unlink(path.join(dir, name)))
  }
}

/** Removes `dir` when it is empty (another entry keeps it). */
export const removeEmptyDir = (dir: string): Promise<void> =>
  fs.rmdir(dir).catch((e: unknown) => (errorCode(e) === "ENOTEMPTY" ? undefined : Promise.reject(e)))
