// Checks the types of every published library with @arethetypeswrong/cli, on the tarball that
// would be published, with the esm-only profile (ESM for node16+ and bundlers; CommonJS callers
// `require` the ESM build, which Node >= 20.19 allows) and every public module as an entry point.
// Packages that only ship a binary (apps/cli, apps/exporter) have no types to check.
// Usage: node scripts/attw.mjs   (after pnpm build)
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { isLibrary, pack, publicModules, publishedPackages, root } from "./lib/workspace.mjs"

const dest = mkdtempSync(join(tmpdir(), "taskhistory-attw-"))
const attw = join(root, "node_modules", ".bin", "attw")
let failed = 0
try {
  for (const pkg of publishedPackages().filter(isLibrary)) {
    const tarball = pack(pkg, dest)
    const args = [
      tarball,
      "--profile",
      "esm-only",
      "--format",
      "table-flipped",
      "--include-entrypoints",
      ...publicModules(pkg)
    ]
    try {
      execFileSync(attw, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" })
      console.log(`attw: ${pkg.name} ok (${publicModules(pkg).length + 1} entry points)`)
    } catch (error) {
      failed++
      console.log(`attw: ${pkg.name} FAILED\n${error.stdout ?? ""}${error.stderr ?? ""}`)
    }
  }
} finally {
  rmSync(dest, { recursive: true, force: true })
}
process.exit(failed > 0 ? 1 : 0)
