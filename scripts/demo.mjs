// `pnpm demo`: the whole product on embedded defaults, after `turbo run build`.
// 1. starts the local Paragon-compatible simulator in this process,
// 2. exports its task history into ./taskhistory.db with `taskhistory-exporter run --once`,
// 3. prints a usage report by workflow with `taskhistory usage --by workflow`,
// 4. shows where the database is and how to query it, stops the simulator.
import { spawn } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const exporterBin = join(root, "apps/exporter/dist/bin.js")
const cliBin = join(root, "apps/cli/dist/bin.js")
const simulatorModule = join(root, "packages/simulator/dist/index.js")
const records = 5000
const dbPath = resolve(process.cwd(), "taskhistory.db")

const say = (line) => process.stderr.write(`\n== ${line}\n`)

for (const [file, what] of [
  [exporterBin, "the exporter"],
  [cliBin, "the CLI"],
  [simulatorModule, "the simulator"]
]) {
  if (!existsSync(file)) {
    process.stderr.write(
      `${what} is not built (${file} is missing): run \`pnpm demo\` (it builds first) or \`pnpm build\`\n`
    )
    process.exit(1)
  }
}

/** Runs a node script, streaming its stdout and stderr through; resolves with its exit code. */
const run = (script, args, env) =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: process.cwd(),
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)))
  })

const { startSimulator } = await import(simulatorModule)

// The demo database is recreated on each run so that it mirrors this run's simulated history.
for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${dbPath}${suffix}`, { force: true })

say(`starting the simulator with ${records} executions`)
const simulator = await startSimulator({ records, seed: 42 })
let exitCode = 0
try {
  const env = {
    PARAGON_BASE_URL: simulator.url,
    PARAGON_PROJECT_ID: simulator.projectId,
    PARAGON_API_KEY: simulator.apiKey,
    PARAGON_RATE_LIMIT: "100000/1s"
  }
  process.stderr.write(`simulator listening on ${simulator.url} (project ${simulator.projectId})\n`)

  say("taskhistory-exporter run --once --sink sqlite:./taskhistory.db")
  exitCode = await run(exporterBin, ["run", "--once", "--sink", "sqlite:./taskhistory.db"], env)
  if (exitCode !== 0) throw new Error(`taskhistory-exporter exited with ${exitCode}`)

  say("taskhistory-exporter status --sink sqlite:./taskhistory.db")
  exitCode = await run(exporterBin, ["status", "--sink", "sqlite:./taskhistory.db"], env)
  if (exitCode !== 0) throw new Error(`taskhistory-exporter status exited with ${exitCode}`)

  say("taskhistory usage --by workflow")
  exitCode = await run(cliBin, ["usage", "--by", "workflow"], env)
  if (exitCode !== 0) throw new Error(`taskhistory usage exited with ${exitCode}`)

  say("done")
  process.stderr.write(
    [
      `The exported history is in ${dbPath} (table workflow_executions). Try:`,
      `  sqlite3 ${dbPath} "select status, count(*) from workflow_executions group by status"`,
      "  pnpm exec taskhistory-exporter status",
      ""
    ].join("\n")
  )
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`)
  if (exitCode === 0) exitCode = 1
} finally {
  await simulator.close()
}
process.exit(exitCode)
