/**
 * better-sqlite3, the SQLite sink's driver: an optional peer of this package (a dependency of the
 * `taskhistory-exporter` binary), loaded on first use. When it is missing, or installed without
 * its native binding (an install with scripts disabled, or pnpm's default of not running build
 * scripts), opening a database fails with one line that says how to fix the install.
 *
 * @internal
 */
import { createRequire } from "node:module"

/** The part of better-sqlite3's API the sink uses. */
export interface Statement {
  run(...params: ReadonlyArray<unknown>): { readonly changes: number }
  get(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): Array<unknown>
  /** The rows one at a time (the export reader streams a table without loading it). */
  iterate(...params: ReadonlyArray<unknown>): IterableIterator<unknown>
  /** Rows as arrays of column values instead of objects. */
  raw(toggle?: boolean): Statement
  /** Whether the statement returns rows. */
  readonly reader: boolean
}

/** The part of better-sqlite3's API the sink uses. */
export interface Database {
  prepare(source: string): Statement
  exec(source: string): void
  close(): void
  readonly inTransaction: boolean
}

/** better-sqlite3's open options that the readers use. */
export interface OpenOptions {
  readonly readonly?: boolean
  readonly fileMustExist?: boolean
}

type DatabaseConstructor = new (filename: string, options?: OpenOptions) => Database

let driver: DatabaseConstructor | undefined

/** Loads better-sqlite3 from where this module (or the bundle that contains it) is installed. */
const load = (): DatabaseConstructor => {
  if (driver === undefined) {
    // `import.meta.url` is empty when a bundler turns this module into CommonJS: use its `require`.
    const from = typeof import.meta.url === "string" ? createRequire(import.meta.url) : require
    driver = from("better-sqlite3") as DatabaseConstructor
  }
  return driver
}

/**
 * Opens (and creates, unless `fileMustExist`) the database file with better-sqlite3. Throws what
 * the driver throws.
 */
export const open = (filename: string, options?: OpenOptions): Database => {
  const Database = load()
  return options === undefined ? new Database(filename) : new Database(filename, options)
}

const fields = (cause: unknown): { readonly code: string; readonly message: string } => ({
  code:
    typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
      ? cause.code
      : "",
  message: cause instanceof Error ? cause.message : String(cause)
})

const pnpmHint =
  'with pnpm, allow its build first ("pnpm approve-builds", or allowBuilds: { better-sqlite3: true } in pnpm-workspace.yaml)'

/**
 * When `cause` says the driver is not installed or has no usable native binding, the one-line
 * fix for a person; otherwise `undefined` (a real database error).
 */
export const installProblem = (cause: unknown): string | undefined => {
  const { code, message } = fields(cause)
  if (
    (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND") &&
    message.includes("better-sqlite3")
  ) {
    return 'the SQLite driver better-sqlite3 is not installed: run "npm install better-sqlite3@^12"'
  }
  if (
    message.includes("Could not locate the bindings file") ||
    message.includes("NODE_MODULE_VERSION") ||
    code === "ERR_DLOPEN_FAILED"
  ) {
    return `the SQLite driver better-sqlite3 has no native binding for Node ${process.version}: run "npm rebuild better-sqlite3" (${pnpmHint}, then "pnpm rebuild better-sqlite3")`
  }
  return undefined
}
