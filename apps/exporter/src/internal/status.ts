/**
 * Rendering of `taskhistory-exporter status`.
 *
 * @internal
 */
import type { SinkStatus } from "@taskhistory/export/Sink"

const ago = (iso: string | undefined, nowMs: number): string => {
  if (iso === undefined) return "never"
  const t = Date.parse(iso)
  if (!Number.isFinite(t)) return iso
  const s = Math.max(0, Math.round((nowMs - t) / 1000))
  const text =
    s < 120
      ? `${s}s`
      : s < 7200
        ? `${Math.round(s / 60)}m`
        : s < 172_800
          ? `${Math.round(s / 3600)}h`
          : `${Math.round(s / 86_400)}d`
  return `${iso} (${text} ago)`
}

const durationText = (ms: number): string =>
  ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)}s`
      : `${(ms / 60_000).toFixed(1)}m`

/**
 * A table for people.
 *
 * @internal
 */
export const table = (status: SinkStatus, nowMs: number): string => {
  const lines = [
    `sink      ${status.sink}`,
    `rows      ${status.rows}`,
    `rejects   ${status.rejects}`,
    `streams   ${status.states.length}`
  ]
  if (status.states.length === 0) lines.push("", "nothing exported yet: run `taskhistory-exporter run`")
  for (const state of status.states) {
    lines.push(
      "",
      `stream ${state.streamKey}`,
      `  high-water mark  ${ago(state.highWaterMark, nowMs)}`,
      `  last run         ${ago(state.lastRunAt, nowMs)}`,
      `  longest run      ${durationText(state.longestRunMs)}`
    )
  }
  return `${lines.join("\n")}\n`
}

/**
 * JSON for scripts: the sink's status as is (the engine's cursor left out).
 *
 * @internal
 */
export const json = (status: SinkStatus): string =>
  `${JSON.stringify(
    {
      sink: status.sink,
      rows: status.rows,
      rejects: status.rejects,
      streams: status.states.map((s) => ({
        streamKey: s.streamKey,
        highWaterMark: s.highWaterMark ?? null,
        lastRunAt: s.lastRunAt ?? null,
        longestRunMs: s.longestRunMs
      }))
    },
    null,
    2
  )}\n`
