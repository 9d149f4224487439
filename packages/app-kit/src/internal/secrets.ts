/**
 * A process-wide list of secret values that must never be printed, and a scrubber for text
 * about to be printed. Secrets are registered where they are read (the API key from the
 * environment or its file, a Redis URL).
 *
 * @internal
 */
const secrets = new Set<string>()

/** @internal */
export const register = (value: string): void => {
  const trimmed = value.trim()
  // Short values would scrub ordinary words; a real key is long.
  if (trimmed.length >= 6) secrets.add(trimmed)
  if (value.length >= 6) secrets.add(value)
}

/** @internal */
export const scrub = (text: string): string => {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("<redacted>")
  }
  return out
}
