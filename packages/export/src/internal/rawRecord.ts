/**
 * What can be read of a raw record that may not be a valid execution (an invalid record of a
 * page): its id and its start date, when it has usable ones.
 *
 * @internal
 */
import { Predicate } from "effect"

/** The `id` of a raw record when it is a non-empty string. */
export const idOf = (raw: unknown): string | undefined =>
  Predicate.hasProperty(raw, "id") && typeof raw.id === "string" && raw.id !== "" ? raw.id : undefined

/** The start (ms) of a raw record when its `dateStarted` parses. */
export const startOf = (raw: unknown): number | undefined => {
  if (!Predicate.hasProperty(raw, "dateStarted") || typeof raw.dateStarted !== "string") return undefined
  const ms = Date.parse(raw.dateStarted)
  return Number.isNaN(ms) ? undefined : ms
}

/** The start date (ms) and id of a raw record, when readable. */
export const placeOf = (
  raw: unknown
): { readonly at: number | undefined; readonly id: string | undefined } => ({
  at: startOf(raw),
  id: idOf(raw)
})
