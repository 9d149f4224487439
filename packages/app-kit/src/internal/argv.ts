/**
 * The command line read once against the command tree before `@effect/cli` parses it: the
 * global flags (`-v`, `-q`, `--log-level`, `--help`, `--version`, `--completions`) taken out
 * wherever they stand, the command path found, and unknown flags and commands refused with a
 * suggestion at their own level ("unknown flag --stauts; did you mean --status?").
 *
 * @internal
 */
import * as Help from "../Help.js"

/** @internal */
export const LOG_LEVELS = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"] as const

/** @internal */
export type LogLevelName = (typeof LOG_LEVELS)[number]

/** What the command line asks for. @internal */
export interface Scan {
  /** The commands from the root to the one named (root first). */
  readonly path: ReadonlyArray<Help.Spec>
  /** The arguments for `@effect/cli`, without the global flags (root name not included). */
  readonly args: ReadonlyArray<string>
  readonly verbose: boolean
  readonly quiet: boolean
  readonly logLevel: LogLevelName | undefined
  readonly help: boolean
  readonly version: boolean
  readonly completions: string | undefined
  /** Positional words given to the last command of `path`. */
  readonly positionals: number
  /** The first problem found: an unknown flag or command, a missing value. */
  readonly error: string | undefined
}

/** Levenshtein distance. */
const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

/** The closest of `candidates` to `word`, when close enough to be a typo. @internal */
export const suggest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  const w = word.toLowerCase()
  for (const c of candidates) {
    const d = c.startsWith(w) && w.replace(/^-+/, "").length >= 2 ? 0.5 : distance(w, c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  const bare = w.replace(/^-+/, "")
  return bestDistance <= Math.max(1, Math.min(3, Math.floor(bare.length / 3))) ? best : undefined
}

const helpHint = (node: Help.Spec) =>
  `run \`${node.path.join(" ")} --help\` for the ${node.subcommands.length > 0 ? "commands" : "flags"}`

/** `; did you mean X?`, or where to find the names. */
const didYouMean = (word: string, candidates: ReadonlyArray<string>, node: Help.Spec) => {
  const s = suggest(word, candidates)
  return s === undefined ? `; ${helpHint(node)}` : `; did you mean ${s}?`
}

/** Reads `args` (argv without runtime and script) against the tree under `root`. @internal */
export const scan = (root: Help.Spec, args: ReadonlyArray<string>): Scan => {
  const path: Array<Help.Spec> = [root]
  const out: Array<string> = []
  let verbose = false
  let quiet = false
  let logLevel: LogLevelName | undefined
  let help = false
  let version = false
  let completions: string | undefined
  let positionals = 0
  let error: string | undefined
  const fail = (message: string) => {
    if (error === undefined) error = message
  }
  const node = () => path[path.length - 1]!
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      out.push(...args.slice(i))
      positionals += args.length - i - 1
      break
    }
    if (arg.startsWith("-") && arg !== "-") {
      const eq = arg.indexOf("=")
      const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg
      const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined
      const value = (): string | undefined => {
        if (inline !== undefined) return inline
        const next = args[i + 1]
        if (next === undefined) {
          fail(`${name} needs a value`)
          return undefined
        }
        i++
        return next
      }
      switch (name) {
        case "-v":
        case "--verbose":
          verbose = true
          continue
        case "-q":
        case "--quiet":
          quiet = true
          continue
        case "-h":
        case "--help":
          help = true
          continue
        case "--log-level": {
          const level = value()
          if (level === undefined) continue
          const found = LOG_LEVELS.find((l) => l === level.toLowerCase())
          if (found === undefined) {
            fail(`invalid --log-level ${JSON.stringify(level)}: expected one of ${LOG_LEVELS.join(", ")}`)
          } else {
            logLevel = found
          }
          continue
        }
      }
      if (path.length === 1 && name === "--version") {
        version = true
        continue
      }
      if (path.length === 1 && name === "--completions") {
        completions = value() ?? ""
        continue
      }
      const flag = node().flags.find((f) => f.name === name || f.aliases.includes(name))
      if (flag === undefined) {
        const candidates = Help.accepted(node()).flatMap((f) => [
          f.name,
          ...f.aliases.filter((a) => a.startsWith("--"))
        ])
        fail(`unknown flag ${name}${didYouMean(name, candidates, node())}`)
        continue
      }
      out.push(arg)
      if (flag.placeholder !== undefined && inline === undefined) {
        const next = args[i + 1]
        if (next === undefined) fail(`${name} needs a value (${flag.placeholder})`)
        else {
          out.push(next)
          i++
        }
      }
      continue
    }
    const current = node()
    if (current.subcommands.length > 0 && positionals === 0) {
      const sub = current.subcommands.find((s) => s.name === arg)
      if (sub === undefined) {
        fail(
          `unknown command ${arg} for ${current.path.join(" ")}${didYouMean(
            arg,
            current.subcommands.map((s) => s.name),
            current
          )}`
        )
        // Nothing below an unknown command can be checked.
        out.push(...args.slice(i))
        break
      }
      path.push(sub)
      out.push(arg)
      continue
    }
    positionals++
    out.push(arg)
  }
  if (error === undefined && verbose && quiet) error = "--verbose and --quiet cannot be used together"
  const last = node()
  if (error === undefined && positionals > last.args.length && !last.args.some((a) => a.variadic)) {
    error =
      last.args.length === 0
        ? `${last.path.join(" ")} takes no arguments; ${helpHint(last)}`
        : `too many arguments: ${last.path.join(" ")} takes ${last.args.map((a) => `<${a.name}>`).join(" ")}`
  }
  return { path, args: out, verbose, quiet, logLevel, help, version, completions, positionals, error }
}

/**
 * `args` for `@effect/cli`: the command line without the global flags, with `--verbose` and
 * `--quiet` put back at the end of the command's own arguments (before `--`) when the command
 * declares them. @internal
 */
export const forCli = (result: Scan): ReadonlyArray<string> => {
  const last = result.path[result.path.length - 1]!
  const extra: Array<string> = []
  if (result.verbose && last.flags.some((f) => f.name === "--verbose")) extra.push("--verbose")
  if (result.quiet && last.flags.some((f) => f.name === "--quiet")) extra.push("--quiet")
  const end = result.args.indexOf("--")
  return end < 0
    ? [...result.args, ...extra]
    : [...result.args.slice(0, end), ...extra, ...result.args.slice(end)]
}
