/**
 * Help written for people, from the `@effect/cli` command definitions themselves: one plain
 * model of a command tree ({@link Spec}: names, one-line and full descriptions, examples, flags
 * with their placeholders and choices, arguments, subcommands) that the help text, the shell
 * completions and the "did you mean" suggestions are all made from, so they cannot disagree.
 *
 * A command's description is written with {@link text}: a paragraph, optional notes, and
 * examples (at least one on every command: the help snapshots check it).
 *
 * @since 0.1.0
 */
import type * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import { Option } from "effect"

/**
 * The widest line the help prints.
 *
 * @since 0.1.0
 */
export const WIDTH = 99

/**
 * A command's description: a paragraph, notes (more paragraphs) and example command lines.
 *
 * @example
 * Command.withDescription(Help.text("List executions.", ["taskhistory executions list --all"]))
 *
 * @since 0.1.0
 */
export const text = (
  description: string,
  examples: ReadonlyArray<string>,
  notes: ReadonlyArray<string> = []
): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.p(description),
    ...notes.map((n) => HelpDoc.p(n)),
    HelpDoc.h2("EXAMPLES"),
    ...examples.map((l) => HelpDoc.p(`  $ ${l}`))
  ])

/**
 * One flag of a command.
 *
 * @since 0.1.0
 */
export interface Flag {
  /** `--status`. */
  readonly name: string
  /** `-v`. */
  readonly aliases: ReadonlyArray<string>
  /** What follows the flag (`N`, `PATH`, `table|json`); none for a boolean flag. */
  readonly placeholder: string | undefined
  /** The values a completion offers. */
  readonly choices: ReadonlyArray<string>
  readonly description: string
  readonly required: boolean
  /** A file or directory path: completions offer file names. */
  readonly path: boolean
}

/**
 * One positional argument.
 *
 * @since 0.1.0
 */
export interface Arg {
  readonly name: string
  readonly description: string
  readonly optional: boolean
  readonly variadic: boolean
}

/**
 * A command of the tree.
 *
 * @since 0.1.0
 */
export interface Spec {
  readonly name: string
  /** From the root: `["taskhistory", "executions", "list"]`. */
  readonly path: ReadonlyArray<string>
  readonly summary: string
  readonly description: string
  readonly notes: ReadonlyArray<string>
  readonly examples: ReadonlyArray<string>
  readonly flags: ReadonlyArray<Flag>
  readonly args: ReadonlyArray<Arg>
  readonly subcommands: ReadonlyArray<Spec>
}

// The shapes of @effect/cli's descriptors, read structurally (their types are internal).
type Node = { readonly _tag: string } & Record<string, unknown>

const spanText = (span: unknown): string => {
  const s = span as Node
  switch (s._tag) {
    case "Sequence":
      return spanText(s.left) + spanText(s.right)
    case "Highlight":
      return spanText(s.value)
    default:
      return typeof s.value === "string" ? s.value : ""
  }
}

const blocksOf = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Sequence":
      return [...blocksOf(doc.left), ...blocksOf(doc.right)]
    default:
      return [doc]
  }
}

const docText = (doc: HelpDoc.HelpDoc): string =>
  blocksOf(doc)
    .map((b) => (b._tag === "Paragraph" || b._tag === "Header" ? spanText(b.value).trim() : ""))
    .filter((t) => t !== "")
    .join(" ")

const describe = (doc: HelpDoc.HelpDoc) => {
  const paragraphs: Array<string> = []
  const examples: Array<string> = []
  let inExamples = false
  for (const block of blocksOf(doc)) {
    if (block._tag === "Header") {
      inExamples = spanText(block.value).trim().toUpperCase() === "EXAMPLES"
      continue
    }
    if (block._tag !== "Paragraph") continue
    const t = spanText(block.value)
    if (inExamples) examples.push(t.trim().replace(/^\$\s*/, ""))
    else if (t.trim() !== "") paragraphs.push(t.trim())
  }
  const description = paragraphs[0] ?? ""
  return { description, notes: paragraphs.slice(1), examples, summary: firstSentence(description) }
}

/** The first sentence of a description: what the command list shows. */
const firstSentence = (description: string): string => {
  const m = /^(.*?)(?:[.!?:](?:\s|$)|$)/.exec(description)
  return `${(m?.[1] ?? description).trim()}.`
}

const PATHISH = /^(?:PATH|FILE|DIR)\b|\.(?:html|json|ya?ml|log|db)$/i

