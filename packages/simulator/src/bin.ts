#!/usr/bin/env node
/**
 * `taskhistory-simulator`: runs the simulator until SIGINT/SIGTERM and prints the environment to
 * use it (`export PARAGON_BASE_URL=...` lines on stdout, a human line on stderr).
 *
 * @since 0.1.0
 */
import { parseArgs, usage } from "./internal/cli.js"

const fail = (message: string, code: number) => {
  process.stderr.write(`taskhistory-simulator: ${message}\n`)
  process.exitCode = code
}

const main = async () => {
  const parsed = parseArgs(process.argv.slice(2))
  if (!parsed.ok) {
    fail(`${parsed.error} (see --help)`, 2)
    return
  }
  if (parsed.value === "help") {
    process.stdout.write(usage)
    return
  }
  const options = parsed.value
  // Loaded after the flags are checked, so that --help and bad flags answer at once.
  const { startSimulator } = await import("./Simulator.js")
  let sim: Awaited<ReturnType<typeof startSimulator>>
  try {
    sim = await startSimulator(options)
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error)
    const code = error instanceof Error && "_tag" in error && error._tag === "InvalidInput" ? 2 : 1
    fail(code === 2 ? message : `could not start: ${message}`, code)
    return
  }
  process.stdout.write(
    `export PARAGON_BASE_URL=${sim.url}\nexport PARAGON_PROJECT_ID=${sim.projectId}\nexport PARAGON_API_KEY=${sim.apiKey}\n`
  )
  const stats = sim.stats()
  process.stderr.write(
    `taskhistory-simulator: serving ${stats.visible} executions at ${sim.url} (project ${sim.projectId}; admin: ${sim.url}/__admin/stats). Ctrl-C to stop.\n`
  )
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1)
    )
  }
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
}

void main()
