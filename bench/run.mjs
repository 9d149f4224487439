// Runs every benchmark of bench/ in turn (each prints its own ratios), then assembles
// bench/RESULTS.md from the per-benchmark result files they write (bench/RESULTS-<name>.md).
// Usage: pnpm bench [name ...]   (names: budget, simulator, cli, latency, export, redis, report, report-source, steps, replicas, packaging)
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const all = [
  "budget",
  "simulator",
  "cli",
  "latency",
  "export",
  "redis",
  "report",
  "report-source",
  "steps",
  "replicas",
  "alerts",
  "packaging"
]
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all
let failed = 0
for (const name of wanted) {
  const script = join(here, `${name}.mjs`)
  if (!existsSync(script)) {
    console.error(`bench: no ${name}.mjs, skipped`)
    continue
  }
  console.error(`\n== bench ${name}`)
  try {
    execFileSync(process.execPath, ["--expose-gc", script], { stdio: "inherit", cwd: here })
  } catch {
    failed++
    console.error(`bench ${name} failed`)
  }
}
assemble()
process.exit(failed > 0 ? 1 : 0)

function assemble() {
  const parts = readdirSync(here)
    .filter((f) => /^RESULTS-.+\.md$/.test(f))
    .sort((a, b) => all.indexOf(a.slice(8, -3)) - all.indexOf(b.slice(8, -3)))
  const summaryFile = join(here, "SUMMARY.md")
  const summary = existsSync(summaryFile) ? `${readFileSync(summaryFile, "utf8").trim()}\n\n` : ""
  const body = summary + parts.map((f) => readFileSync(join(here, f), "utf8").trim()).join("\n\n")
  writeFileSync(
    join(here, "RESULTS.md"),
    `# Benchmark results\n\nMeasured on this project's reference machine (2 cores, Node 20). Each section is written by\n\`node bench/<name>.mjs\` (or \`pnpm bench\`), which prints ratios against a baseline run in the same\nscript. Re-run to refresh; the numbers below are the last recorded run.\n\n${body}\n`
  )
}
