/**
 * A Postgres URL safe for logs: its password, and the value of a query parameter that holds one
 * (`password`, `sslpassword`), replaced by `***`.
 *
 * @internal
 */
export const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    for (const name of ["password", "sslpassword"]) {
      if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "***")
    }
    return parsed.toString().replace(/=\*\*\*/g, "=***")
  } catch {
    return "postgres://(invalid URL)"
  }
}