const placeholderOf = (single: Node): string | undefined => {
  const primitive = single.primitiveType as Node
  if (primitive._tag === "Bool") return undefined
  const pseudo = single.pseudoName as Option.Option<string>
  if (Option.isSome(pseudo)) return pseudo.value
  if (primitive._tag === "Choice") {
    return (primitive.alternatives as ReadonlyArray<readonly [string, unknown]>).map(([n]) => n).join("|")
  }
  switch (primitive._tag) {
    case "Integer":
      return "N"
    case "Float":
      return "NUMBER"
    case "DateTime":
      return "DATE"
    case "Path":
      return "PATH"
    default: {
      const name = String(single.name)
      return (name.split("-").pop() ?? name).toUpperCase()
    }
  }
}

const choicesOf = (single: Node, placeholder: string | undefined): Array<string> => {
  const primitive = single.primitiveType as Node
  if (primitive._tag === "Choice") {
    return (primitive.alternatives as ReadonlyArray<readonly [string, unknown]>).map(([n]) => n)
  }
  if (placeholder !== undefined && /^[\w.-]+(?:\|[\w.-]+)+$/.test(placeholder)) return placeholder.split("|")
  return []
}

const defaultText = (fallback: unknown): string | undefined =>
  typeof fallback === "string" && fallback !== ""
    ? fallback
    : typeof fallback === "number"
      ? String(fallback)
      : undefined

const flagsOf = (options: unknown, required = true, out: Array<Flag> = []): Array<Flag> => {
  const o = options as Node
  switch (o._tag) {
    case "Single": {
      const placeholder = placeholderOf(o)
      out.push({
        name: `--${String(o.name)}`,
        aliases: (o.aliases as ReadonlyArray<string>).map((a) => (a.length === 1 ? `-${a}` : `--${a}`)),
        placeholder,
        choices: choicesOf(o, placeholder),
        description: docText(o.description as HelpDoc.HelpDoc),
        required: required && placeholder !== undefined,
        path:
          (o.primitiveType as Node)._tag === "Path" ||
          (placeholder !== undefined && PATHISH.test(placeholder))
      })
      return out
    }
    case "KeyValueMap":
    case "Variadic":
      return flagsOf(o.argumentOption, required, out)
    case "Map":
      return flagsOf(o.options, required, out)
    case "WithFallback":
      return flagsOf(o.options, false, out)
    case "WithDefault": {
      const start = out.length
      flagsOf(o.options, false, out)
      const fallback = defaultText(o.fallback)
      if (fallback !== undefined && out.length === start + 1) {
        const flag = out[start]!
        if (!/\bdefault\b/i.test(flag.description)) {
          out[start] = { ...flag, description: `${flag.description} Default: ${fallback}.`.trim() }
        }
      }
      return out
    }
    case "Both":
      flagsOf(o.left, required, out)
      return flagsOf(o.right, required, out)
    case "OrElse":
      flagsOf(o.left, false, out)
      return flagsOf(o.right, false, out)
    default:
      return out
  }
}

const argsOf = (args: unknown, optional = false, variadic = false, out: Array<Arg> = []): Array<Arg> => {
  const a = args as Node
  switch (a._tag) {
    case "Single":
      out.push({
        name: String(a.name).replace(/^<(.*)>$/, "$1"),
        description: docText(a.description as HelpDoc.HelpDoc),
        optional,
        variadic
      })
      return out
    case "Map":
      return argsOf(a.args, optional, variadic, out)
    case "WithDefault":
    case "WithFallbackConfig":
      return argsOf(a.args, true, variadic, out)
    case "Variadic":
      return argsOf(a.args, optional, true, out)
    case "Both":
      argsOf(a.left, optional, variadic, out)
      return argsOf(a.right, optional, variadic, out)
    default:
      return out
  }
}

const specOf = (descriptor: unknown, parents: ReadonlyArray<string>): Spec => {
  const d = descriptor as Node
  switch (d._tag) {
    case "Map":
      return specOf(d.command, parents)
    case "Subcommands": {
      const parent = specOf(d.parent, parents)
      return {
        ...parent,
        subcommands: (d.children as ReadonlyArray<unknown>).map((c) => specOf(c, parent.path))
      }
    }
    default: {
      const name = String(d.name)
      const text = describe(d.description as HelpDoc.HelpDoc)
      return {
        name,
        path: [...parents, name],
        ...text,
        flags: d._tag === "Standard" ? flagsOf(d.options) : [],
        args: d._tag === "Standard" ? argsOf(d.args) : [],
        subcommands: []
      }
    }
  }
}

