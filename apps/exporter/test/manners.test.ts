/**
 * Command-line manners of the BUILT `taskhistory-exporter` (dist/bin.js): the help of every
 * command (snapshots in test/__snapshots__/help/: after changing a command's help, review the
 * diff and update them with `pnpm --filter @taskhistory/exporter exec vitest run
 * test/manners.test.ts -u`), bash completion in a real bash, the verbosity flags and the errors.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { runBin, simEnv, tempDir } from "./utils/harness.js"

const here = dirname(fileURLToPath(import.meta.url))

let sim: RunningSimulator
const dir = tempDir()

beforeAll(async () => {
  sim = await startSimulator({ records: 60, seed: 9 })
})

afterAll(async () => {
  await sim?.close()
  dir.remove()
})

const commandsOf = (rootHelp: string): Array<string> => {
  const section = rootHelp.split("\nCOMMANDS\n")[1]?.split("\n\n")[0] ?? ""
  return section
    .split("\n")
    .map((line) => /^ {2}(\S+(?: \S+)*?)\s{2,}/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)
}

describe("help", () => {
  it("every command: description, full path in USAGE, an example, no filler, < 100 columns", async () => {
    const root = await runBin(["--help"], {})
    expect(root.code).toBe(0)
    const commands = commandsOf(root.stdout)
    expect(commands).toEqual(expect.arrayContaining(["run", "status"]))
    for (const path of [[], ...commands.map((c) => c.split(" "))]) {
      const name = ["taskhistory-exporter", ...path].join(" ")
      const result = path.length === 0 ? root : await runBin([...path, "--help"], {})
      expect(result.code, name).toBe(0)
      const text = result.stdout
      expect(text, name).toContain(`USAGE\n  ${name} `)
      const examples = text.split("\nEXAMPLES\n")[1]?.split("\n\n")[0] ?? ""
      expect(examples, name).toMatch(/^ {2}\$ taskhistory-exporter /m)
      expect(text, name).not.toMatch(
        /user-defined piece of text|This setting is optional|A true or false value|One of the following|--wizard/
      )
      for (const line of text.split("\n")) expect(line.length, `${name}: ${line}`).toBeLessThan(100)
      await expect(text).toMatchFileSnapshot(
        join(here, "__snapshots__", "help", `${["taskhistory-exporter", ...path].join("-")}.txt`)
      )
    }
  })
})

describe("verbosity and errors", () => {
  it("--log-level, -v and -q before or after the subcommand; logs on stderr only", async () => {
    const sink = (name: string) => `sqlite:${join(dir.path, `${name}.db`)}`
    const after = await runBin(["run", "--once", "--sink", sink("a"), "--log-level", "debug"], simEnv(sim))
    expect(after.code, after.stderr).toBe(0)
    expect(after.stderr).toContain("level=DEBUG")
    expect(after.stdout).toBe("")
    const before = await runBin(["-v", "run", "--once", "--sink", sink("b")], simEnv(sim))
    expect(before.code, before.stderr).toBe(0)
    expect(before.stderr).toContain("level=DEBUG")
    const quiet = await runBin(["run", "--once", "--sink", sink("c"), "-q"], simEnv(sim))
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).not.toContain("level=INFO")
    const warning = await runBin(
      ["--log-level", "warning", "run", "--once", "--sink", sink("c")],
      simEnv(sim)
    )
    expect(warning.code, warning.stderr).toBe(0)
    expect(warning.stderr).toBe("")
    const status = await runBin(["status", "--sink", sink("c"), "--verbose"], simEnv(sim))
    expect(status.code, status.stderr).toBe(0)
  })

  it("unknown flags and commands: error: with a suggestion, exit 2", async () => {
    const flag = await runBin(["run", "--sinkk", "sqlite:x.db"], {})
    expect(flag.code).toBe(2)
    expect(flag.stderr.trim()).toBe("error: unknown flag --sinkk; did you mean --sink?")
    const command = await runBin(["statsu"], {})
    expect(command.code).toBe(2)
    expect(command.stderr.trim()).toBe(
      "error: unknown command statsu for taskhistory-exporter; did you mean status?"
    )
    const value = await runBin(["run", "--batch-size", "many"], {})
    expect(value.code).toBe(2)
    expect(value.stderr.trim()).toBe('error: invalid --batch-size "many": expected an integer')
  })
})

describe("completions", () => {
  it("bash: subcommands, flags and choice values (a real bash)", async () => {
    const r = await runBin(["--completions", "bash"], {})
    expect(r.code).toBe(0)
    const path = join(dir.path, "completion.bash")
    writeFileSync(path, r.stdout)
    const complete = (words: ReadonlyArray<string>) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _taskhistory_exporter; printf '%s\\n' "\${COMPREPLY[@]}"`,
          "complete",
          path,
          ...words
        ],
        { encoding: "utf8" }
      )
        .split("\n")
        .filter((l) => l !== "")
    expect(complete(["taskhistory-exporter", ""])).toEqual(expect.arrayContaining(["run", "status"]))
    expect(complete(["taskhistory-exporter", "run", "--on-"])).toEqual(["--on-invalid"])
    expect(complete(["taskhistory-exporter", "run", "--on-invalid", ""])).toEqual(["quarantine", "fail"])
    expect(complete(["taskhistory-exporter", "-q", "status", "--format", ""])).toEqual(
      expect.arrayContaining(["table", "json"])
    )
    expect(complete(["taskhistory-exporter", "run", "--log-level", ""])).toEqual([
      "trace",
      "debug",
      "info",
      "warning",
      "error",
      "none"
    ])
  })
})
