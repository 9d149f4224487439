// Fails when any package's source has a circular import (dpdm over every src/index.ts and bin).
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"

const roots = ["packages", "apps"].flatMap((dir) =>
  readdirSync(dir)
    .map((name) => join(dir, name, "src"))
    .filter((src) => existsSync(src))
)
const entries = roots.flatMap((src) =>
  readdirSync(src)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(src, f))
)
try {
  execFileSync(
    "node_modules/.bin/dpdm",
    ["--no-tree", "--no-warning", "--transform", "--exit-code", "circular:1", ...entries],
    { stdio: "inherit" }
  )
} catch {
  console.error("circular imports found (see above)")
  process.exit(1)
}
