// The loader both binaries ship as dist/bin.js (written by apps/cli/build.mjs and
// apps/exporter/build.mjs): it sets the heap flags below, then compiles dist/main.cjs through a V8
// code cache written on the first run, per user, Node version and build.
import { createHash } from "node:crypto"
import { chmodSync, readFileSync, writeFileSync } from "node:fs"

/**
 * Writes dist/bin.js for the bundle dist/main.cjs (run from the app's folder). The cache file is
 * named `${cachePrefix}-${version}-${hash of main.cjs}-${node version}-${arch}.cache`, so a new
 * build never reads an old build's cache. `semiSpaceMb`: the size the young generation's
 * semi-spaces grow to once, after start-up (see the loader below); without it they stay at 1 MB.
 */
export const writeLoader = ({ cachePrefix, version, semiSpaceMb }) => {
  const youngGeneration =
    semiSpaceMb === undefined
      ? ""
      : `
// The young generation grows once, from 1 MB semi-spaces to ${semiSpaceMb} MB ones, and stays there: a
// bulk read allocates ~3 MB per 1,000 records that die young, and with 1 MB semi-spaces a
// scavenge ran every ~300 records (\`list --all\`, 100k records: 347 scavenges, 0.36-0.40 s of
// pauses; with ${semiSpaceMb} MB ones 93 and 0.16-0.25 s, CPU -15%, peak RSS +10 MB; see
// bench/RESULTS-cli.md). Only the growth factor can be changed once the heap exists: it is set to
// ${semiSpaceMb} after start-up (whose allocations all live on: grown during it, the young generation would
// grow again, to V8's 16 MB), and back to 1 after the first growth, seen after a collection.
if (!/--(max|min)-semi-space-size|--semi-space-growth-factor/.test(process.execArgv.join(" ") + " " + (env.NODE_OPTIONS ?? ""))) {
  const committed = () => getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0
  const before = committed()
  setFlagsFromString("--semi-space-growth-factor=${semiSpaceMb}")
  const grown = new PerformanceObserver(() => {
    if (committed() <= before) return
    setFlagsFromString("--semi-space-growth-factor=1")
    grown.disconnect()
  })
  grown.observe({ entryTypes: ["gc"] })
}
`
  const hash = createHash("sha256").update(readFileSync("dist/main.cjs")).digest("hex").slice(0, 16)
  const loader = `#!/usr/bin/env node
// Loads main.cjs, through a V8 code cache written on the first run (see build.mjs in the source
// repository).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
${semiSpaceMb === undefined ? "" : 'import { PerformanceObserver } from "node:perf_hooks"\n'}import { ${semiSpaceMb === undefined ? "" : "getHeapSpaceStatistics, "}setFlagsFromString } from "node:v8"
import { Script } from "node:vm"

// A long export or \`list --all\` allocates briefly-lived pages at a high rate: with V8's
// defaults the heap grows to several times the live data (see bench/RESULTS-export.md). Set
// here, before anything else runs:
// - the old generation grows by 50% of the live data between full collections (not up to 4x);
// - the young generation keeps the size it has now (1 MB semi-spaces) instead of growing to 16 MB
//   ones: --max-semi-space-size only counts when the heap is created, but the growth factor is
//   read at each growth (a loader built with semiSpaceMb lets it grow once after start-up, below);
// - WebAssembly stays on V8's baseline compiler: optimizing undici's HTTP parser (one large
//   function) takes ~30 MB of compiler memory for a moment, the peak of a short export.
// Flags given on the command line or in NODE_OPTIONS win, each on its own.
{
  const given = process.execArgv.join(" ") + " " + (process.env.NODE_OPTIONS ?? "")
  const flags = []
  if (!given.includes("--heap-growing-percent")) flags.push("--heap-growing-percent=50")
  if (!/--(max|min)-semi-space-size|--semi-space-growth-factor/.test(given)) flags.push("--semi-space-growth-factor=1")
  if (!/liftoff|wasm-tier|wasm-dynamic-tiering/.test(given)) flags.push("--liftoff-only")
  if (flags.length > 0) setFlagsFromString(flags.join(" "))
}

const file = fileURLToPath(new URL("./main.cjs", import.meta.url))
const env = process.env
const cacheFile =
  env.TASKHISTORY_CODE_CACHE === "0"
    ? undefined
    : join(
        env.TASKHISTORY_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "taskhistory"),
        \`${cachePrefix}-${version}-${hash}-\${process.version}-\${process.arch}.cache\`
      )
let cachedData
try {
  if (cacheFile !== undefined) cachedData = readFileSync(cacheFile)
} catch {}
const script = new Script(readFileSync(file, "utf8"), {
  filename: file,
  ...(cachedData === undefined ? {} : { cachedData })
})
const module = { exports: {} }
script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
// Written now, once the bundle's top level has run (the command itself goes on asynchronously),
// not when the process exits: by the end of a long run (\`list --all\`, an export) V8 has flushed
// the bytecode of functions that ran only at start-up, the bundle's top level first, and a cache
// written then made every later start compile it again: +0.1-0.35 s of CPU and +14-22 MB of peak
// RSS per run (bench/RESULTS-cli.md). The functions of the command compiled after this point are
// compiled again at each run; measured, that costs nothing visible.
if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected)) {
  try {
    mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 })
    const partial = \`\${cacheFile}.\${process.pid}\`
    writeFileSync(partial, script.createCachedData(), { mode: 0o600 })
    renameSync(partial, cacheFile)
  } catch {}
}
${youngGeneration}`
  writeFileSync("dist/bin.js", loader)
  // tsc may have written dist/bin.js already: a mode given to writeFileSync would not apply.
  chmodSync("dist/bin.js", 0o755)
}
