import { execFileSync } from "node:child_process"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { describe, expect, it } from "@effect/vitest"
import * as Completions from "@taskhistory/app-kit/Completions"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as Help from "@taskhistory/app-kit/Help"
import * as Main from "@taskhistory/app-kit/Main"
import { Effect } from "effect"
import * as Argv from "../src/internal/argv.js"

const list = Command.make(
  "list",
  {
    query: FilterOptions.options,
    connection: ConnectionOptions.options,
    format: Options.choice("format", ["table", "json"]).pipe(
      Options.withDescription("Output format."),
      Options.withDefault("table" as const)
    ),
    limit: Options.integer("limit").pipe(Options.withDescription("At most N."), Options.optional),
    output: Options.text("output").pipe(Options.withPseudoName("FILE.html"), Options.withAlias("o")),
    common: Main.commonOptions
  },
  () => Effect.void
).pipe(Command.withDescription(Help.text("List things: all of them.", ["demo things list --limit 3"])))

const get = Command.make(
  "get",
  { id: Args.text({ name: "id" }).pipe(Args.withDescription("The id.")) },
  () => Effect.void
).pipe(Command.withDescription(Help.text("Get one thing.", ["demo things get 42"])))

const things = Command.make("things").pipe(
  Command.withDescription(Help.text("Things.", ["demo things list"])),
  Command.withSubcommands([list, get])
)
const root = Command.make("demo").pipe(
  Command.withDescription(Help.text("The demo.", ["demo things"], ["A note."])),
  Command.withSubcommands([things])
)

const spec = Help.spec(root)

describe("Help.spec", () => {
  it("reads names, descriptions, examples, flags, choices and arguments from the commands", () => {
    expect(spec.name).toBe("demo")
    expect(spec.notes).toEqual(["A note."])
    const listSpec = Help.find(spec, ["things", "list"])!
    expect(listSpec.path).toEqual(["demo", "things", "list"])
    expect(listSpec.summary).toBe("List things.")
    expect(listSpec.examples).toEqual(["demo things list --limit 3"])
    const byName = new Map(listSpec.flags.map((f) => [f.name, f]))
    expect(byName.get("--format")).toMatchObject({ choices: ["table", "json"], required: false })
    expect(byName.get("--format")?.description).toBe("Output format. Default: table.")
    expect(byName.get("--status")?.choices).toEqual(["SUCCEEDED", "FAILED", "EXECUTING", "DELAYED"])
    expect(byName.get("--limit")).toMatchObject({ placeholder: "N", required: false })
    expect(byName.get("--output")).toMatchObject({ aliases: ["-o"], required: true, path: true })
    expect(byName.get("--verbose")?.aliases).toEqual(["-v"])
    expect(Help.find(spec, ["things", "get"])!.args).toEqual([
      { name: "id", description: "The id.", optional: false, variadic: false }
    ])
  })

  it("renders help for people: full path in USAGE, command list, groups, examples, < 100 columns", () => {
    const text = Main.helpText(root, ["things", "list"])!
    expect(text).toContain("USAGE\n  demo things list --output FILE.html [flags]")
    expect(text).toContain("CONNECTION FLAGS")
    expect(text).toContain("FILTER FLAGS")
    expect(text).toContain("EXAMPLES\n  $ demo things list --limit 3")
    expect(text).not.toMatch(/user-defined piece of text|This setting is optional|--wizard/)
    for (const line of text.split("\n")) expect(line.length).toBeLessThan(100)
    const parent = Main.helpText(root, ["things"])!
    expect(parent).toContain("COMMANDS\n  list  List things.\n  get   Get one thing.")
    expect(parent).toContain("demo things <command> [flags]")
  })

  it("the connection flags shown apart are exactly ConnectionOptions'", () => {
    const names = Help.spec(Command.make("x", { c: ConnectionOptions.options })).flags.map((f) => f.name)
    const text = Main.helpText(Command.make("x", { c: ConnectionOptions.options }))!
    const section = text.split("CONNECTION FLAGS\n")[1]!.split("\n\n")[0]!
    for (const name of names) expect(section).toContain(name)
  })
})

