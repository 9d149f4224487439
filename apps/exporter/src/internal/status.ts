/**
 * Rendering of `taskhistory-exporter status`: the sink's counts and, per stream, how fresh the
 * export is (read through, executions still running and read again), the last run, the
 * high-water mark and the longest execution seen.
 *
 * @internal
 */
import { escapeControls } from "@taskhistory/core/TaskHistoryError"
import * as Exporter from "@taskhistory/export/Exporter"
import type { ExportState, LeaseRecord, SinkStatus } from "@taskhistory/export/Sink"

const agoText = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172_800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86_400)}d`
}

const ago = (iso: string | undefined, nowMs: number): string => {
  if (iso === undefined) return "never"
  const t = Date.parse(iso)
  if (!Number.isFinite(t)) return iso
  return `${iso} (${agoText(nowMs - t)} ago)`
}

/** A duration as people read it, always with a unit. @internal */
export const durationText = (ms: number): string =>
  ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)}s`
      : ms < 7_200_000
        ? `${(ms / 60_000).toFixed(1)}m`
        : `${(ms / 3_600_000).toFixed(1)}h`

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** The leases of a stream's state: the lease keys are `PROJECT/STREAMKEY`. */
const leasesOf = (status: SinkStatus, state: ExportState): ReadonlyArray<LeaseRecord> =>
  (status.leases ?? []).filter((l) => l.stream.endsWith(`/${state.streamKey}`))

const leaseLine = (lease: LeaseRecord, nowMs: number): string => {
  const t = Date.parse(lease.expiresAt)
  const left = Number.isFinite(t) ? t - nowMs : 0
  if (lease.holder === undefined)
    return `  leader             none: let go at ${lease.expiresAt} (a replica takes it at its next check)`
  if (lease.expired)
    return `  leader             none: the lease of ${lease.holder} expired at ${lease.expiresAt} (a replica takes it at its next check)`
  return `  leader             ${lease.holder} (lease token ${lease.token}, expires ${lease.expiresAt}, in ${agoText(Math.max(0, left))})`
}

const streamLines = (
  state: ExportState,
  nowMs: number,
  leases: ReadonlyArray<LeaseRecord>
): Array<string> => {
  const fresh = Exporter.freshness(state)
  const lines = [`stream ${state.streamKey}`]
  for (const lease of leases) {
    if (leases.length > 1) lines.push(`  lease              ${lease.stream}`)
    lines.push(leaseLine(lease, nowMs))
  }
  if (fresh === undefined) {
    lines.push(`  read through       unknown until the next complete run (state written by an older version)`)
  } else {
    lines.push(
      `  read through       ${ago(fresh.readThrough, nowMs)}: the last successful run read every execution started before this`
    )
    lines.push(
      fresh.inFlight === 0 || fresh.inFlightSince === undefined
        ? "  in flight          none: every execution read had finished"
        : `  in flight          ${plural(fresh.inFlight, "execution", "executions")} still running, read again each run, since ${ago(fresh.inFlightSince, nowMs)}`
    )
  }
  lines.push(
    `  last run           ${ago(state.lastRunAt, nowMs)}`,
    `  high-water mark    ${state.highWaterMark ?? "none"}`,
    `  longest execution  ${durationText(state.longestRunMs)}`
  )
  return lines
}

/** Whether the sink holds step executions or a step backlog (`run --steps`). */
const hasSteps = (status: SinkStatus) =>
  status.steps !== undefined && (status.steps.rows > 0 || status.steps.backlog > 0)

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
    ...(hasSteps(status)
      ? [`steps     ${status.steps!.rows} rows, ${status.steps!.backlog} execution(s) in the step backlog`]
      : []),
    `streams   ${status.states.length}`
  ]
  if (status.states.length === 0) lines.push("", "nothing exported yet: run `taskhistory-exporter run`")
  for (const state of status.states) lines.push("", ...streamLines(state, nowMs, leasesOf(status, state)))
  // stream keys hold filter values: no control character reaches the terminal
  return `${escapeControls(lines.join("\n"), true)}\n`
}

/**
 * The status as one JSON document for scripts (the engine's cursor left out).
 *
 * @internal
 */
export const document = (status: SinkStatus) => ({
  sink: status.sink,
  rows: status.rows,
  rejects: status.rejects,
  ...(hasSteps(status) ? { steps: { rows: status.steps!.rows, backlog: status.steps!.backlog } } : {}),
  streams: status.states.map((s) => {
    const fresh = Exporter.freshness(s)
    return {
      streamKey: s.streamKey,
      readThrough: fresh?.readThrough ?? null,
      inFlight: fresh?.inFlight ?? null,
      inFlightSince: fresh?.inFlightSince ?? null,
      lastRunAt: s.lastRunAt ?? null,
      highWaterMark: s.highWaterMark ?? null,
      longestExecutionMs: s.longestRunMs,
      // Replicas on a Postgres sink: who leads the stream and until when (null otherwise).
      leaders: leasesOf(status, s).map(leaseDocument)
    }
  }),
  leases: (status.leases ?? []).map(leaseDocument)
})

