/**
 * Runs an `@effect/cli` command as a process: Node context, logs on stderr, colour only when
 * wanted (`NO_COLOR`), secrets scrubbed from everything printed, and every failure turned into
 * one or two plain lines on stderr and the exit code of the contract:
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success (also `--help`, `--version`, `--completions`) |
 * | 1 | unexpected failure: a bug, and the message says so |
 * | 2 | invalid input: flags, dates, config, or a flag that would carry a secret |
 * | 3 | authentication failed |
 * | 4 | not found |
 * | 5 | rate limited and the retry budget ran out |
 * | 6 | upstream or network failure after retries, or an undecodable response |
 * | 7 | a replay whose outcome is unknown |
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import type * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import * as TaskHistoryError from "@taskhistory/core/TaskHistoryError"
import {
  Cause,
  Config,
  Console,
  Data,
  Effect,
  Exit,
  FiberRef,
  HashSet,
  Logger,
  LogLevel,
  Option,
  Predicate,
  Redacted
} from "effect"
import * as Completions from "./Completions.js"
import * as FileMode from "./FileMode.js"
import * as Help from "./Help.js"
import * as Argv from "./internal/argv.js"
import * as Output from "./internal/output.js"
import * as Secrets from "./internal/secrets.js"

/**
 * An application-level failure with its own exit code and message (e.g. a sink that cannot be
 * written: 6; a missing `--yes`: 2). Library errors of the core need no wrapping.
 *
 * @since 0.1.0
 */
export class CliError extends Data.TaggedError("@taskhistory/app-kit/CliError")<{
  readonly exitCode: number
  readonly text: string
  /** The error it stands for, shown with `--verbose`. */
  readonly cause?: unknown
}> {
  override get message() {
    return this.text
  }
}

/**
 * `--verbose` and `--quiet`, for a command that reads them (`common.quiet`). Every command takes
 * them anyway, before or after the subcommand: {@link run} handles both (debug logs and the
 * full cause of a failure; only warnings and errors, no progress or notices).
 *
 * @since 0.1.0
 */
export const commonOptions = Options.all({
  verbose: Options.boolean("verbose").pipe(
    Options.withAlias("v"),
    Options.withDescription(Help.globalFlags[0]!.description)
  ),
  quiet: Options.boolean("quiet").pipe(
    Options.withAlias("q"),
    Options.withDescription(Help.globalFlags[1]!.description)
  )
})

const SECRET_FLAGS = /^--(?:api-?key|key|token|api-?token|secret|password|bearer)(?:=.*)?$/i

/**
 * Registers a secret read by a command (a password in a file it was given, say): it is scrubbed
 * from everything printed from then on, in every form it takes in transit.
 *
 * @since 0.2.0
 */
export const registerSecret = (value: string): void => Secrets.register(value)

/**
 * Registers what is secret in a URL read by a command (its password, and query parameters such
 * as `password`): scrubbed from everything printed, while the host and port stay printable.
 *
 * @since 0.2.0
 */
export const registerSecretUrl = (url: string): void => Secrets.registerUrl(url)

/**
 * The first flag of `args` that would carry a secret directly (`--api-key`, `--token`, ...),
 * if any. `--api-key-file` is fine. Arguments after `--` are not flags.
 *
 * @since 0.1.0
 */
export const findSecretFlag = (args: ReadonlyArray<string>): string | undefined => {
  for (const arg of args) {
    if (arg === "--") return undefined
    if (SECRET_FLAGS.test(arg)) return arg.split("=")[0]
  }
  return undefined
}

/**
 * The message printed for a refused secret flag.
 *
 * @since 0.1.0
 */
export const secretFlagMessage = (flag: string): string =>
  `${flag} is refused: a key on the command line leaks into shell history and process lists.\nPut the key in PARAGON_API_KEY, or in a file and pass --api-key-file PATH.`

const hasExitCode = (u: unknown): u is { readonly exitCode: number; readonly message: string } =>
  Predicate.hasProperty(u, "exitCode") &&
  typeof u.exitCode === "number" &&
  Predicate.hasProperty(u, "message")

