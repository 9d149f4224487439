/**
 * File sinks: NDJSON, CSV and Parquet files partitioned by start day.
 *
 * Layout of a sink directory `DIR`:
 *
 * ```text
 * DIR/date=YYYY-MM-DD/part.ndjson     (NDJSON: one execution per line, the record as received)
 * DIR/date=YYYY-MM-DD/part.csv        (CSV: header + one row per execution)
 * DIR/date=YYYY-MM-DD/part.parquet    (Parquet: typed columns + raw record)
 * DIR/date=YYYY-MM-DD/.part.ndjson    (Parquet with deferParquet: rows not yet in part.parquet)
 * DIR/_state.json                     (export states, row counts per day, rejects count)
 * DIR/_rejects.ndjson                 (quarantined records, one JSON object per line)
 * DIR/_lock                           (the process writing DIR: pid, host, since when)
 * ```
 *
 * Each day file holds every execution that started that UTC day exactly once (upsert by `id`),
 * sorted by `(dateStarted, id)`. Every file is replaced atomically (temp file, fsync, rename,
 * fsync of the directory), and `_state.json` moves forward only after the data files it
 * describes are durable: a crash at any instant leaves each file in its old or its new version,
 * and re-sending the batch is idempotent.
 *
 * @since 0.1.0
 */
import { type Effect, Layer, type Scope } from "effect"
import { csv, type FileFormatName, formats, ndjson, parquet } from "./internal/fileFormat.js"
import { fileColumns } from "./internal/fileRow.js"
import * as internal from "./internal/fileSink.js"
import { Sink, type SinkError, type SinkShape } from "./Sink.js"

/**
 * Options of a file sink.
 *
 * @since 0.1.0
 */
export interface FileSinkOptions {
  /** The directory of the export (created if missing). */
  readonly dir: string
  /**
   * How many day files are kept in memory (parsed, indexed by id) between batches; older days are
   * dropped and read again if a later batch touches them. Default 4.
   */
  readonly maxOpenDays?: number | undefined
  /**
   * Parquet only. `false` (default): each batch rewrites the Parquet file of every day it changed
   * before the state moves forward, so `part.parquet` is always up to date. `true`: a batch's rows
   * for a day go to the day's journal (the hidden `.part.ndjson`, made durable before the state
   * moves) while the journal stays no larger than the day's Parquet file; the batch that would
   * make it larger rewrites the Parquet file. Journals are folded in when the day leaves memory,
   * when the sink closes, or (after a crash) when the sink opens again: a few rewrites per day
   * instead of one per batch, for backfills.
   */
  readonly deferParquet?: boolean | undefined
  /**
   * Open without the lock, only to read: `loadState` and `status` read `_state.json` on each call
   * (so they work while another process exports into the directory), `writeBatch` fails.
   * Default `false`.
   */
  readonly readOnly?: boolean | undefined
  /**
   * When another process holds the directory's lock (`_lock`), wait until it lets go instead of
   * failing with a `Locked` `SinkError` that names it (its pid and host). Default `false`.
   */
  readonly waitForLock?: boolean | undefined
}

const toInternal = (options: FileSinkOptions): internal.FileSinkOptions => ({
  dir: options.dir,
  maxOpenDays: options.maxOpenDays,
  deferDerived: options.deferParquet,
  readOnly: options.readOnly,
  waitForLock: options.waitForLock
})

/**
 * The file formats.
 *
 * @since 0.1.0
 */
export type FileSinkFormat = FileFormatName

/**
 * The CSV and Parquet columns, in order: those of `Columns.columns`, then `exported_at` and `raw`
 * (NDJSON lines are the records as received).
 *
 * @since 0.1.0
 */
export const columns: ReadonlyArray<string> = fileColumns

/**
 * Opens a file sink in `options.dir`: takes the directory's lock (a lock left by a dead process is
 * taken over), removes temp files left by a crash and reconciles `_state.json` with the files.
 * The lock is released when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  format: FileSinkFormat,
  options: FileSinkOptions
): Effect.Effect<SinkShape, SinkError, Scope.Scope> => internal.make(formats[format], toInternal(options))

/**
 * A `Sink` that writes `DIR/date=YYYY-MM-DD/part.<format>`.
 *
 * @since 0.1.0
 */
export const layer = (format: FileSinkFormat, options: FileSinkOptions): Layer.Layer<Sink, SinkError> =>
  Layer.scoped(Sink, make(format, options))

/**
 * A `Sink` that writes `DIR/date=YYYY-MM-DD/part.ndjson`: one line per execution, the record
 * exactly as received (unknown fields and key order kept).
 *
 * @example
 * ```ts
 * import { layerNdjson } from "@taskhistory/export/FileSink"
 * const SinkLive = layerNdjson({ dir: "./export" })
 * ```
 *
 * @since 0.1.0
 */
export const layerNdjson = (options: FileSinkOptions): Layer.Layer<Sink, SinkError> =>
  Layer.scoped(Sink, internal.make(ndjson, toInternal(options)))

/**
 * A `Sink` that writes `DIR/date=YYYY-MM-DD/part.csv`: a header row, then the columns of
 * {@link columns} (RFC 4180 quoting, CRLF line ends; `raw` is the record as JSON text).
 *
 * @since 0.1.0
 */
export const layerCsv = (options: FileSinkOptions): Layer.Layer<Sink, SinkError> =>
  Layer.scoped(Sink, internal.make(csv, toInternal(options)))

/**
 * A `Sink` that writes `DIR/date=YYYY-MM-DD/part.parquet` (typed columns: `STRING` text, `INT64`
 * counts and durations, instants as `TIMESTAMP(isAdjustedToUTC = true, MILLIS)`, `raw` as a
 * string), rewritten whole whenever the day changes. The file is the day: the sink reads it back
 * (`raw`, `exported_at`) to merge later batches.
 *
 * @since 0.1.0
 */
export const layerParquet = (options: FileSinkOptions): Layer.Layer<Sink, SinkError> =>
  Layer.scoped(Sink, internal.make(parquet, toInternal(options)))
