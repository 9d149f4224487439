/**
 * Quarantined records: how an invalid record of a page becomes a `Reject`, and the key under
 * which every sink stores it once per stream.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import type { InvalidRecord } from "@taskhistory/core/WorkflowExecution"
import type { Reject } from "../Sink.js"
import { idOf } from "./rawRecord.js"

/** A reject's key within its stream: `id:ID`, or `sha1:HASH` of the raw text without an id. */
export const rejectKey = (reject: Reject): string =>
  reject.id !== undefined ? `id:${reject.id}` : `sha1:${createHash("sha1").update(reject.raw).digest("hex")}`

/** The reject of an invalid record seen at `seenAt`. */
export const toReject = (invalid: InvalidRecord, seenAt: string): Reject => ({
  id: idOf(invalid.raw),
  raw: JSON.stringify(invalid.raw) ?? String(invalid.raw),
  reason: invalid.reason,
  seenAt
})