const messageOf = (u: unknown): string =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" && u.message !== ""
    ? u.message
    : Predicate.hasProperty(u, "_tag") && typeof u._tag === "string"
      ? u._tag
      : String(u)

/**
 * What a failed run prints and exits with.
 *
 * @since 0.1.0
 */
export interface Failure {
  readonly exitCode: number
  /** Lines for stderr, already scrubbed; empty when `@effect/cli` printed the error itself. */
  readonly lines: ReadonlyArray<string>
}

/**
 * Maps the cause of a failed run to its exit code and message (see the table above).
 *
 * @since 0.1.0
 */
export const describeFailure = (cause: Cause.Cause<unknown>, verbose = false): Failure => {
  const failure = Cause.failureOption(cause)
  const detail = verbose
    ? [Secrets.scrub(Cause.pretty(cause)), ...causes(Option.getOrUndefined(failure)).map(Secrets.scrub)]
    : []
  if (Option.isSome(failure)) {
    const error = failure.value
    if (ValidationError.isValidationError(error)) {
      // @effect/cli already printed the problem (it names the flag and the value).
      return { exitCode: 2, lines: detail }
    }
    if (TaskHistoryError.isTaskHistoryError(error)) {
      return {
        exitCode: TaskHistoryError.exitCode(error),
        lines: [`error: ${Secrets.scrub(error.message)}`, ...detail]
      }
    }
    if (hasExitCode(error)) {
      return { exitCode: error.exitCode, lines: [`error: ${Secrets.scrub(error.message)}`, ...detail] }
    }
    return bug(messageOf(error), verbose, detail)
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    return bug(messageOf(defect.value), verbose, detail)
  }
  if (Cause.isInterruptedOnly(cause)) return { exitCode: 130, lines: ["interrupted"] }
  return bug("unknown failure", verbose, detail)
}

/** The `cause` chain of an error (`Cause.pretty` shows the error alone), a few levels deep. */
const causes = (error: unknown): Array<string> => {
  const out: Array<string> = []
  let next = Predicate.hasProperty(error, "cause") ? error.cause : undefined
  for (let depth = 0; next !== undefined && depth < 5; depth++) {
    out.push(`caused by: ${next instanceof Error ? (next.stack ?? next.message) : String(next)}`)
    next = Predicate.hasProperty(next, "cause") ? next.cause : undefined
  }
  return out
}

const bug = (message: string, verbose: boolean, detail: ReadonlyArray<string>): Failure => ({
  exitCode: 1,
  lines: [
    `error: unexpected failure (this is a bug, please report it): ${Secrets.scrub(message)}`,
    ...(verbose ? detail : ["run again with --verbose for the full cause"])
  ]
})

/**
 * How to run a command.
 *
 * @since 0.1.0
 */
export interface MainOptions {
  /** The binary's name, as shown in help. */
  readonly name: string
  readonly version: string
  /** The full argv (default `process.argv`: runtime and script first). */
  readonly argv?: ReadonlyArray<string> | undefined
}

/** The connection flags (ConnectionOptions) and filters (FilterOptions), shown apart in help. */
const helpGroups: Help.Groups = {
  "FILTER FLAGS": ExecutionQuery.fieldNames.map((f) => `--${ExecutionQuery.fields[f].flag}`),
  "CONNECTION FLAGS": [
    "--api-key-file",
    "--project-id",
    "--base-url",
    "--rate-limit",
    "--rate-limit-redis",
    "--max-retries",
    "--timeout",
    "--connect-timeout",
    "--wait"
  ]
}

/**
 * The help of the command at `path` (names after the root's), as `--help` prints it.
 *
 * @since 0.1.0
 */
export const helpText = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  path: ReadonlyArray<string> = []
): string | undefined => {
  const spec = Help.find(Help.spec(command), path)
  return spec === undefined ? undefined : Help.render(spec, helpGroups)
}

const logLevels: Record<Argv.LogLevelName, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/**
 * One line of `@effect/cli`'s own validation errors, in our voice: the flag named beside its bad
 * value (`'abc' is not a integer` becomes `invalid --limit "abc": expected an integer`).
 */