/**
 * The plain model of a command tree.
 *
 * @since 0.1.0
 */
export const spec = (
  command: Command.Command<string, never, unknown, unknown> | { readonly descriptor: unknown }
): Spec => specOf(command.descriptor, [])

/**
 * The flags every command of both binaries takes, before or after the subcommand (handled by
 * `Main.run`). `--version` and `--completions` are the root command's.
 *
 * @since 0.1.0
 */
export const globalFlags: ReadonlyArray<Flag> = [
  {
    name: "--verbose",
    aliases: ["-v"],
    placeholder: undefined,
    choices: [],
    description: "Debug logs on stderr (each request, each retry), and the full cause of a failure.",
    required: false,
    path: false
  },
  {
    name: "--quiet",
    aliases: ["-q"],
    placeholder: undefined,
    choices: [],
    description: "Only warnings and errors on stderr: no progress, no notices, no info logs.",
    required: false,
    path: false
  },
  {
    name: "--log-level",
    aliases: [],
    placeholder: "LEVEL",
    choices: ["trace", "debug", "info", "warning", "error", "none"],
    description:
      "Lowest level of the logs written to stderr: trace, debug, info, warning, error or none. Default: info (debug with -v, warning with -q).",
    required: false,
    path: false
  },
  {
    name: "--help",
    aliases: ["-h"],
    placeholder: undefined,
    choices: [],
    description: "Show this help.",
    required: false,
    path: false
  }
]

/**
 * The root command's own flags.
 *
 * @since 0.1.0
 */
export const rootFlags: ReadonlyArray<Flag> = [
  {
    name: "--version",
    aliases: [],
    placeholder: undefined,
    choices: [],
    description: "Print the version.",
    required: false,
    path: false
  },
  {
    name: "--completions",
    aliases: [],
    placeholder: "SHELL",
    choices: ["bash", "zsh", "fish"],
    description: "Print the shell completion script for bash, zsh or fish (see the README to install it).",
    required: false,
    path: false
  }
]

/**
 * Names of the flags shown under their own headings, by heading.
 *
 * @since 0.1.0
 */
export interface Groups {
  readonly [heading: string]: ReadonlyArray<string>
}

/**
 * Every flag `cmd` accepts: its own, then the global ones (and the root's at the root).
 *
 * @since 0.1.0
 */
export const accepted = (cmd: Spec): ReadonlyArray<Flag> => {
  const globalNames = new Set(globalFlags.map((f) => f.name))
  return [
    ...cmd.flags.filter((f) => !globalNames.has(f.name)),
    ...globalFlags,
    ...(cmd.path.length === 1 ? rootFlags : [])
  ]
}

/**
 * Finds a flag of `cmd` by name or alias (`--status`, `-v`).
 *
 * @since 0.1.0
 */
export const findFlag = (cmd: Spec, name: string): Flag | undefined =>
  accepted(cmd).find((f) => f.name === name || f.aliases.includes(name))

/** Words of `text` in lines at most `width` wide, each but the first indented by `indent`. */
const wrap = (text: string, width: number, indent: number, firstIndent = indent): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  let room = width - firstIndent
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (line.length + 1 + word.length <= room) line += ` ${word}`
    else {
      lines.push(line)
      line = word
      room = width - indent
    }
  }
  if (line !== "") lines.push(line)
  return lines.map((l, i) => (i === 0 ? " ".repeat(firstIndent) : " ".repeat(indent)) + l)
}

const paragraph = (text: string): Array<string> => wrap(text, WIDTH, 0)

