/**
 * Command-line manners of the BUILT `taskhistory` (dist/bin.js): the help of every command
 * (snapshots in test/__snapshots__/help/: after changing a command's help, review the diff and
 * update them with `pnpm --filter @taskhistory/cli exec vitest run test/manners.test.ts -u`),
 * shell completions sourced in real shells, the verbosity flags and the errors.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { cleanEnv, run as runBin, simEnv } from "./utils/bin.js"

const here = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "taskhistory-manners-"))

let sim: RunningSimulator

/** Runs the binary with NO_COLOR, and pointed at the simulator when `withSim`. */
const run = (args: ReadonlyArray<string>, withSim = false) =>
  runBin(args, withSim ? simEnv(sim, { NO_COLOR: "1" }) : cleanEnv({ NO_COLOR: "1" }), { timeoutMs: 60_000 })

const has = (shell: string) => {
  try {
    execFileSync(shell, ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

beforeAll(async () => {
  sim = await startSimulator({ records: 120, seed: 5 })
})

afterAll(async () => {
  await sim?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The commands listed by the root help (so a new command gets its snapshot). */
const commandsOf = (rootHelp: string): Array<string> => {
  const section = rootHelp.split("\nCOMMANDS\n")[1]?.split("\n\n")[0] ?? ""
  return section
    .split("\n")
    .map((line) => /^ {2}(\S+(?: \S+)*?)\s{2,}/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)
}

describe("help", () => {
  it("every command: description, full path in USAGE, an example, no filler, < 100 columns", async () => {
    const root = await run(["--help"])
    expect(root.code).toBe(0)
    const commands = commandsOf(root.stdout)
    expect(commands).toEqual(expect.arrayContaining(["executions", "executions list", "usage", "report"]))
    const helps = await Promise.all(
      [[], ...commands.map((c) => c.split(" "))].map(async (path) => ({
        path,
        result: await run([...path, "--help"])
      }))
    )
    for (const { path, result } of helps) {
      const name = ["taskhistory", ...path].join(" ")
      expect(result.code, name).toBe(0)
      expect(result.stderr, name).toBe("")
      const text = result.stdout
      expect(text.split("\n")[0]!.length, name).toBeGreaterThan(10)
      expect(text, name).toContain(`USAGE\n  ${name} `)
      const examples = text.split("\nEXAMPLES\n")[1]?.split("\n\n")[0] ?? ""
      expect(examples, name).toMatch(/^ {2}\$ taskhistory /m)
      expect(text, name).not.toMatch(
        /user-defined piece of text|This setting is optional|A true or false value|One of the following|--wizard/
      )
      for (const line of text.split("\n")) expect(line.length, `${name}: ${line}`).toBeLessThan(100)
      await expect(text).toMatchFileSnapshot(
        join(here, "__snapshots__", "help", `${["taskhistory", ...path].join("-")}.txt`)
      )
    }
    // The same help with -h, anywhere on the line; a parent alone prints its help.
    const [short, late, parent] = await Promise.all([
      run(["executions", "list", "-h"]),
      run(["executions", "list", "--status", "failed", "--help"]),
      run(["executions"])
    ])
    const list = helps.find((h) => h.path.join(" ") === "executions list")!.result.stdout
    expect(short.stdout).toBe(list)
    expect(late.stdout).toBe(list)
    expect(parent.stdout).toBe(helps.find((h) => h.path.join(" ") === "executions")!.result.stdout)
  })

  it("--wizard is not offered and not accepted", async () => {
    const r = await run(["--wizard"])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: unknown flag --wizard/)
  })
})

describe("errors", () => {
  it("start with error:, name our flag and suggest the closest name at its level", async () => {
    const [flag, command, top, value, missing, api, level] = await Promise.all([
      run(["executions", "list", "--stauts", "failed"]),
      run(["executions", "lst"]),
      run(["execution", "list"]),
      run(["executions", "list", "--limit", "lots"]),
      run(["executions", "get"]),
      run(["executions", "list", "--after", "2023-03-01", "--before", "2023-02-01"], true),
      run(["executions", "list", "--log-level", "loud"])
    ])
    for (const r of [flag, command, top, value, missing, api, level]) {
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^error: /)
      expect(r.stdout).toBe("")
    }
    expect(flag.stderr.trim()).toBe("error: unknown flag --stauts; did you mean --status?")
    expect(command.stderr.trim()).toBe(
      "error: unknown command lst for taskhistory executions; did you mean list?"
    )
    expect(top.stderr).toContain("did you mean executions?")
    expect(value.stderr.trim()).toBe('error: invalid --limit "lots": expected an integer')
    expect(missing.stderr).toContain("<executionId>")
    expect(api.stderr).toContain("--before")
    expect(api.stderr).toContain("--after")
    expect(api.stderr).not.toMatch(/afterDate|beforeDate/)
    expect(level.stderr).toContain('--log-level "loud"')
  })
})

describe("verbosity", () => {
  it("logs go to stderr only; -v, -q and --log-level work before or after the subcommand", async () => {
    const [debugAfter, debugBefore, verbose, quietBefore, both] = await Promise.all([
      run(["executions", "list", "--limit", "3", "--format", "ndjson", "--log-level", "debug"], true),
      run(["--log-level=debug", "executions", "list", "--limit", "3", "--format", "ndjson"], true),
      run(["-v", "executions", "list", "--limit", "3", "--format", "ndjson"], true),
      run(["-q", "executions", "list", "--format", "ndjson"], true),
      run(["-v", "executions", "list", "-q"], true)
    ])
    for (const r of [debugAfter, debugBefore, verbose]) {
      expect(r.code, r.stderr).toBe(0)
      const lines = r.stdout.split("\n").filter((l) => l !== "")
      expect(lines).toHaveLength(3)
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
      expect(r.stderr).toContain("level=DEBUG")
      expect(r.stderr).not.toContain(sim.apiKey)
    }
    // -q: no notice ("showing the first 100 of 120 ...").
    expect(quietBefore.code).toBe(0)
    expect(quietBefore.stdout.split("\n").filter((l) => l !== "")).toHaveLength(100)
    expect(quietBefore.stderr).toBe("")
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("--verbose and --quiet")
  })
})

const script = async (shell: string) => {
  const r = await run(["--completions", shell])
  expect(r.code).toBe(0)
  const path = join(dir, `completion.${shell}`)
  writeFileSync(path, r.stdout)
  return path
}

describe("completions", () => {
  it("bash: subcommands, flags and choice values at every depth (a real bash)", async () => {
    const path = await script("bash")
    const complete = (words: ReadonlyArray<string>) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _taskhistory; printf '%s\\n' "\${COMPREPLY[@]}"`,
          "complete",
          path,
          ...words
        ],
        { encoding: "utf8" }
      )
        .split("\n")
        .filter((l) => l !== "")
    expect(complete(["taskhistory", ""])).toEqual(["executions", "usage", "report"])
    expect(complete(["taskhistory", "ex"])).toEqual(["executions"])
    expect(complete(["taskhistory", "executions", ""])).toEqual(["list", "count", "get", "step", "replay"])
    expect(complete(["taskhistory", "executions", "list", "--st"])).toEqual(["--status"])
    expect(complete(["taskhistory", "executions", "list", "--format", ""])).toEqual([
      "table",
      "json",
      "ndjson",
      "csv"
    ])
    expect(complete(["taskhistory", "executions", "list", "--format", "=", "n"])).toEqual(["ndjson"])
    expect(complete(["taskhistory", "-v", "executions", "list", "--status", ""])).toEqual([
      "SUCCEEDED",
      "FAILED",
      "EXECUTING",
      "DELAYED"
    ])
    expect(complete(["taskhistory", "usage", "--by", ""])).toEqual([
      "integration",
      "workflow",
      "user",
      "status",
      "day",
      "error"
    ])
    expect(complete(["taskhistory", "--log-level", "debug", "usage", "--by", "w"])).toEqual(["workflow"])
    expect(complete(["taskhistory", "--completions", ""])).toEqual(["bash", "zsh", "fish"])
    // A flag's value is not taken for a command.
    expect(complete(["taskhistory", "executions", "list", "--integration", "usage", "--li"])).toEqual([
      "--limit"
    ])
  })

  it.skipIf(!has("zsh"))("zsh: the script parses, and its driver offers the same candidates", async () => {
    const path = await script("zsh")
    execFileSync("zsh", ["-n", path])
    const out = execFileSync(
      "zsh",
      [
        "-c",
        `compdef() { :; }; compadd() { [[ "$1" == "--" ]] && shift; print -l -- "$@"; }; source "$1"; shift; words=("$@"); CURRENT=$#; _taskhistory`,
        "complete",
        path,
        "taskhistory",
        "usage",
        "--by",
        ""
      ],
      { encoding: "utf8" }
    )
    expect(out.split("\n").filter((l) => l !== "")).toEqual([
      "integration",
      "workflow",
      "user",
      "status",
      "day",
      "error"
    ])
  })

  it.skipIf(!has("fish"))("fish: the script parses and completes at every depth", async () => {
    const path = await script("fish")
    execFileSync("fish", ["-n", path])
    const complete = (line: string) =>
      execFileSync("fish", ["-c", `source $argv[1]; complete -C $argv[2]`, path, line], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split("\t")[0])
    expect(complete("taskhistory executions list --st")).toEqual(["--status"])
    expect(complete("taskhistory executions list --format ").sort()).toEqual([
      "csv",
      "json",
      "ndjson",
      "table"
    ])
    expect(complete("taskhistory -v executions ").sort()).toEqual(["count", "get", "list", "replay", "step"])
  })

  it("says when zsh or fish are not there to check their scripts", () => {
    for (const shell of ["zsh", "fish"]) {
      if (!has(shell)) console.warn(`${shell} is not installed: its completion script was not checked`)
    }
  })
})