describe("the command line read against the tree", () => {
  const scan = (...args: Array<string>) => Argv.scan(spec, args)

  it("takes -v, -q and --log-level before or after the subcommand", () => {
    for (const args of [
      ["-v", "things", "list"],
      ["things", "-v", "list"],
      ["things", "list", "--verbose"]
    ]) {
      const r = scan(...args)
      expect(r.error).toBeUndefined()
      expect(r.verbose).toBe(true)
      expect(r.path.map((p) => p.name)).toEqual(["demo", "things", "list"])
      expect(Argv.forCli(r)).toEqual(["things", "list", "--verbose"])
    }
    expect(scan("--log-level", "debug", "things", "list").logLevel).toBe("debug")
    expect(scan("things", "list", "--log-level=ERROR").logLevel).toBe("error")
    expect(scan("things", "list", "--log-level", "loud").error).toMatch(/invalid --log-level "loud"/)
    expect(scan("-q", "-v", "things", "list").error).toBe("--verbose and --quiet cannot be used together")
    // Global flags stay out of a command that does not declare them.
    expect(Argv.forCli(scan("-q", "things", "get", "42"))).toEqual(["things", "get", "42"])
  })

  it("suggests the closest flag or command at its own level", () => {
    expect(scan("things", "list", "--stauts", "x").error).toBe(
      "unknown flag --stauts; did you mean --status?"
    )
    expect(scan("things", "lst").error).toBe("unknown command lst for demo things; did you mean list?")
    expect(scan("thing").error).toBe("unknown command thing for demo; did you mean things?")
    expect(scan("things", "list", "--zzzzzz").error).toBe(
      "unknown flag --zzzzzz; run `demo things list --help` for the flags"
    )
    // --status is a flag of list, not of the parent.
    expect(scan("things", "--status", "x", "list").error).toMatch(/^unknown flag --status/)
    expect(scan("--wizard").error).toMatch(/^unknown flag --wizard/)
    expect(scan("things", "get", "1", "2").error).toBe("too many arguments: demo things get takes <id>")
  })

  it("values are not read as commands or flags", () => {
    const r = scan("things", "list", "--integration", "get", "--workflow-id=-x", "-o", "r.html")
    expect(r.error).toBeUndefined()
    expect(r.path.at(-1)?.name).toBe("list")
    expect(r.positionals).toBe(0)
  })

  it("suggest is for typos only", () => {
    expect(Argv.suggest("--staus", ["--status", "--sort"])).toBe("--status")
    expect(Argv.suggest("--form", ["--format", "--status"])).toBe("--format")
    expect(Argv.suggest("--xyzzy", ["--status", "--sort"])).toBeUndefined()
  })
})

const hasBash = (() => {
  try {
    execFileSync("bash", ["--version"])
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!hasBash)("bash completion of the tree (real bash)", () => {
  it("completes subcommands, flags and choice values at every depth", () => {
    const script = Completions.script(spec, "bash")
    const complete = (words: ReadonlyArray<string>) =>
      execFileSync(
        "bash",
        [
          "-c",
          `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _demo; printf '%s\\n' "\${COMPREPLY[@]}"`
        ],
        { encoding: "utf8" }
      )
        .split("\n")
        .filter((l) => l !== "")
    expect(complete(["demo", ""])).toEqual(["things"])
    expect(complete(["demo", "things", ""])).toEqual(["list", "get"])
    expect(complete(["demo", "things", "list", "--fo"])).toEqual(["--format"])
    expect(complete(["demo", "-v", "things", "list", "--format", ""])).toEqual(["table", "json"])
    expect(complete(["demo", "things", "list", "--integration", "get", "--st"])).toEqual(["--status"])
  })
})
