/**
 * Terminal plumbing: colour decisions and an Effect Console that strips ANSI escapes when colour
 * is off and scrubs secrets from everything it prints.
 *
 * @internal
 */
import { Console as NodeConsole } from "node:console"
import { Writable } from "node:stream"
import { Console, Effect } from "effect"
import * as Secrets from "./secrets.js"

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences on purpose
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g

/** @internal */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

/** @internal */
export const colorEnabled = (stream: NodeJS.WriteStream): boolean => {
  const noColor = process.env.NO_COLOR
  if (noColor !== undefined && noColor !== "") return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0") return true
  return stream.isTTY === true
}

const filtered = (target: NodeJS.WriteStream): Writable =>
  new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      const text = typeof chunk === "string" ? chunk : chunk.toString("utf8")
      const clean = Secrets.scrub(colorEnabled(target) ? text : stripAnsi(text))
      target.write(clean, (error) => callback(error ?? null))
    }
  })

/**
 * An Effect Console over a Node console whose streams strip colour when it is off and scrub
 * secrets.
 *
 * @internal
 */
export const makeConsole = (): Console.Console => {
  const c = new NodeConsole({ stdout: filtered(process.stdout), stderr: filtered(process.stderr) })
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
