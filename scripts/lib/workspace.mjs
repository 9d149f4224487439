// The workspace's published packages (every package.json under packages/ and apps/ without
// "private": true) and how to pack them the way `pnpm publish` does (workspace: ranges replaced).
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** `{ name, version, dir, manifest }` of each package that is published, in a stable order. */
export const publishedPackages = () =>
  ["packages", "apps"]
    .flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name)))
    .filter((dir) => existsSync(join(dir, "package.json")))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ dir, manifest }) => ({ name: manifest.name, version: manifest.version, dir, manifest }))
    .sort((a, b) => a.name.localeCompare(b.name))

/** Whether a package has library entry points (not only a binary). */
export const isLibrary = (pkg) => typeof pkg.manifest.exports === "object" && "." in pkg.manifest.exports

/** The public modules of a library: `./Name` for each `dist/Name.d.ts` (internal ones excluded). */
export const publicModules = (pkg) =>
  readdirSync(join(pkg.dir, "dist"))
    .filter((f) => f.endsWith(".d.ts") && f !== "index.d.ts")
    .map((f) => `./${basename(f, ".d.ts")}`)
    .sort()

/** Packs `pkg` with pnpm into `dest` and returns the tarball's path. */
export const pack = (pkg, dest) => {
  const out = execFileSync("pnpm", ["pack", "--pack-destination", dest], {
    cwd: pkg.dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })
  const file = out
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .findLast((l) => l.endsWith(".tgz"))
  if (file === undefined) throw new Error(`pnpm pack printed no tarball for ${pkg.name}:\n${out}`)
  return resolve(dest, file.startsWith("/") ? file : basename(file))
}
