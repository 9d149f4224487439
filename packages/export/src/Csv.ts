/**
 * CSV as RFC 4180 writes it: a field that holds a comma, a double quote, CR or LF is put in double
 * quotes, with its quotes doubled; every other field is written as it is (spaces included: RFC
 * 4180 makes them part of the field). `null` and `undefined` are written as an empty field, like
 * the empty string (CSV has no null; the file sinks keep the difference in their `raw` column).
 *
 * The one CSV encoder of the project: the CSV file sink and the CLI's `--format csv` both write
 * through {@link formatRow}.
 *
 * Spreadsheet formulas: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
 * return is run as a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)` from a
 * server's answer becomes a link that leaks data, a DDE payload runs a program). With
 * `{ formulas: "escape" }` such a cell is written with a `'` in front (OWASP's advice; the
 * spreadsheet shows the text, not its result). The CLI's `--format csv` escapes by default
 * (`--raw-csv` turns it off); the CSV file sink writes values as received, for loads into
 * warehouses (see `FILE-SINKS.md`). Numbers are never touched. Encoding is d3-dsv's `csvFormatRow` (as fast as a hand-written
 * encoder in `bench/export.mjs`'s CSV section; csv-stringify is ~5x slower); parsing is our own
 * strict {@link parse}, because the file sink must refuse a damaged file (an unterminated quote, a
 * stray one) rather than read it leniently as d3-dsv's parser does.
 *
 * @since 0.1.0
 */
import { csvFormatRow } from "d3-dsv"

/**
 * A value of a CSV field: text as it is, a number as `String(n)`, nothing as an empty field.
 *
 * @since 0.1.0
 */
export type Value = string | number | null | undefined

/**
 * What to do with text cells a spreadsheet would run as a formula: `keep` them as they are
 * (the default), or `escape` them with a leading `'`.
 *
 * @since 0.1.0
 */
export type Formulas = "keep" | "escape"

/**
 * Options of {@link formatRow} and {@link formatLine}.
 *
 * @since 0.1.0
 */
export interface FormatOptions {
  readonly formulas?: Formulas | undefined
}

const FORMULA = /^[=+\-@\t\r]/

/**
 * A cell made safe for spreadsheets: text starting with `=`, `+`, `-`, `@`, tab or CR gets a
 * leading `'`; anything else is returned as it is.
 *
 * @example
 * ```ts
 * Csv.neutralize('=HYPERLINK("http://x")') // "'=HYPERLINK(...)" (shown as text)
 * Csv.neutralize(-5) // -5 (a number is not a formula)
 * ```
 *
 * @since 0.1.0
 */
export const neutralize = (value: Value): Value =>
  typeof value === "string" && FORMULA.test(value) ? `'${value}` : value

/**
 * The line end RFC 4180 prescribes (the CSV file sink's files use it).
 *
 * @since 0.1.0
 */
export const CRLF = "\r\n"

/**
 * One row, without its line end; with `{ formulas: "escape" }`, text cells a spreadsheet would
 * run are neutralised ({@link neutralize}).
 *
 * @example
 * ```ts
 * import * as Csv from "@taskhistory/export/Csv"
 * Csv.formatRow(["a,b", 'say "hi"', 3, null]) // 'a,b' -> '"a,b","say ""hi""",3,'
 * ```
 *
 * @since 0.1.0
 */
export const formatRow = (values: ReadonlyArray<Value>, options?: FormatOptions): string =>
  // d3-dsv's types ask for a mutable array of strings; it reads the array and formats any value.
  csvFormatRow((options?.formulas === "escape" ? values.map(neutralize) : values) as Array<string>)

/**
 * One row followed by `lineEnd` (default {@link CRLF}).
 *
 * @since 0.1.0
 */
export const formatLine = (
  values: ReadonlyArray<Value>,
  lineEnd: string = CRLF,
  options?: FormatOptions
): string => formatRow(values, options) + lineEnd

/**
 * Parses CSV text into rows of fields. Accepts CRLF or LF line ends; a final line end is optional;
 * empty lines are skipped. Returns an error string (with the offset) for an unterminated quoted
 * field, a stray quote inside a field or text after a closing quote.
 *
 * @since 0.1.0
 */
export const parse = (text: string): Array<Array<string>> | string => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let field = ""
  let i = 0
  const n = text.length
  let atRowStart = true
  const special = /[,\r\n"]/g
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      if (field.length > 0) return `stray quote at offset ${i}`
      i++
      let closed = false
      while (i < n) {
        const q = text.indexOf('"', i)
        if (q === -1) break
        field += text.slice(i, q)
        if (text.charCodeAt(q + 1) === 34) {
          field += '"'
          i = q + 2
        } else {
          i = q + 1
          closed = true
          break
        }
      }
      if (!closed) return "unterminated quoted field"
      const next = text.charCodeAt(i)
      if (i < n && next !== 44 && next !== 13 && next !== 10)
        return `unexpected character after quote at offset ${i}`
      atRowStart = false
      continue
    }
    if (c === 44 /* , */) {
      row.push(field)
      field = ""
      atRowStart = false
      i++
      continue
    }
    if (c === 13 /* \r */ || c === 10 /* \n */) {
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++
      i++
      if (!(atRowStart && field.length === 0 && row.length === 0)) {
        row.push(field)
        rows.push(row)
      }
      row = []
      field = ""
      atRowStart = true
      continue
    }
    special.lastIndex = i
    const match = special.exec(text)
    const end = match === null ? n : match.index
    field += text.slice(i, end)
    atRowStart = false
    i = end
  }
  if (!atRowStart || field.length > 0 || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}
