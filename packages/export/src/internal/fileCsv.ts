/**
 * RFC 4180 CSV: encoding of one field/row and a small parser (quoted fields may hold commas,
 * quotes and line breaks).
 *
 * @internal
 */

/** Quotes a field when it holds a comma, a quote, CR or LF; doubles the quotes inside. */
export const csvField = (value: string): string =>
  /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value

/** One CSV row, CRLF-terminated. */
export const csvRow = (fields: ReadonlyArray<string>): string => fields.map(csvField).join(",") + "\r\n"

/**
 * Parses CSV text into rows of fields. Accepts CRLF or LF line ends; a final line end is optional.
 * Returns an error string for an unterminated quoted field or a stray quote.
 */
export const parseCsv = (text: string): Array<Array<string>> | string => {
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
