// Writes `src/internal/version.ts` of a package from its package.json, so that the User-Agent and
// `--version` follow the version that `changeset version` set. Runs before `tsc` in the build of
// the packages that have such a file, and after `changeset version` (`pnpm run version`).
// Usage: node scripts/sync-versions.mjs [PACKAGE_DIR ...]   (default: every package that has one)
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const withVersionFile = ["packages/core", "apps/exporter"]
const dirs =
  process.argv.length > 2
    ? process.argv.slice(2).map((d) => resolve(d))
    : withVersionFile.map((d) => join(root, d))

for (const dir of dirs) {
  const { name, version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  const file = join(dir, "src", "internal", "version.ts")
  const text = `/**\n * The version of ${name}, written from its package.json by scripts/sync-versions.mjs at build time\n * (a test checks that they agree).\n *\n * @internal\n */\nexport const version = ${JSON.stringify(version)}\n`
  // Written only when it changes, so that an unchanged package stays a cache hit for tsc and turbo.
  if (!existsSync(file) || readFileSync(file, "utf8") !== text) {
    writeFileSync(file, text)
    console.error(`sync-versions: ${name} ${version} -> ${file.slice(root.length + 1)}`)
  }
}