const leaseDocument = (lease: LeaseRecord) => ({
  stream: lease.stream,
  leader: lease.expired || lease.holder === undefined ? null : lease.holder,
  lastHolder: lease.holder ?? null,
  token: lease.token,
  expiresAt: lease.expiresAt,
  expired: lease.expired,
  acquiredAt: lease.acquiredAt
})

/**
 * JSON for scripts.
 *
 * @internal
 */
export const json = (status: SinkStatus): string => `${JSON.stringify(document(status), null, 2)}\n`

/**
 * One stream of a `--config` file, for `status --config`: its sink's status (`undefined` when the
 * sink does not exist yet: no SQLite file, no directory, no tables in the Postgres schema).
 *
 * @internal
 */
export interface ConfiguredStream {
  readonly name: string
  readonly projectId: string
  /** The state's key (`Exporter.streamKey` of the filters). */
  readonly streamKey: string
  /** The sink as safe to print (`SinkSpec.describe`: no password, the schema named). */
  readonly sink: string
  readonly status: SinkStatus | undefined
  /** The other streams of the file on the same sink (rows and rejects are the sink's). */
  readonly sharedWith: ReadonlyArray<string>
}

/** The state of this stream in its sink, if it ran there. */
const stateOf = (stream: ConfiguredStream): ExportState | undefined =>
  stream.status?.states.find((s) => s.streamKey === stream.streamKey)

/** The lease of this stream (key `PROJECT/STREAMKEY`). */
const leaseOf = (stream: ConfiguredStream): ReadonlyArray<LeaseRecord> =>
  (stream.status?.leases ?? []).filter((l) => l.stream === `${stream.projectId}/${stream.streamKey}`)

/**
 * `status --config --format table`: one block per stream, headed by its name.
 *
 * @internal
 */
export const configTable = (streams: ReadonlyArray<ConfiguredStream>, nowMs: number): string => {
  const blocks = streams.map((stream) => {
    const lines = [
      `stream ${stream.name}`,
      `  project            ${stream.projectId}`,
      `  sink               ${stream.sink}`
    ]
    const status = stream.status
    const shared =
      stream.sharedWith.length === 0 ? "" : ` (the sink's, shared with ${stream.sharedWith.join(", ")})`
    if (status === undefined) {
      lines.push("  not exported yet   the sink does not exist yet: the stream's first run creates it")
      return lines
    }
    lines.push(
      `  rows               ${status.rows}${shared}`,
      `  rejects            ${status.rejects}${shared}`
    )
    if (hasSteps(status)) {
      lines.push(
        `  steps              ${status.steps!.rows} rows, ${status.steps!.backlog} execution(s) in the step backlog${shared}`
      )
    }
    const state = stateOf(stream)
    if (state === undefined) {
      lines.push(`  not exported yet   no run of this stream (${stream.streamKey}) stored in the sink yet`)
      for (const lease of leaseOf(stream)) lines.push(leaseLine(lease, nowMs))
      return lines
    }
    // The state's lines without their own heading: the stream's name heads the block.
    const [, ...rest] = streamLines(state, nowMs, leaseOf(stream))
    lines.push(`  filters            ${state.streamKey}`, ...rest)
    return lines
  })
  return `${escapeControls(blocks.map((b) => b.join("\n")).join("\n\n"), true)}\n`
}

/**
 * `status --config --format json`: `{"streams": [{"name", "projectId", "exported", ...the fields
 * of `status --format json` for the stream's sink, its `streams` and `leases` those of this
 * stream}]}`.
 *
 * @internal
 */
export const configJson = (streams: ReadonlyArray<ConfiguredStream>): string => {
  const out = streams.map((stream) => {
    const head = { name: stream.name, projectId: stream.projectId, exported: stateOf(stream) !== undefined }
    if (stream.status === undefined) {
      return { ...head, sink: stream.sink, rows: 0, rejects: 0, streams: [], leases: [] }
    }
    const own = {
      ...stream.status,
      states: stream.status.states.filter((s) => s.streamKey === stream.streamKey),
      leases: leaseOf(stream)
    }
    return { ...head, ...document(own), sink: stream.sink }
  })
  return `${JSON.stringify({ streams: out }, null, 2)}\n`
}