const validationText = (error: ValidationError.ValidationError, args: ReadonlyArray<string>): string => {
  const doc = "error" in error ? (error.error as HelpDoc.HelpDoc) : HelpDoc.empty
  const text = Output.stripAnsi(HelpDoc.toAnsiText(doc))
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^error:\s*/i, "")
  if (text === "") return error._tag
  const bad = /^'(.*)' is not an? (.+?)\.?$/.exec(text)
  if (bad !== null) {
    const [, value, type] = bad as unknown as [string, string, string]
    const expected = `${/^[aeiou]/i.test(type) ? "an" : "a"} ${type}`
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!
      const eq = arg.indexOf("=")
      const flag =
        arg.startsWith("--") && eq > 0 && arg.slice(eq + 1) === value
          ? arg.slice(0, eq)
          : arg.startsWith("-") && args[i + 1] === value
            ? arg
            : undefined
      if (flag !== undefined) return `invalid ${flag} ${JSON.stringify(value)}: expected ${expected}`
    }
  }
  return text.charAt(0).toLowerCase() + text.slice(1)
}

/**
 * Runs a command and returns the exit code instead of exiting (for tests and embedding). Prints
 * errors on stderr.
 *
 * Before `@effect/cli` parses the arguments, they are read against the command tree: `--help`
 * (`-h`), `-v/--verbose`, `-q/--quiet` and `--log-level LEVEL` are taken wherever they stand, before
 * or after the subcommand; `--version` and `--completions bash|zsh|fish` on the root; an unknown
 * flag or command is refused (exit 2) with the closest name at its level. Logs go to stderr, at
 * info by default, debug with `--verbose`, warning with `--quiet`, or the level given.
 *
 * @since 0.1.0
 */
export const run = <Name extends string, E, A>(
  command: Command.Command<Name, NodeContext.NodeContext, E, A>,
  options: MainOptions
): Effect.Effect<number, never, NodeContext.NodeContext> => {
  const argv = options.argv ?? process.argv
  const args = argv.slice(2)
  const tree = Help.spec(command)
  // Paths start at the binary's name (the root command may be named otherwise).
  const root = relabel({ ...tree, name: options.name }, [])
  const scan = Argv.scan(root, args)
  const level =
    scan.logLevel !== undefined
      ? logLevels[scan.logLevel]
      : scan.verbose
        ? LogLevel.Debug
        : scan.quiet
          ? LogLevel.Warning
          : LogLevel.Info
  const node = scan.path[scan.path.length - 1]!
  const usageFailure = (message: string) => Effect.as(Console.error(`error: ${Secrets.scrub(message)}`), 2)
  return Effect.gen(function* () {
    // Scrub the key from everything printed, from the start (before any command reads it).
    const apiKey = yield* Effect.orElseSucceed(TaskHistoryConfig.environment.apiKey, () => undefined)
    if (apiKey !== undefined) Secrets.register(Redacted.value(apiKey))
    // And the Postgres passwords: libpq's PGPASSWORD, and any given inside a postgres:// argument.
    const pgPassword = yield* Effect.orElseSucceed(Config.string("PGPASSWORD"), () => "")
    if (pgPassword !== "") Secrets.register(pgPassword)
    for (const arg of args) {
      const url = /^(?:--[\w-]+=)?(postgres(?:ql)?:\/\/.*)$/i.exec(arg)?.[1]
      if (url !== undefined) Secrets.registerUrl(url)
    }
    Output.setVerbose(scan.verbose)
    const secretFlag = findSecretFlag(args)
    if (secretFlag !== undefined) {
      return yield* Console.error(`error: ${secretFlagMessage(secretFlag)}`).pipe(Effect.as(2))
    }
    if (scan.help) {
      yield* Console.log(Help.render(node, helpGroups).trimEnd())
      return 0
    }
    if (scan.error !== undefined) return yield* usageFailure(scan.error)
    if (scan.version) {
      yield* Console.log(options.version)
      return 0
    }
    if (scan.completions !== undefined) {
      if (!Completions.isShell(scan.completions)) {
        return yield* usageFailure(
          `invalid --completions ${JSON.stringify(scan.completions)}: expected one of ${Completions.shells.join(", ")}`
        )
      }
      yield* Console.log(Completions.script(root, scan.completions).trimEnd())
      return 0
    }
    if (node.subcommands.length > 0 && scan.positionals === 0) {
      // A command that only groups others, run alone: its help.
      yield* Console.log(Help.render(node, helpGroups).trimEnd())
      return 0
    }
    const directive = yield* Descriptor.parse(
      command.descriptor,
      [tree.name, ...Argv.forCli(scan)],
      CliConfig.defaultConfig
    ).pipe(Effect.either)
    if (directive._tag === "Left") {
      const text = validationText(directive.left, scan.args)
      return yield* usageFailure(
        /^(?:missing|expected to find)/i.test(text) ? `${text}; run \`${node.path.join(" ")} --help\`` : text
      )
    }
    if (directive.right._tag !== "UserDefined") {
      yield* Console.log(Help.render(node, helpGroups).trimEnd())
      return 0
    }
    if (directive.right.leftover.length > 0) {
      return yield* usageFailure(`unexpected argument ${JSON.stringify(directive.right.leftover[0])}`)
    }
    const value = directive.right.value
    return yield* command.transform(command.handler(value), value).pipe(
      Effect.as(0),
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
        const failure = Cause.failureOption(cause)
        if (
          Option.isSome(failure) &&
          ValidationError.isValidationError(failure.value) &&
          ValidationError.isHelpRequested(failure.value)
        ) {
          return Effect.as(Console.log(Help.render(node, helpGroups).trimEnd()), 0)
        }
        if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) {
          return usageFailure(validationText(failure.value, scan.args))
        }
        const described = describeFailure(cause, scan.verbose)
        return Effect.as(
          Effect.forEach(described.lines, (line) => Console.error(line), { discard: true }),
          described.exitCode
        )
      })
    )
  }).pipe(
    Logger.withMinimumLogLevel(level),
    Effect.withConsole(Output.makeConsole()),
    // Our logger alone (a runtime's pretty logger would write to stdout): logfmt on stderr.
    Effect.locally(FiberRef.currentLoggers, HashSet.make(Logger.withConsoleError(Logger.logfmtLogger)))
  )
}

