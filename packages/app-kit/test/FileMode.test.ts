import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as FileMode from "../src/FileMode.js"

describe("FileMode.parseUmask", () => {
  it("reads octal umasks that leave the owner its rights", () => {
    expect(Either.getOrThrow(FileMode.parseUmask("077"))).toBe(0o077)
    expect(Either.getOrThrow(FileMode.parseUmask("0027"))).toBe(0o027)
    expect(Either.getOrThrow(FileMode.parseUmask("22"))).toBe(0o022)
    expect(Either.getOrThrow(FileMode.parseUmask(" 0 "))).toBe(0)
  })

  it("refuses anything else, naming the value", () => {
    for (const [value, text] of [
      ["rw", "an octal umask"],
      ["8", "an octal umask"],
      ["07777", "an octal umask"],
      ["", "an octal umask"],
      ["700", "leaves the owner"],
      ["0200", "leaves the owner"]
    ] as const) {
      const result = FileMode.parseUmask(value)
      expect(Either.isLeft(result) && result.left.message).toContain(
        `invalid --umask ${JSON.stringify(value)}`
      )
      expect(Either.isLeft(result) && result.left.message).toContain(text)
    }
  })
})
