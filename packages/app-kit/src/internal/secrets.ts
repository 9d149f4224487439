/**
 * A process-wide list of secret values that must never be printed, and a scrubber for text
 * about to be printed. Secrets are registered where they are read (the API key from the
 * environment or its file, the password of a Redis or Postgres URL, a webhook URL).
 *
 * Each secret is scrubbed in every form it takes in transit: as it is, JSON-escaped (a key with
 * a quote or a backslash echoed in a JSON body), URL-encoded (`%XX`, and `+` for spaces in a
 * form or query), base64 (on its own, and as the `user:password` of a Basic header). Any length
 * is scrubbed: a short secret garbles a message rather than leak. A URL is not a secret as a
 * whole: only its password (and the values of query parameters such as `password` or `token`)
 * are, so that a message still names the host and port that failed.
 *
 * @internal
 */

const secrets = new Set<string>()
let pattern: RegExp | undefined

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** The forms a secret takes in transit (see the module's comment). */
export const formsOf = (value: string): ReadonlyArray<string> => {
  const forms = new Set<string>([value])
  forms.add(JSON.stringify(value).slice(1, -1))
  forms.add(encodeURIComponent(value))
  forms.add(encodeURIComponent(value).replace(/%20/g, "+"))
  // A base64 form shorter than 8 characters is too common a string to hide (and holds little).
  const b64 = base64(value)
  if (b64.length >= 8) {
    forms.add(b64)
    forms.add(b64.replace(/=+$/, ""))
  }
  forms.delete("")
  return [...forms]
}

const add = (form: string) => {
  if (form.length === 0 || secrets.has(form)) return
  secrets.add(form)
  pattern = undefined
}

/** Registers a secret (and its trimmed form): it is scrubbed from everything printed. @internal */
export const register = (value: string): void => {
  for (const v of new Set([value, value.trim()])) for (const form of formsOf(v)) add(form)
}

const SECRET_PARAMS = /^(pass(word)?|pwd|secret|token|api[-_]?key|access[-_]?token|sslpassword)$/i

/**
 * Registers what is secret in a URL: its password (as written and decoded), the base64 of its
 * `user:password` (a Basic header), and the values of query parameters that name a secret. The
 * scheme, user, host, port and path stay printable. A text that is not a URL is registered whole.
 *
 * @internal
 */
export const registerUrl = (text: string): void => {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    register(text)
    return
  }
  if (url.password !== "") {
    const decoded = safeDecode(url.password)
    register(url.password)
    register(decoded)
    const user = safeDecode(url.username)
    for (const form of formsOf(`${user}:${decoded}`)) add(form)
  }
  for (const [name, value] of url.searchParams) if (SECRET_PARAMS.test(name) && value !== "") register(value)
}

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Every registered secret, in every form, replaced by `<redacted>`, in one pass. @internal */
export const scrub = (text: string): string => {
  if (secrets.size === 0) return text
  // Longest first, so that a form containing another is removed whole.
  pattern ??= new RegExp(
    [...secrets]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "g"
  )
  return text.replace(pattern, "<redacted>")
}

/** For tests: forgets every secret. @internal */
export const clear = (): void => {
  secrets.clear()
  pattern = undefined
}
