/**
 * Terminal plumbing: colour decisions, an Effect Console that strips ANSI escapes when colour is
 * off and scrubs secrets from everything it prints, and the drain that makes sure all of it
 * reached the terminal or the pipe before the process exits.
 *
 * What goes to stderr through the Console (errors, logs, notices) is text a server may control
 * (an error body, an id): every control character but line feed and tab is written as a visible
 * escape (`\x1b`), always, so no escape sequence reaches the terminal; our own colour (SGR
 * sequences) survives when colour is on. A message longer than {@link MAX_MESSAGE} characters is
 * cut on purpose, with a note saying how much was left out.
 *
 * Writes are asynchronous on pipes: `process.exit` drops what is still queued (a 64 KB pipe
 * buffer's worth). {@link exitWhenDrained} waits until stdout and stderr have taken every byte
 * written before it, bounded by {@link DRAIN_TIMEOUT_MS} in case nobody reads the other end.
 *
 * @internal
 */
import { Console as NodeConsole } from "node:console"
import { Writable } from "node:stream"
import { escapeControls } from "@taskhistory/core/TaskHistoryError"
import { Console, Effect } from "effect"
import * as Secrets from "./secrets.js"

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences on purpose
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g

// biome-ignore lint/suspicious/noControlCharactersInRegex: our own colour: SGR sequences only
const SGR = /\u001b\[[0-9;]*m/g

/** The longest message written to stderr in one piece; longer ones are cut with a note. @internal */
export const MAX_MESSAGE = 64 * 1024

/** How long the exit waits for stdout and stderr to take what was written. @internal */
export const DRAIN_TIMEOUT_MS = 10_000

/** @internal */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

/** @internal */
export const colorEnabled = (stream: NodeJS.WriteStream): boolean => {
  const noColor = process.env.NO_COLOR
  if (noColor !== undefined && noColor !== "") return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0") return true
  return stream.isTTY === true
}

/**
 * Text for stderr: control characters escaped (but line feed, tab and, with `color`, our SGR
 * sequences), cut at {@link MAX_MESSAGE} with a note. @internal
 */
export const safeForStderr = (text: string, color: boolean): string => {
  let safe: string
  if (color) {
    // Escape everything between the SGR sequences, keep the sequences themselves.
    safe = ""
    let last = 0
    for (const m of text.matchAll(SGR)) {
      safe += escapeControls(text.slice(last, m.index), true) + m[0]
      last = m.index + m[0].length
    }
    safe += escapeControls(text.slice(last), true)
  } else {
    safe = escapeControls(stripAnsi(text), true)
  }
  const newline = safe.endsWith("\n") ? "\n" : ""
  const body = newline === "" ? safe : safe.slice(0, -1)
  if (body.length <= MAX_MESSAGE) return safe
  return `${body.slice(0, MAX_MESSAGE)}… [${body.length - MAX_MESSAGE} more characters not shown]${newline}`
}

const filtered = (target: NodeJS.WriteStream, clean: (text: string) => string): Writable =>
  new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      const text = typeof chunk === "string" ? chunk : chunk.toString("utf8")
      target.write(clean(text), (error) => callback(error ?? null))
    }
  })

const streams: Array<Writable> = []

/**
 * An Effect Console over a Node console whose streams strip colour when it is off and scrub
 * secrets; stderr is also made safe ({@link safeForStderr}).
 *
 * @internal
 */
export const makeConsole = (): Console.Console => {
  const stdout = filtered(process.stdout, (text) =>
    Secrets.scrub(colorEnabled(process.stdout) ? text : stripAnsi(text))
  )
  const stderr = filtered(process.stderr, (text) =>
    safeForStderr(Secrets.scrub(text), colorEnabled(process.stderr))
  )
  streams.push(stdout, stderr)
  const c = new NodeConsole({ stdout, stderr })
  const sync = (f: () => void) => Effect.sync(f)
  return {
    [Console.TypeId]: Console.TypeId,
    assert: (condition, ...args) => sync(() => c.assert(condition, ...args)),
    clear: sync(() => c.clear()),
    count: (label) => sync(() => c.count(label)),
    countReset: (label) => sync(() => c.countReset(label)),
    debug: (...args) => sync(() => c.debug(...args)),
    dir: (item, options) => sync(() => c.dir(item, options)),
    dirxml: (...args) => sync(() => c.dirxml(...args)),
    error: (...args) => sync(() => c.error(...args)),
    group: (options) =>
      sync(() => (options?.collapsed ? c.groupCollapsed(options.label) : c.group(options?.label))),
    groupEnd: sync(() => c.groupEnd()),
    info: (...args) => sync(() => c.info(...args)),
    log: (...args) => sync(() => c.log(...args)),
    table: (data, properties) => sync(() => c.table(data, properties)),
    time: (label) => sync(() => c.time(label)),
    timeEnd: (label) => sync(() => c.timeEnd(label)),
    timeLog: (label, ...args) => sync(() => c.timeLog(label, ...args)),
    trace: (...args) => sync(() => c.trace(...args)),
    warn: (...args) => sync(() => c.warn(...args)),
    unsafe: c
  }
}

/** Resolves once `stream` has handed every byte written before this call to the system. */
const flushed = (stream: NodeJS.WritableStream | Writable): Promise<void> =>
  new Promise((resolve) => {
    if ((stream as Writable).destroyed || (stream as Writable).writableEnded) {
      resolve()
      return
    }
    try {
      // Callbacks of a Writable run in order: this one after every earlier write went out.
      stream.write("", () => resolve())
    } catch {
      resolve()
    }
  })

/**
 * Resolves once the Console's streams, then stdout and stderr themselves, have taken every byte
 * written so far (at most {@link DRAIN_TIMEOUT_MS}). @internal
 */
export const drained = (): Promise<void> => {
  const all = (async () => {
    await Promise.all(streams.map(flushed))
    await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  })()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)
  })
  return Promise.race([all, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Calls `exit(code)` once everything written to stdout and stderr went out ({@link drained}):
 * the teardown of both binaries, whatever the exit path (success, failure, signal). @internal
 */
export const exitWhenDrained = (code: number, exit: (code: number) => void): void => {
  drained().then(
    () => exit(code),
    () => exit(code)
  )
}

let verboseRun = false

/** Set by the runner from the command line: `--verbose` / `-v` was given. @internal */
export const setVerbose = (verbose: boolean): void => {
  verboseRun = verbose
}

/** Whether `--verbose` was given. @internal */
export const isVerbose = (): boolean => verboseRun
