// Every command the READMEs show (the root README, apps/cli and apps/exporter) run as written,
// from the repository root's binaries, against `pnpm exec taskhistory-simulator` started the way
// the root README says. A line is left out only when it needs something this machine does not have
// (a database host of the example, a schedule that never ends, npm's registry): see `notRun`.
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const bins = join(root, "node_modules", ".bin")

/** The shell lines of a README's sh code blocks (continuations joined, comments kept out). */
const shellLines = (file: string): Array<string> => {
  const lines: Array<string> = []
  let inBlock = false
  let pending = ""
  for (const line of readFileSync(join(root, file), "utf8").split("\n")) {
    if (/^```(sh|bash|console)\s*$/.test(line)) {
      inBlock = true
      continue
    }
    if (line.startsWith("```")) {
      inBlock = false
      continue
    }
    if (!inBlock) continue
    const text = pending + line.trim()
    if (text.endsWith("\\")) {
      pending = `${text.slice(0, -1).trimEnd()} `
      continue
    }
    pending = ""
    const command = text.replace(/\s+#.*$/, "").trim()
    if (command.length > 0 && !command.startsWith("#")) lines.push(command)
  }
  return lines
}

/** Commands of our binaries; the rest (`export`, `npm i -g`, `pnpm build`, `sqlite3`) is setup or not ours. */
const ours = /^(pnpm exec )?taskhistory(-exporter)?\s/

/** Lines not run here, and why. */
const notRun: ReadonlyArray<readonly [RegExp, string]> = [
  [/db\.internal/, "the example's Postgres host (the Postgres sink has its own tests)"],
  [/--every|--schedule/, "runs until stopped (the scheduler has its own tests)"],
  [/--alerts /, "needs the example's rules file and webhook hosts (alerts.test.ts runs these commands)"],
  [/--config /, "runs the streams of the example's file until stopped (config.test.ts runs --config)"],
  [
    /--completions \w+ >/,
    "installs into the user's shell configuration (manners.test.ts sources the scripts)"
  ]
]

const readmes = ["README.md", "apps/exporter/README.md", "apps/cli/README.md"] as const

const commands = readmes.flatMap((file) =>
  shellLines(file)
    .filter((line) => ours.test(line))
    .map((line) => ({ file, line, skip: notRun.find(([pattern]) => pattern.test(line))?.[1] }))
)

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const children = new Set<ChildProcess>()

const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }
): Promise<Result> =>
  new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c
    })
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, stdout, stderr })
    })
  })

let simulator: ChildProcess | undefined
let simEnv: Record<string, string> = {}
const work = mkdtempSync(join(tmpdir(), "taskhistory-readme-"))

const replaced: Record<string, string> = { "--port": "0", "--records": "2000", "--rate-limit": "100000/1s" }

/** Starts the simulator with the root README's line (other values, see `replaced`), from the repository root. */
const startSimulator = () =>
  new Promise<Record<string, string>>((resolve, reject) => {
    const line = shellLines("README.md").find((l) => l.startsWith("pnpm exec taskhistory-simulator"))
    if (line === undefined)
      return reject(new Error("README.md shows no `pnpm exec taskhistory-simulator` line"))
    const args = line
      .split(/\s+/)
      .slice(1)
      // A free port, a smaller dataset and no server-side limit, so the commands below take seconds.
      .map((arg, i, all) => replaced[all[i - 1] ?? ""] ?? arg)
    const child = spawn("pnpm", args, { cwd: root, env: process.env, stdio: ["ignore", "pipe", "pipe"] })
    simulator = child
    let out = ""
    let err = ""
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      err += c
    })
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c
      const vars = Object.fromEntries(
        [...out.matchAll(/^export (PARAGON_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const)
      )
      if (vars.PARAGON_API_KEY !== undefined) resolve(vars)
    })
    child.on("exit", (code) => reject(new Error(`the simulator exited with ${code}: ${err}`)))
  })

beforeAll(async () => {
  simEnv = await startSimulator()
}, 120_000)

afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
  simulator?.kill("SIGTERM")
  rmSync(work, { recursive: true, force: true })
})

describe("the READMEs' commands", () => {
  it("shows commands of both binaries, and starts the simulator with `pnpm exec` from the root", () => {
    expect(existsSync(join(bins, "taskhistory-simulator"))).toBe(true)
    expect(simEnv.PARAGON_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(commands.filter((c) => c.line.includes("taskhistory-exporter")).length).toBeGreaterThan(2)
    expect(
      commands.filter((c) => /taskhistory (executions|usage|report)/.test(c.line)).length
    ).toBeGreaterThan(8)
  })

  it("runs every one of them (exit 0) in a fresh directory, with the root's node_modules/.bin on PATH", async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...simEnv,
      PATH: `${bins}${delimiter}${process.env.PATH ?? ""}`,
      NO_COLOR: "1"
    }
    const exec = (line: string) => run("bash", ["-c", line], { cwd: work, env })
    // Real ids for the placeholders: a failed execution and one of its steps, from the API.
    const api = `${simEnv.PARAGON_BASE_URL}/projects/${simEnv.PARAGON_PROJECT_ID}/task-history/workflow-executions`
    const headers = { authorization: `Bearer ${simEnv.PARAGON_API_KEY}` }
    const page = (await (await fetch(`${api}?status=FAILED&limit=1`, { headers })).json()) as {
      workflowExecutions: Array<{ id: string }>
    }
    const executionId = page.workflowExecutions[0]!.id
    const execution = (await (await fetch(`${api}/${executionId}`, { headers })).json()) as {
      stepExecutions?: Array<{ id: string }>
    }
    const stepExecutionId = execution.stepExecutions?.[0]?.id ?? "none"

    // The export first: the lines reading `--source sqlite:./taskhistory.db` need its file.
    const ordered = [
      ...commands.filter((c) => c.line.includes("taskhistory-exporter")),
      ...commands.filter((c) => !c.line.includes("taskhistory-exporter"))
    ]
    const failures: Array<string> = []
    let ran = 0
    for (const { file, line, skip } of ordered) {
      if (skip !== undefined) continue
      const shell = line
        .replace(/^pnpm exec /, "")
        .replaceAll("<executionId>", executionId)
        .replaceAll("<stepExecutionId>", stepExecutionId)
      const result = await exec(shell)
      ran++
      if (result.code !== 0)
        failures.push(`${file}: \`${line}\` exited ${result.code}: ${result.stderr.trim()}`)
      expect(result.stderr).not.toContain(simEnv.PARAGON_API_KEY!)
    }
    expect(failures).toEqual([])
    expect(ran).toBeGreaterThan(10)
    expect(existsSync(join(work, "report.html"))).toBe(true)
    expect(existsSync(join(work, "taskhistory.db"))).toBe(true)
  }, 600_000)
})
