// What a release would publish, checked before it is published: `changeset version` (the pending
// changesets applied, version.ts files written from package.json), then the build, publint, attw,
// the tests that check versions, and the tarball test (scripts/tarball-test.mjs) on the versioned
// packages. Everything `changeset version` changed is restored afterwards (and the build redone at
// the committed versions), so the working tree ends as it began; it must start clean.
// Usage: pnpm release:check   (CI runs it from .ci/run)
import { execFileSync } from "node:child_process"
import { root } from "./lib/workspace.mjs"

const run = (command, args, extraEnv = {}) => {
  console.log(`\n== release:check: ${command} ${args.join(" ")}`)
  execFileSync(command, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...extraEnv } })
}
const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" })

const dirty = git("status", "--porcelain").trim()
if (dirty !== "") {
  console.error(`release:check needs a clean working tree (it versions in place, then restores):\n${dirty}`)
  process.exit(2)
}

let code = 0
try {
  run("pnpm", ["run", "version-packages"])
  console.log(git("status", "--short"))
  run("pnpm", ["build", "--output-logs=errors-only"])
  run("pnpm", ["publint", "--output-logs=errors-only"])
  run("node", ["scripts/attw.mjs"])
  // The tests that hold version.ts, the User-Agent and --version to package.json.
  run("pnpm", ["--filter", "@taskhistory/core", "exec", "vitest", "run", "test/TaskHistoryClient.test.ts"])
  run("pnpm", ["--filter", "@taskhistory/exporter", "exec", "vitest", "run", "test/Cli.test.ts"])
  run("node", ["scripts/tarball-test.mjs"])
} catch (error) {
  code = typeof error.status === "number" && error.status !== 0 ? error.status : 1
  console.error(`release:check failed: ${error.message.split("\n")[0]}`)
} finally {
  console.log("\n== release:check: restoring the working tree")
  git("checkout", "--", ".")
  git("clean", "-fdq", "--", ".changeset", "packages", "apps")
  execFileSync("pnpm", ["build", "--output-logs=errors-only"], { cwd: root, stdio: "inherit" })
  const left = git("status", "--porcelain").trim()
  if (left !== "") {
    console.error(`release:check: the working tree is not as it began:\n${left}`)
    code ||= 1
  }
}
console.log(code === 0 ? "release:check: ok" : `release:check: FAILED (${code})`)
process.exit(code)
