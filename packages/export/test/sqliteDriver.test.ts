import { describe, expect, it } from "@effect/vitest"
import { installProblem } from "../src/internal/sqliteDriver.js"

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })

describe("sqliteDriver.installProblem", () => {
  it("names the install command when better-sqlite3 is not installed", () => {
    const fix = installProblem(
      withCode("Cannot find module 'better-sqlite3'\nRequire stack: ...", "MODULE_NOT_FOUND")
    )
    expect(fix).toBe(
      'the SQLite driver better-sqlite3 is not installed: run "npm install better-sqlite3@^12"'
    )
  })

  it("names the rebuild (and pnpm's build approval) when the native binding is missing", () => {
    const fix = installProblem(
      new Error("Could not locate the bindings file. Tried:\n → /x/build/better_sqlite3.node")
    )
    expect(fix).toContain('run "npm rebuild better-sqlite3"')
    expect(fix).toContain("pnpm approve-builds")
    expect(fix).not.toContain("\n")
  })

  it("names the rebuild when the binding was built for another Node version", () => {
    const fix = installProblem(
      withCode(
        "The module was compiled against NODE_MODULE_VERSION 127. This version requires 115.",
        "ERR_DLOPEN_FAILED"
      )
    )
    expect(fix).toContain("npm rebuild better-sqlite3")
  })

  it("leaves other errors alone", () => {
    expect(installProblem(withCode("unable to open database file", "SQLITE_CANTOPEN"))).toBeUndefined()
    expect(installProblem(withCode("Cannot find module 'pg'", "MODULE_NOT_FOUND"))).toBeUndefined()
  })
})