/** The tree with every path recomputed from its root's name. */
const relabel = (spec: Help.Spec, parents: ReadonlyArray<string>): Help.Spec => {
  const path = [...parents, spec.name]
  return { ...spec, path, subcommands: spec.subcommands.map((s) => relabel(s, path)) }
}

/**
 * Runs a command as the process: makes the files it creates private (`FileMode.privateByDefault`),
 * parses `process.argv`, provides the Node context, prints failures and exits with the
 * contract's code. Writing to a closed stdout (`| head`) ends the
 * process quietly with 0.
 *
 * @example
 * Main.runMain(command, { name: "taskhistory", version: "0.1.0" })
 *
 * @since 0.1.0
 */
export const runMain = <Name extends string, E, A>(
  command: Command.Command<Name, NodeContext.NodeContext, E, A>,
  options: MainOptions
): void => {
  // What a binary creates holds customer data: owner only, unless a command's --umask says otherwise.
  FileMode.privateByDefault()
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0)
  })
  NodeRuntime.runMain(run(command, options).pipe(Effect.provide(NodeContext.layer)), {
    disableErrorReporting: true,
    // Effect's pretty logger writes to stdout, beside `run`'s logger on stderr: logs would land
    // in the data (an ndjson stream). Logs go to stderr only.
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      exitWhenDrained(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 130, onExit)
    }
  })
}

/**
 * Calls `exit(code)` once everything written to stdout and stderr has gone out (at most 10 s, in
 * case nobody reads them): a runtime's teardown, so that no line is lost to `process.exit`
 * whatever the exit path. `runMain` does it; a binary with its own teardown calls it.
 *
 * @example
 * NodeRuntime.runMain(program, { teardown: (exit, onExit) => Main.exitWhenDrained(code(exit), onExit) })
 *
 * @since 0.1.0
 */
export const exitWhenDrained: (code: number, exit: (code: number) => void) => void = Output.exitWhenDrained
