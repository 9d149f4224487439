import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as OutputFormat from "../src/OutputFormat.js"

const parse = (args: ReadonlyArray<string>) => {
  let seen: string | undefined
  const command = Command.make(
    "x",
    { format: OutputFormat.option(["table", "json"], "table", "table or json.") },
    ({ format }) =>
      Effect.sync(() => {
        seen = format
      })
  )
  const run = Command.run(command, { name: "x", version: "0" })
  return Effect.runPromise(
    Effect.either(run(["node", "x", ...args])).pipe(Effect.provide(NodeContext.layer))
  ).then((result) => ({ result, seen }))
}

describe("OutputFormat.option", () => {
  it("defaults to table, takes any case, and refuses a format the command does not print", async () => {
    expect((await parse([])).seen).toBe("table")
    expect((await parse(["--format", "JSON"])).seen).toBe("json")
    const bad = await parse(["--format", "csv"])
    expect(bad.seen).toBeUndefined()
    expect(Either.isLeft(bad.result)).toBe(true)
  })

  it("lists every format once", () => {
    expect(OutputFormat.formats).toEqual(["table", "json", "ndjson", "csv"])
  })
})
