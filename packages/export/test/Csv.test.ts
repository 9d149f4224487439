import { describe, expect, it } from "@effect/vitest"
import * as Csv from "../src/Csv.js"

describe("Csv (RFC 4180)", () => {
  it("quotes fields with commas, quotes, CR or LF and doubles the quotes inside", () => {
    expect(Csv.formatRow(["a,b", 'say "hi"', "line\nbreak", "carriage\rreturn", "crlf\r\n"])).toBe(
      '"a,b","say ""hi""","line\nbreak","carriage\rreturn","crlf\r\n"'
    )
    expect(Csv.formatRow(['"', '""', "plain"])).toBe('"""","""""",plain')
  })

  it("keeps leading and trailing spaces as part of the field, unquoted", () => {
    expect(Csv.formatRow([" lead", "trail ", "  "])).toBe(" lead,trail ,  ")
    expect(Csv.parse(" lead,trail ,  \r\n")).toEqual([[" lead", "trail ", "  "]])
  })

  it("writes null and undefined as an empty field, like the empty string; numbers as String(n)", () => {
    expect(Csv.formatRow([null, undefined, "", 0, 1.5, -3])).toBe(",,,0,1.5,-3")
    expect(Csv.formatRow([])).toBe("")
  })

  it("ends a line with CRLF unless told otherwise", () => {
    expect(Csv.formatLine(["a", "b"])).toBe("a,b\r\n")
    expect(Csv.formatLine(["a", "b"], "\n")).toBe("a,b\n")
  })

  it("parses what it writes, whatever the fields hold", () => {
    const rows = [
      ["id", "text"],
      ["1", 'a "quoted", multi\r\nline\nvalue'],
      ["2", ""],
      ["", ","],
      ['{"raw":"json, with \\"quotes\\""}', "\r"]
    ]
    const text = rows.map((r) => Csv.formatLine(r)).join("")
    expect(Csv.parse(text)).toEqual(rows)
    expect(Csv.parse(rows.map((r) => Csv.formatLine(r, "\n")).join(""))).toEqual(rows)
  })

  it("accepts a missing final line end and skips empty lines", () => {
    expect(Csv.parse("a,b\r\n\r\nc,d")).toEqual([
      ["a", "b"],
      ["c", "d"]
    ])
    expect(Csv.parse('""')).toEqual([[""]])
    expect(Csv.parse("")).toEqual([])
  })

  it("refuses an unterminated quote, a stray quote and text after a closing quote", () => {
    expect(Csv.parse('a,"open\r\n')).toBe("unterminated quoted field")
    expect(Csv.parse('ab"c\r\n')).toBe("stray quote at offset 2")
    expect(Csv.parse('"a"b\r\n')).toBe("unexpected character after quote at offset 3")
  })

  it("neutralises formula cells on request: text starting with = + - @ tab CR gets a ', numbers never", () => {
    const cells = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(1)", "\tx", "\rx", "a=b", "", -5, null]
    expect(Csv.formatRow(cells, { formulas: "escape" })).toBe(
      `"'=HYPERLINK(""http://x"",""y"")",'+1,'-2+3,'@SUM(1),'\tx,"'\rx",a=b,,-5,`
    )
    expect(Csv.formatRow(cells)).toBe(Csv.formatRow(cells, { formulas: "keep" }))
    expect(Csv.formatRow(cells)).toContain('"=HYPERLINK(')
    expect(Csv.neutralize(-5)).toBe(-5)
  })
})