/** Words of a command line, quoted parts kept whole. */
const shellWords = (line: string): Array<string> => line.match(/(?:'[^']*'|"[^"]*"|[^\s'"])+/g) ?? []

/**
 * An example command, cut over lines with `\` when it is too wide, so that it still runs as
 * pasted.
 */
const example = (line: string): Array<string> => {
  const out: Array<string> = []
  let current = "  $"
  for (const word of shellWords(line)) {
    if (current.trim() !== "$" && current.length + 1 + word.length + 2 > WIDTH) {
      out.push(`${current} \\`)
      current = `      ${word}`
    } else {
      current += ` ${word}`
    }
  }
  out.push(current)
  return out
}

const COLUMN = 30

const columnOf = (rows: ReadonlyArray<readonly [string, string]>): number =>
  Math.max(0, ...rows.map(([left]) => left.length).filter((n) => n <= COLUMN)) + 4

const table = (rows: ReadonlyArray<readonly [string, string]>, column = columnOf(rows)): Array<string> => {
  const out: Array<string> = []
  for (const [left, right] of rows) {
    if (right === "") {
      out.push(`  ${left}`)
    } else if (left.length <= COLUMN) {
      const body = wrap(right, WIDTH, column, column)
      out.push(`  ${left.padEnd(column - 2)}${body[0]!.trimStart()}`, ...body.slice(1))
    } else {
      out.push(`  ${left}`, ...wrap(right, WIDTH, column))
    }
  }
  return out
}

const flagLeft = (flag: Flag): string => {
  const short = flag.aliases.find((a) => a.length === 2)
  const name = `${short === undefined ? "    " : `${short}, `}${flag.name}`
  return flag.placeholder === undefined ? name : `${name} ${flag.placeholder}`
}

const flagRows = (flags: ReadonlyArray<Flag>) =>
  flags.map((f) => [flagLeft(f), f.required ? `${f.description} (required)`.trim() : f.description] as const)

const argUsage = (arg: Arg) => {
  const name = `<${arg.name}>${arg.variadic ? "..." : ""}`
  return arg.optional ? `[${name}]` : name
}

const descendants = (cmd: Spec, prefix: ReadonlyArray<string> = []): Array<readonly [string, string]> =>
  cmd.subcommands.flatMap((sub) => [
    [[...prefix, sub.name].join(" "), sub.summary] as const,
    ...descendants(sub, [...prefix, sub.name])
  ])

/**
 * The help of one command of the tree: description, USAGE with the full command path, the
 * commands under it with one line each, arguments, flags (grouped), examples; every line under
 * {@link WIDTH} columns.
 *
 * @since 0.1.0
 */
export const render = (cmd: Spec, groups: Groups = {}): string => {
  const out: Array<string> = []
  const section = (heading: string, lines: ReadonlyArray<string>) => {
    if (lines.length === 0) return
    out.push("", heading, ...lines)
  }
  out.push(...paragraph(cmd.description))
  for (const note of cmd.notes) out.push("", ...paragraph(note))
  const full = cmd.path.join(" ")
  const usage: Array<string> = []
  if (cmd.subcommands.length > 0) usage.push(`${full} <command> [flags]`)
  if (cmd.subcommands.length === 0 || cmd.flags.length > 0 || cmd.args.length > 0) {
    const required = cmd.flags.filter((f) => f.required).map((f) => `${f.name} ${f.placeholder ?? ""}`.trim())
    const line = [full, ...cmd.args.map(argUsage), ...required, "[flags]"].join(" ")
    if (cmd.subcommands.length === 0) usage.push(line)
  }
  section(
    "USAGE",
    usage.flatMap((u) => wrap(u, WIDTH, 4, 2))
  )
  section("COMMANDS", table(descendants(cmd)))
  section("ARGUMENTS", table(cmd.args.map((a) => [argUsage(a), a.description] as const)))
  const own = accepted(cmd).filter((f) => cmd.flags.includes(f))
  const grouped = new Set(Object.values(groups).flat())
  const sections: Array<readonly [string, ReadonlyArray<Flag>]> = [
    ["FLAGS", own.filter((f) => !grouped.has(f.name))],
    ...Object.entries(groups).map(
      ([heading, names]) => [heading, own.filter((f) => names.includes(f.name))] as const
    ),
    ["GLOBAL FLAGS", [...globalFlags, ...(cmd.path.length === 1 ? rootFlags : [])]]
  ]
  // One column for every flag of the page.
  const column = columnOf(sections.flatMap(([, flags]) => flagRows(flags)))
  for (const [heading, flags] of sections) section(heading, table(flagRows(flags), column))
  section(
    "EXAMPLES",
    cmd.examples.flatMap((e) => example(e))
  )
  if (cmd.subcommands.length > 0) {
    section("LEARN MORE", wrap(`Run \`${full} <command> --help\` for the flags of a command.`, WIDTH, 2, 2))
  }
  return `${out.join("\n")}\n`
}

/**
 * Finds the command at `path` (names after the root's), if any.
 *
 * @since 0.1.0
 */
export const find = (root: Spec, path: ReadonlyArray<string>): Spec | undefined => {
  let node: Spec | undefined = root
  for (const name of path) {
    node = node?.subcommands.find((s) => s.name === name)
  }
  return node
}
