import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Option, TestClock } from "effect"
import { parquetReadObjects } from "hyparquet"
import * as Csv from "../src/Csv.js"
import * as FileSink from "../src/FileSink.js"
import type { Batch, ExportState, Reject } from "../src/Sink.js"
import { counts, sinkContract } from "./sinkContract.js"

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "taskhistory-filesink-"))

const exec = (id: string, dateStarted: string, fields: Record<string, unknown> = {}): WorkflowExecution => ({
  id,
  status: "SUCCEEDED",
  dateStarted,
  ...fields
})

const state = (streamKey: string, highWaterMark: string, cursor: unknown = null): ExportState => ({
  streamKey,
  highWaterMark,
  longestRunMs: 1000,
  lastRunAt: undefined,
  cursor
})

const batch = (records: ReadonlyArray<WorkflowExecution>, extra: Partial<Batch> = {}): Batch => ({
  records,
  rejects: [],
  state: undefined,
  ...extra
})

// ---------------------------------------------------------------------------------------------
// Reading the files back, independently of the sink's in-memory index

interface FileRecord {
  readonly raw: Record<string, unknown>
  readonly rawText: string
  readonly exportedAt: string | undefined
}

/** A Parquet footer (Thrift compact protocol), read by hand: the parts the tests check. */
interface ParquetFooter {
  readonly numRows: number
  readonly columns: ReadonlyArray<{
    readonly name: string
    readonly type: number | undefined
    readonly convertedType: number | undefined
    readonly logicalType: ThriftStruct | undefined
  }>
}

type ThriftValue = boolean | number | bigint | Uint8Array | ThriftStruct | ReadonlyArray<ThriftValue>
interface ThriftStruct {
  readonly [field: number]: ThriftValue | undefined
}

const readParquetFooter = (bytes: Uint8Array): ParquetFooter => {
  const magic = (at: number) => Buffer.from(bytes.subarray(at, at + 4)).toString("latin1") === "PAR1"
  if (!magic(0) || !magic(bytes.length - 4)) throw new Error("missing PAR1 magic bytes")
  const length = Buffer.from(bytes).readUInt32LE(bytes.length - 8)
  const meta = bytes.subarray(bytes.length - 8 - length, bytes.length - 8)
  let offset = 0
  const byte = () => {
    if (offset >= meta.length) throw new Error("truncated footer")
    return meta[offset++]!
  }
  const varint = () => {
    let result = 0n
    let shift = 0n
    for (;;) {
      const b = byte()
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
      shift += 7n
    }
  }
  const zigzag = () => {
    const v = varint()
    return (v >> 1n) ^ -(v & 1n)
  }
  const value = (type: number): ThriftValue => {
    switch (type) {
      case 1:
        return true
      case 2:
        return false
      case 3:
        return byte()
      case 4:
      case 5:
        return Number(zigzag())
      case 6:
        return zigzag()
      case 7:
        offset += 8
        return 0
      case 8: {
        const n = Number(varint())
        const out = meta.subarray(offset, offset + n)
        offset += n
        return out
      }
      case 9:
      case 10: {
        const header = byte()
        const size = header >> 4 === 15 ? Number(varint()) : header >> 4
        const items: Array<ThriftValue> = []
        for (let i = 0; i < size; i++) items.push(value(header & 0x0f))
        return items
      }
      case 12:
        return struct()
      default:
        throw new Error(`unexpected thrift type ${type}`)
    }
  }
  const struct = (): ThriftStruct => {
    const out: Record<number, ThriftValue> = {}
    let last = 0
    for (;;) {
      const header = byte()
      if (header === 0) return out
      const id = header >> 4 === 0 ? Number(zigzag()) : last + (header >> 4)
      last = id
      out[id] = value(header & 0x0f)
    }
  }
  const root = struct()
  const schema = root[2]
  const numRows = root[3]
  if (!Array.isArray(schema) || typeof numRows !== "bigint")
    throw new Error("footer without schema or num_rows")
  const columns = (schema as ReadonlyArray<ThriftStruct>).slice(1).map((el) => ({
    name: Buffer.from(el[4] as Uint8Array).toString("utf8"),
    type: el[1] as number | undefined,
    convertedType: el[6] as number | undefined,
    logicalType: el[10] as ThriftStruct | undefined
  }))
  return { numRows: Number(numRows), columns }
}

const dayFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((name) => name.startsWith("date="))
    .sort()

/** The rows of a Parquet file, read with hyparquet (the reader hyparquet-writer depends on). */
const parquetRowsOf = (bytes: Uint8Array): Promise<Array<Record<string, unknown>>> =>
  parquetReadObjects({
    file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  })

/** Every visible record of a sink directory, per day, parsed from the format's own files. */
const readAll = (format: FileSink.FileSinkFormat, dir: string) =>
  Effect.promise(() => readAllAsync(format, dir))

const readAllAsync = async (
  format: FileSink.FileSinkFormat,
  dir: string
): Promise<Map<string, Array<FileRecord>>> => {
  const out = new Map<string, Array<FileRecord>>()
  for (const dayDir of dayFiles(dir)) {
    const day = dayDir.slice("date=".length)
    const base = path.join(dir, dayDir)
    const records: Array<FileRecord> = []
    if (format === "ndjson") {
      const text = fs.readFileSync(path.join(base, "part.ndjson"), "utf8")
      expect(text.endsWith("\n")).toBe(true)
      for (const line of text.split("\n").filter((l) => l.length > 0)) {
        records.push({ raw: JSON.parse(line), rawText: line, exportedAt: undefined })
      }
    } else if (format === "csv") {
      const table = Csv.parse(fs.readFileSync(path.join(base, "part.csv"), "utf8"))
      if (typeof table === "string") throw new Error(table)
      expect(table[0]).toEqual([...FileSink.columns])
      for (const row of table.slice(1)) {
        expect(row).toHaveLength(10)
        const raw = JSON.parse(row[9]!)
        expect(row[0]).toBe(raw.id)
        expect(row[3]).toBe(raw.status)
        expect(row[6]).toBe(new Date(raw.dateStarted).toISOString())
        records.push({ raw, rawText: row[9]!, exportedAt: row[8] })
      }
    } else {
      const bytes = fs.readFileSync(path.join(base, "part.parquet"))
      const footer = readParquetFooter(bytes)
      expect(footer.columns.map((c) => c.name)).toEqual([...FileSink.columns])
      // No journal is left once the sink has closed or reopened: the Parquet file is the day.
      expect(fs.existsSync(path.join(base, ".part.ndjson"))).toBe(false)
      for (const row of await parquetRowsOf(bytes)) {
        const rawText = String(row.raw)
        records.push({
          raw: JSON.parse(rawText),
          rawText,
          exportedAt: row.exported_at instanceof Date ? row.exported_at.toISOString() : undefined
        })
      }
      expect(footer.numRows).toBe(records.length)
    }
    out.set(day, records)
  }
  return out
}

/** Checks the invariants of a directory: one file per day, ids once, sorted, no temp files. */
const checkConsistent = (format: FileSink.FileSinkFormat, dir: string) =>
  Effect.map(readAll(format, dir), (all) => checkRecords(dir, all))

const checkRecords = (dir: string, all: Map<string, Array<FileRecord>>) => {
  const ids = new Set<string>()
  for (const [day, records] of all) {
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      const id = String(r.raw.id)
      expect(ids.has(id), `duplicate id ${id}`).toBe(false)
      ids.add(id)
      expect(new Date(String(r.raw.dateStarted)).toISOString().slice(0, 10)).toBe(day)
      if (i > 0) {
        const p = records[i - 1]!
        const a = Date.parse(String(p.raw.dateStarted))
        const b = Date.parse(String(r.raw.dateStarted))
        expect(a < b || (a === b && String(p.raw.id) < id), `order at ${day}#${i}`).toBe(true)
      }
    }
  }
  const names = fs.readdirSync(dir, { recursive: true }).map(String)
  expect(names.filter((n) => path.basename(n).startsWith(".tmp-"))).toEqual([])
  return all
}

const byId = (all: Map<string, Array<FileRecord>>) => {
  const out = new Map<string, FileRecord>()
  for (const records of all.values()) for (const r of records) out.set(String(r.raw.id), r)
  return out
}

const rejectLines = (dir: string) => {
  const file = path.join(dir, "_rejects.ndjson")
  return fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
    : []
}

const formats: ReadonlyArray<FileSink.FileSinkFormat> = ["ndjson", "csv", "parquet"]

// ---------------------------------------------------------------------------------------------

describe.each(formats)("FileSink %s", (format) => {
  const open = (dir: string, maxOpenDays?: number) => FileSink.make(format, { dir, maxOpenDays })

  it.scoped("writes one file per start day, sorted by (dateStarted, id), records as received", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sink = yield* open(dir)
      const records = [
        exec("b", "2026-03-02T10:00:00.000Z", { extra: { nested: [1, 'x,"y"\n'] }, zFirst: true }),
        exec("a", "2026-03-02T10:00:00.000Z", {
          userId: "u1",
          workflowId: "w1",
          taskCount: 3,
          runDuration: 12
        }),
        exec("c", "2026-03-01T23:59:59.999Z", { dateEnded: "2026-03-02T00:00:01.000Z" }),
        exec("d", "2026-03-02T00:00:00.000Z", { status: "SOMETHING_NEW" })
      ]
      const result = yield* sink.writeBatch(batch(records))
      assert.deepStrictEqual(counts(result), { inserted: 4, updated: 0, unchanged: 0, rejected: 0 })
      const all = yield* checkConsistent(format, dir)
      assert.deepStrictEqual([...all.keys()], ["2026-03-01", "2026-03-02"])
      assert.deepStrictEqual(
        all.get("2026-03-02")!.map((r) => r.raw.id),
        ["d", "a", "b"]
      )
      for (const record of records) {
        assert.strictEqual(byId(all).get(record.id)?.rawText, JSON.stringify(record))
      }
      const status = yield* sink.status
      assert.strictEqual(status.rows, 4)
      assert.strictEqual(status.sink, `${format}:${dir}`)
    })
  )

  it.scoped(
    "upserts: a late record rewrites its old day, a status change updates in place, a re-run is a no-op",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const sink = yield* open(dir)
        yield* sink.writeBatch(
          batch([
            exec("old-1", "2026-03-01T08:00:00.000Z", { status: "EXECUTING" }),
            exec("new-1", "2026-03-05T08:00:00.000Z"),
            exec("new-2", "2026-03-05T09:00:00.000Z")
          ])
        )
        yield* TestClock.adjust("1 hour")
        const second = batch([
          exec("late-1", "2026-03-01T07:00:00.000Z", { late: true }),
          exec("old-1", "2026-03-01T08:00:00.000Z", {
            status: "SUCCEEDED",
            dateEnded: "2026-03-05T10:00:00.000Z"
          }),
          exec("new-2", "2026-03-05T09:00:00.000Z"),
          exec("new-3", "2026-03-05T10:00:00.000Z")
        ])
        assert.deepStrictEqual(counts(yield* sink.writeBatch(second)), {
          inserted: 2,
          updated: 1,
          unchanged: 1,
          rejected: 0
        })
        const all = yield* checkConsistent(format, dir)
        assert.deepStrictEqual(
          all.get("2026-03-01")!.map((r) => [r.raw.id, r.raw.status]),
          [
            ["late-1", "SUCCEEDED"],
            ["old-1", "SUCCEEDED"]
          ]
        )
        assert.deepStrictEqual(
          all.get("2026-03-05")!.map((r) => r.raw.id),
          ["new-1", "new-2", "new-3"]
        )
        if (format !== "ndjson") {
          const rows = byId(all)
          // exported_at moves only for rows that changed
          assert.strictEqual(rows.get("new-2")?.exportedAt, "1970-01-01T00:00:00.000Z")
          assert.strictEqual(rows.get("old-1")?.exportedAt, "1970-01-01T01:00:00.000Z")
        }
        const snapshot = (day: string) => {
          const file = path.join(dir, `date=${day}`, format === "parquet" ? "part.parquet" : `part.${format}`)
          return { bytes: fs.readFileSync(file).toString("base64"), ino: fs.statSync(file).ino }
        }
        const before = [snapshot("2026-03-01"), snapshot("2026-03-05")]
        yield* TestClock.adjust("1 hour")
        assert.deepStrictEqual(counts(yield* sink.writeBatch(second)), {
          inserted: 0,
          updated: 0,
          unchanged: 4,
          rejected: 0
        })
        // nothing changed, so no day file was rewritten
        assert.deepStrictEqual([snapshot("2026-03-01"), snapshot("2026-03-05")], before)
        assert.strictEqual((yield* sink.status).rows, 5)
      })
  )

  it.scoped("keeps state and rejects, survives a reopen, counts in status", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const reject: Reject = {
        id: "bad",
        raw: '{"id":"bad"}',
        reason: "dateStarted: missing",
        seenAt: "2026-03-05T00:00:00Z"
      }
      yield* Effect.scoped(
        Effect.gen(function* () {
          const sink = yield* open(dir)
          assert.isTrue(Option.isNone(yield* sink.loadState("s1")))
          const result = yield* sink.writeBatch(
            batch([exec("x", "2026-03-05T00:00:00.000Z")], {
              rejects: [reject, { ...reject, id: undefined }],
              state: state("s1", "2026-03-05T00:00:00.000Z", { page: 3 })
            })
          )
          assert.strictEqual(result.rejected, 2)
          yield* sink.writeBatch(batch([], { state: state("s2", "2026-03-04T00:00:00.000Z") }))
        })
      )
      assert.isFalse(fs.existsSync(path.join(dir, "_lock")))
      const sink = yield* open(dir)
      assert.deepStrictEqual(
        yield* sink.loadState("s1"),
        Option.some(state("s1", "2026-03-05T00:00:00.000Z", { page: 3 }))
      )
      const status = yield* sink.status
      assert.strictEqual(status.rows, 1)
      assert.strictEqual(status.rejects, 2)
      assert.deepStrictEqual(status.states.map((s) => s.streamKey).sort(), ["s1", "s2"])
      const lines = rejectLines(dir).map((l) => JSON.parse(l))
      assert.deepStrictEqual(
        { ...lines[0], key: undefined },
        {
          key: undefined,
          streamKey: "s1",
          id: "bad",
          reason: reject.reason,
          seenAt: reject.seenAt,
          raw: reject.raw
        }
      )
      assert.strictEqual(lines[1].id, null)
      // the same reject again (same stream, same id or same raw text) is stored once, also after a reopen
      yield* sink.writeBatch(
        batch([], { rejects: [reject, { ...reject, id: undefined }], state: state("s1", "h") })
      )
      assert.strictEqual((yield* sink.status).rejects, 2)
      assert.strictEqual(rejectLines(dir).length, 2)
    })
  )

  it.scoped("reads an old day back when a batch touches it after it left memory", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sink = yield* open(dir, 1)
      for (let d = 1; d <= 5; d++) {
        yield* sink.writeBatch(batch([exec(`d${d}`, `2026-03-0${d}T12:00:00.000Z`)]))
      }
      const result = yield* sink.writeBatch(
        batch([
          exec("d1", "2026-03-01T12:00:00.000Z", { status: "FAILED" }),
          exec("d1b", "2026-03-01T11:00:00.000Z")
        ])
      )
      assert.deepStrictEqual(counts(result), { inserted: 1, updated: 1, unchanged: 0, rejected: 0 })
      const all = yield* checkConsistent(format, dir)
      assert.deepStrictEqual(
        all.get("2026-03-01")!.map((r) => [r.raw.id, r.raw.status]),
        [
          ["d1b", "SUCCEEDED"],
          ["d1", "FAILED"]
        ]
      )
      assert.strictEqual((yield* sink.status).rows, 6)
    })
  )

  it.scoped("one batch over more days than maxOpenDays writes every day", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sink = yield* open(dir, 1)
      const records = Array.from({ length: 30 }, (_, i) =>
        exec(`m${i}`, `2026-03-${String(1 + (i % 10)).padStart(2, "0")}T0${i % 7}:00:00.000Z`)
      )
      assert.deepStrictEqual(counts(yield* sink.writeBatch(batch(records))), {
        inserted: 30,
        updated: 0,
        unchanged: 0,
        rejected: 0
      })
      assert.deepStrictEqual(counts(yield* sink.writeBatch(batch(records.slice().reverse()))), {
        inserted: 0,
        updated: 0,
        unchanged: 30,
        rejected: 0
      })
      const all = yield* checkConsistent(format, dir)
      assert.strictEqual(all.size, 10)
      assert.strictEqual(byId(all).size, 30)
      assert.strictEqual((yield* sink.status).rows, 30)
    })
  )

  it.scoped("a crash leaves temp files and an old state: reopening cleans up and reconciles", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const first = batch([exec("a", "2026-03-01T00:00:00.000Z")], {
        rejects: [{ id: "r1", raw: "{}", reason: "bad", seenAt: "2026-03-01T00:00:00Z" }],
        state: state("s", "2026-03-01T00:00:00.000Z", 1)
      })
      const second = batch(
        [exec("a", "2026-03-01T00:00:00.000Z", { status: "FAILED" }), exec("b", "2026-03-02T00:00:00.000Z")],
        {
          rejects: [{ id: "r2", raw: "{}", reason: "bad", seenAt: "2026-03-01T00:00:00Z" }],
          state: state("s", "2026-03-02T00:00:00.000Z", 2)
        }
      )
      yield* Effect.scoped(Effect.flatMap(open(dir), (sink) => sink.writeBatch(first)))
      const oldState = fs.readFileSync(path.join(dir, "_state.json"))
      yield* Effect.scoped(Effect.flatMap(open(dir), (sink) => sink.writeBatch(second)))
      // Simulate a crash after the data files and the rejects were written, before the state:
      // the old state file, a temp file of a half-written day, and a stale lock of a dead process.
      fs.writeFileSync(path.join(dir, "_state.json"), oldState)
      fs.writeFileSync(path.join(dir, "date=2026-03-01", ".tmp-123-part.ndjson"), '{"id":"half')
      fs.writeFileSync(path.join(dir, ".tmp-456-_state.json"), "{")
      fs.writeFileSync(path.join(dir, "_lock"), JSON.stringify({ pid: 2 ** 22 + 12345, token: "dead" }))
      if (format === "parquet") {
        // and a half-written Parquet temp file
        fs.writeFileSync(path.join(dir, "date=2026-03-01", ".tmp-789-part.parquet"), "PAR1")
      }
      const sink = yield* open(dir)
      assert.deepStrictEqual((yield* sink.loadState("s")).pipe(Option.map((s) => s.cursor)), Option.some(1))
      const status = yield* sink.status
      assert.strictEqual(status.rows, 2)
      // the rejects of the batch whose state was lost are dropped: the batch will be sent again
      assert.strictEqual(status.rejects, 1)
      assert.deepStrictEqual(
        rejectLines(dir).map((l) => JSON.parse(l).id),
        ["r1"]
      )
      const all = yield* checkConsistent(format, dir)
      assert.strictEqual(byId(all).get("a")?.raw.status, "FAILED")
      // re-sending the batch is idempotent
      assert.deepStrictEqual(counts(yield* sink.writeBatch(second)), {
        inserted: 0,
        updated: 0,
        unchanged: 2,
        rejected: 1
      })
      assert.strictEqual((yield* sink.status).rejects, 2)
      assert.strictEqual(byId(yield* checkConsistent(format, dir)).size, 2)
    })
  )

  it.scoped(
    "a batch that fails leaves the stored state as it was, and the next batch starts from the files",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const sink = yield* open(dir)
        yield* sink.writeBatch(batch([exec("a", "2026-03-01T00:00:00.000Z")], { state: state("s", "h1", 1) }))
        // a file where the directory of a day should go: writing that day fails
        fs.writeFileSync(path.join(dir, "date=2026-04-01"), "in the way")
        const failing = batch(
          [
            exec("a", "2026-03-01T00:00:00.000Z", { status: "FAILED" }),
            exec("b", "2026-04-01T00:00:00.000Z")
          ],
          { state: state("s", "h2", 2) }
        )
        const error = yield* Effect.flip(sink.writeBatch(failing))
        assert.strictEqual(error._tag, "SinkError")
        assert.include(error.message, "date=2026-04-01")
        assert.deepStrictEqual((yield* sink.loadState("s")).pipe(Option.map((s) => s.cursor)), Option.some(1))
        // the first day of the failed batch was replaced on disk: status says so, the state does not move
        assert.strictEqual((yield* sink.status).rows, 1)
        fs.rmSync(path.join(dir, "date=2026-04-01"))
        // the first day was already rewritten by the failed batch: the retry finds it unchanged
        assert.deepStrictEqual(counts(yield* sink.writeBatch(failing)), {
          inserted: 1,
          updated: 0,
          unchanged: 1,
          rejected: 0
        })
        assert.deepStrictEqual((yield* sink.loadState("s")).pipe(Option.map((s) => s.cursor)), Option.some(2))
        assert.strictEqual((yield* sink.status).rows, 2)
        assert.strictEqual(byId(yield* checkConsistent(format, dir)).get("a")?.raw.status, "FAILED")
      })
  )

  it.scoped("holds a single-writer lock", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* open(dir)
      const error = yield* Effect.flip(Effect.scoped(open(dir)))
      assert.strictEqual(error._tag, "SinkError")
      assert.strictEqual(error.operation, "lock")
      assert.match(error.message, /locked by this process/)
    })
  )

  it.live("refuses a lock held by a live process and takes over the lock of a dead one", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      fs.mkdirSync(dir, { recursive: true })
      const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
      const exited = new Promise((resolve) => child.once("exit", resolve))
      try {
        fs.writeFileSync(path.join(dir, "_lock"), JSON.stringify({ pid: child.pid, token: "other" }))
        const error = yield* Effect.flip(Effect.scoped(open(dir)))
        assert.strictEqual(error.operation, "lock")
        assert.include(error.message, `pid ${child.pid}`)
        if (fs.existsSync(`/proc/${child.pid}/stat`)) {
          const start = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]
          // the same pid and start time: still held
          fs.writeFileSync(path.join(dir, "_lock"), JSON.stringify({ pid: child.pid, start, token: "other" }))
          assert.strictEqual((yield* Effect.flip(Effect.scoped(open(dir)))).operation, "lock")
          // the same pid, another start time: the pid was reused, the lock is stale
          fs.writeFileSync(
            path.join(dir, "_lock"),
            JSON.stringify({ pid: child.pid, start: "1", token: "old" })
          )
          yield* Effect.scoped(open(dir))
          assert.isFalse(fs.existsSync(path.join(dir, "_lock")))
          fs.writeFileSync(path.join(dir, "_lock"), JSON.stringify({ pid: child.pid, token: "other" }))
        }
      } finally {
        child.kill("SIGKILL")
      }
      yield* Effect.promise(() => exited)
      yield* Effect.scoped(open(dir))
      assert.isFalse(fs.existsSync(path.join(dir, "_lock")))
    })
  )

  it.scoped("opens read-only beside a writer, for status", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const writer = yield* open(dir)
      const reader = yield* FileSink.make(format, { dir, readOnly: true })
      assert.strictEqual((yield* reader.status).rows, 0)
      yield* writer.writeBatch(batch([exec("a", "2026-03-01T00:00:00.000Z")], { state: state("s", "h", 7) }))
      const status = yield* reader.status
      assert.strictEqual(status.rows, 1)
      assert.deepStrictEqual(status.states, [state("s", "h", 7)])
      assert.deepStrictEqual(yield* reader.loadState("s"), Option.some(state("s", "h", 7)))
      const error = yield* Effect.flip(reader.writeBatch(batch([exec("b", "2026-03-01T00:00:00.000Z")])))
      assert.strictEqual(error.operation, "write batch")
    })
  )

  it.scoped("refuses a directory that holds another format", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const other = format === "csv" ? "ndjson" : "csv"
      yield* Effect.scoped(FileSink.make(other, { dir }))
      const error = yield* Effect.flip(Effect.scoped(open(dir)))
      assert.strictEqual(error.operation, "open")
      assert.include(error.message, `holds a ${other} export`)
    })
  )
})

// The behaviour the SQL sinks share holds for the file sinks too.
for (const format of formats) {
  let last = ""
  const fresh = () => {
    last = tempDir()
    return FileSink.layer(format, { dir: last })
  }
  sinkContract(
    `FileSink ${format} (sink contract)`,
    fresh,
    () => FileSink.layer(format, { dir: last }),
    (id) => Effect.map(readAll(format, last), (all) => byId(all).get(id)?.rawText)
  )
}

describe("FileSink deferParquet", () => {
  const parquetRows = (dir: string, day: string) => {
    const file = path.join(dir, `date=${day}`, "part.parquet")
    return fs.existsSync(file) ? readParquetFooter(fs.readFileSync(file)).numRows : undefined
  }
  const journalOf = (dir: string, day: string) => path.join(dir, `date=${day}`, ".part.ndjson")
  const journalLines = (dir: string, day: string) =>
    fs.existsSync(journalOf(dir, day))
      ? fs
          .readFileSync(journalOf(dir, day), "utf8")
          .split("\n")
          .filter((l) => l.length > 0).length
      : 0
  const sizeOf = (file: string) => (fs.existsSync(file) ? fs.statSync(file).size : 0)
  /** A record of ~300 bytes, so that a few fit in the journal beside a small Parquet file. */
  const wide = (id: string, at: string) => exec(id, at, { userId: `user-${id}`, note: "x".repeat(200) })

  it.scoped(
    "journals batches beside the Parquet file, rebuilt when the day leaves memory or the sink closes",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        yield* Effect.scoped(
          Effect.gen(function* () {
            const sink = yield* FileSink.make("parquet", { dir, deferParquet: true, maxOpenDays: 1 })
            // a new day is written whole: its Parquet file bounds the journal
            yield* sink.writeBatch(
              batch([1, 2, 3, 4, 5, 6].map((i) => wide(`a${i}`, `2026-03-01T0${i}:00:00Z`)))
            )
            assert.strictEqual(parquetRows(dir, "2026-03-01"), 6)
            yield* sink.writeBatch(batch([wide("a7", "2026-03-01T07:00:00Z")]))
            // deferred: the row waits in the journal, the Parquet file is not rebuilt
            assert.strictEqual(parquetRows(dir, "2026-03-01"), 6)
            assert.strictEqual(journalLines(dir, "2026-03-01"), 1)
            assert.strictEqual((yield* sink.status).rows, 7)
            yield* sink.writeBatch(batch([exec("b1", "2026-03-02T01:00:00Z")]))
            // day 1 left memory (maxOpenDays 1): rebuilt, its journal gone
            assert.strictEqual(parquetRows(dir, "2026-03-01"), 7)
            assert.strictEqual(fs.existsSync(journalOf(dir, "2026-03-01")), false)
            assert.strictEqual(parquetRows(dir, "2026-03-02"), 1)
            yield* sink.writeBatch(batch([exec("b2", "2026-03-02T02:00:00Z")]))
            assert.strictEqual(parquetRows(dir, "2026-03-02"), 1)
            assert.strictEqual((yield* sink.status).rows, 9)
          })
        )
        // closed: every journal is folded in
        assert.strictEqual(parquetRows(dir, "2026-03-02"), 2)
        assert.strictEqual(fs.existsSync(journalOf(dir, "2026-03-02")), false)
        const sink = yield* FileSink.make("parquet", { dir })
        assert.strictEqual((yield* sink.status).rows, 9)
        yield* checkConsistent("parquet", dir)
      })
  )

  it.scoped("the journal never outgrows the Parquet file beside it", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sink = yield* FileSink.make("parquet", { dir, deferParquet: true })
      const start = Date.parse("2026-03-01T00:00:00Z")
      let rebuilds = 0
      let last = 0
      for (let b = 0; b < 60; b++) {
        const records = Array.from({ length: 20 }, (_, i) =>
          wide(`e-${b}-${i}`, new Date(start + (b * 20 + i) * 1000).toISOString())
        )
        yield* sink.writeBatch(batch(records))
        const parquet = sizeOf(path.join(dir, "date=2026-03-01", "part.parquet"))
        assert.isAtMost(sizeOf(journalOf(dir, "2026-03-01")), parquet, `after batch ${b}`)
        if (parquet !== last) rebuilds++
        last = parquet
      }
      // rebuilt as the day grows geometrically, not once per batch
      assert.isBelow(rebuilds, 30)
      assert.strictEqual((yield* sink.status).rows, 1200)
    })
  )

  it.scoped("a sink killed before it rebuilt a deferred day folds its journal in when it opens again", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const copy = tempDir()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const sink = yield* FileSink.make("parquet", { dir, deferParquet: true })
          yield* sink.writeBatch(
            batch([1, 2, 3, 4, 5, 6].map((i) => wide(`a${i}`, `2026-03-01T0${i}:00:00Z`)))
          )
          // day 1 changed again (an update and a new row); its Parquet file is still deferred
          yield* sink.writeBatch(
            batch(
              [
                wide("a7", "2026-03-01T07:00:00Z"),
                { ...wide("a1", "2026-03-01T01:00:00Z"), status: "FAILED" }
              ],
              {
                state: state("s", "x")
              }
            )
          )
          assert.strictEqual(journalLines(dir, "2026-03-01"), 2)
          // the directory as a crash would leave it: copied while the sink is open
          fs.cpSync(dir, copy, { recursive: true })
        })
      )
      fs.rmSync(path.join(copy, "_lock"))
      assert.strictEqual(parquetRows(copy, "2026-03-01"), 6)
      const sink = yield* FileSink.make("parquet", { dir: copy })
      assert.strictEqual(parquetRows(copy, "2026-03-01"), 7)
      assert.strictEqual((yield* sink.status).rows, 7)
      const all = yield* checkConsistent("parquet", copy)
      assert.strictEqual(byId(all).get("a1")?.raw.status, "FAILED")
    })
  )

  it.scoped(
    "opens a directory of an earlier version (a sidecar .part.ndjson beside every day) as it is",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const records = [wide("a1", "2026-03-01T01:00:00Z"), wide("a2", "2026-03-01T02:00:00Z")]
        yield* Effect.scoped(
          Effect.flatMap(FileSink.make("parquet", { dir }), (sink) =>
            sink.writeBatch(batch([records[0]!], { state: state("s", "x", 1) }))
          )
        )
        // What the earlier layout held: the sidecar with every row of the day (one of them not yet in
        // the Parquet file, a deferred rebuild), the manifest naming the sidecar as the source.
        const ddir = path.join(dir, "date=2026-03-01")
        const sidecar = records
          .map((r) => `{"exported_at":"2026-03-01T03:00:00.000Z","raw":${JSON.stringify(r)}}\n`)
          .join("")
        fs.writeFileSync(path.join(ddir, ".part.ndjson"), sidecar)
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, "_state.json"), "utf8"))
        const stat = (file: string) => {
          const st = fs.statSync(file)
          return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }
        }
        manifest.days["2026-03-01"] = {
          rows: 2,
          source: stat(path.join(ddir, ".part.ndjson")),
          derived: stat(path.join(ddir, "part.parquet")),
          stale: true
        }
        fs.writeFileSync(path.join(dir, "_state.json"), JSON.stringify(manifest))
        const sink = yield* FileSink.make("parquet", { dir })
        assert.strictEqual((yield* sink.status).rows, 2)
        assert.deepStrictEqual((yield* sink.loadState("s")).pipe(Option.map((s) => s.cursor)), Option.some(1))
        assert.strictEqual(parquetRows(dir, "2026-03-01"), 2)
        const all = yield* checkConsistent("parquet", dir)
        assert.deepStrictEqual(
          [...byId(all).values()].map((r) => r.rawText),
          records.map((r) => JSON.stringify(r))
        )
      })
  )
})

describe("FileSink formats", () => {
  it.scoped("CSV quotes per RFC 4180 and keeps typed columns", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const record = exec("q,1", "2026-03-01T10:00:00Z", {
        userId: 'user "one"',
        workflowId: "w\nx",
        taskCount: 7,
        runDuration: 1500,
        dateEnded: "2026-03-01T10:00:01.500Z"
      })
      yield* Effect.scoped(
        Effect.flatMap(FileSink.make("csv", { dir }), (sink) => sink.writeBatch(batch([record])))
      )
      // read back (parsed from the CSV) by a new sink: the same record is unchanged
      const sink = yield* FileSink.make("csv", { dir })
      assert.deepStrictEqual(counts(yield* sink.writeBatch(batch([record]))), {
        inserted: 0,
        updated: 0,
        unchanged: 1,
        rejected: 0
      })
      const text = fs.readFileSync(path.join(dir, "date=2026-03-01", "part.csv"), "utf8")
      const raw = JSON.stringify(record).replace(/"/g, '""')
      assert.strictEqual(
        text,
        "id,user_id,workflow_id,status,task_count,run_duration_ms,date_started,date_ended,exported_at,raw\r\n" +
          `"q,1","user ""one""","w\nx",SUCCEEDED,7,1500,2026-03-01T10:00:00.000Z,2026-03-01T10:00:01.500Z,1970-01-01T00:00:00.000Z,"${raw}"\r\n`
      )
    })
  )

  it.scoped("Parquet has typed columns", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sink = yield* FileSink.make("parquet", { dir })
      yield* sink.writeBatch(
        batch([
          exec("p1", "2026-03-01T10:00:00Z", {
            taskCount: 2,
            runDuration: 10,
            dateEnded: "2026-03-01T10:00:01Z"
          }),
          exec("p2", "2026-03-01T11:00:00Z", { dateEnded: null })
        ])
      )
      const footer = readParquetFooter(fs.readFileSync(path.join(dir, "date=2026-03-01", "part.parquet")))
      assert.strictEqual(footer.numRows, 2)
      // physical types: 2 INT64, 6 BYTE_ARRAY; converted types: 0 UTF8, 9 TIMESTAMP_MILLIS;
      // logical types (a union): 1 STRING, 8 TIMESTAMP { 1: isAdjustedToUTC, 2: unit { 1: MILLIS } }
      const logical = (t: Record<number, unknown> | undefined) =>
        t === undefined ? undefined : t[1] !== undefined ? "STRING" : t[8] !== undefined ? t[8] : t
      const types = Object.fromEntries(
        footer.columns.map((c) => [c.name, [c.type, c.convertedType, logical(c.logicalType)]])
      )
      const utc = { 1: true, 2: { 1: {} } }
      assert.deepStrictEqual(types, {
        id: [6, 0, "STRING"],
        user_id: [6, 0, "STRING"],
        workflow_id: [6, 0, "STRING"],
        status: [6, 0, "STRING"],
        task_count: [2, undefined, undefined],
        run_duration_ms: [2, undefined, undefined],
        date_started: [2, 9, utc],
        date_ended: [2, 9, utc],
        exported_at: [2, 9, utc],
        raw: [6, 0, "STRING"]
      })
    })
  )

  it.live("Parquet values read back with hyparquet (the reader hyparquet-writer depends on)", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const records = [
        exec("p1", "2026-03-01T10:00:00Z", {
          userId: "u1",
          workflowId: "w1",
          taskCount: 2,
          runDuration: 10.4,
          dateEnded: "2026-03-01T10:00:01Z",
          extra: { k: [1, 2] }
        }),
        exec("p2", "2026-03-01T11:00:00.250Z", { status: "FAILED", dateEnded: null })
      ]
      yield* Effect.scoped(
        Effect.flatMap(FileSink.make("parquet", { dir }), (sink) => sink.writeBatch(batch(records)))
      )
      const bytes = fs.readFileSync(path.join(dir, "date=2026-03-01", "part.parquet"))
      const rows = yield* Effect.promise(() => parquetRowsOf(bytes))
      assert.deepStrictEqual(
        rows.map((r): Record<string, unknown> => ({ ...r, exported_at: undefined })),
        [
          {
            id: "p1",
            user_id: "u1",
            workflow_id: "w1",
            status: "SUCCEEDED",
            task_count: 2n,
            run_duration_ms: 10n,
            date_started: new Date("2026-03-01T10:00:00Z"),
            date_ended: new Date("2026-03-01T10:00:01Z"),
            exported_at: undefined,
            raw: JSON.stringify(records[0])
          },
          {
            id: "p2",
            user_id: null,
            workflow_id: null,
            status: "FAILED",
            task_count: null,
            run_duration_ms: null,
            date_started: new Date("2026-03-01T11:00:00.250Z"),
            date_ended: null,
            exported_at: undefined,
            raw: JSON.stringify(records[1])
          }
        ]
      )
      assert.instanceOf(rows[0]?.exported_at, Date)
    })
  )

  it.scoped("a batch of 1,000 records to a recent day appends without reading the day back", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sink = yield* FileSink.make("ndjson", { dir })
      const start = Date.parse("2026-03-01T00:00:00Z")
      const file = path.join(dir, "date=2026-03-01", "part.ndjson")
      const marker = JSON.stringify(exec("e-0-9999-marker", "2026-03-01T00:16:39.500Z"))
      for (let b = 0; b < 5; b++) {
        const records = Array.from({ length: 1000 }, (_, i) =>
          exec(`e-${b}-${String(i).padStart(4, "0")}`, new Date(start + (b * 1000 + i) * 1000).toISOString())
        )
        const result = yield* sink.writeBatch(batch(records))
        assert.strictEqual(result.inserted, 1000)
        // White-box proof that the day is not read back: a line added behind the sink's back after
        // the first batch is never indexed (an upsert of its id would count as an update otherwise),
        // and the next batches copy the file as it is and append their lines after it.
        if (b === 0) fs.appendFileSync(file, marker + "\n")
      }
      const lines = fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
      assert.strictEqual(lines.length, 5001)
      assert.strictEqual(lines[1000], marker)
      assert.strictEqual((yield* sink.status).rows, 5000)
      assert.deepStrictEqual(counts(yield* sink.writeBatch(batch([JSON.parse(marker)]))), {
        inserted: 1,
        updated: 0,
        unchanged: 0,
        rejected: 0
      })
    })
  )
})

// ---------------------------------------------------------------------------------------------
// Crash safety: a child process writes batches in a loop and is SIGKILLed at random points

/** The i-th batch of the crash workload: new records of a recent day, late records of older days,
 * status changes of the previous batch, one reject. Pure: its source is sent to the child. */
const crashBatch = (i: number) => {
  const base = Date.UTC(2026, 0, 1)
  const dayMs = 86_400_000
  const startOf = (b: number, j: number) =>
    new Date(base + Math.floor(b / 6) * dayMs + (b % 6) * 3_600_000 + j * 1000).toISOString()
  const records: Array<Record<string, unknown>> = []
  for (let j = 0; j < 150; j++) {
    records.push({
      id: `r-${i}-${j}`,
      status: "EXECUTING",
      dateStarted: startOf(i, j),
      taskCount: j,
      batch: i
    })
  }
  for (let j = 0; j < 10; j++) {
    const back = (i * 7 + (j % 3)) % (Math.floor(i / 6) + 1)
    records.push({
      id: `l-${i}-${j}`,
      status: "SUCCEEDED",
      dateStarted: new Date(base + back * dayMs + j * 60_000 + 59_000).toISOString(),
      batch: i
    })
  }
  if (i > 0) {
    for (let j = 0; j < 20; j++) {
      records.push({
        id: `r-${i - 1}-${j * 7}`,
        status: j % 2 === 0 ? "SUCCEEDED" : "FAILED",
        dateStarted: startOf(i - 1, j * 7),
        taskCount: j * 7,
        batch: i,
        runDuration: 1000 + j
      })
    }
  }
  const rejects = [
    {
      id: `bad-${i}`,
      raw: `{"id":"bad-${i}"}`,
      reason: "dateStarted: missing",
      seenAt: "2026-01-01T00:00:00.000Z"
    }
  ]
  return { records, rejects }
}

const CRASH_BATCHES = 16

const expectedAfter = (n: number) => {
  const out = new Map<string, string>()
  for (let i = 0; i < n; i++) for (const r of crashBatch(i).records) out.set(String(r.id), JSON.stringify(r))
  return out
}

const childScript = (format: FileSink.FileSinkFormat, dir: string, deferParquet: boolean) => `
import { Effect, Option } from "effect"
import { Sink } from "./dist/Sink.js"
import * as FileSink from "./dist/FileSink.js"
const crashBatch = ${crashBatch.toString()}
const program = Effect.gen(function* () {
  const sink = yield* Sink
  const stored = yield* sink.loadState("crash")
  let next = Option.isSome(stored) ? stored.value.cursor : 0
  process.stdout.write("ready " + next + "\\n")
  for (; next < ${CRASH_BATCHES}; next++) {
    const b = crashBatch(next)
    yield* sink.writeBatch({ records: b.records, rejects: b.rejects, state: { streamKey: "crash", highWaterMark: undefined, longestRunMs: 0, lastRunAt: undefined, cursor: next + 1 } })
  }
})
await Effect.runPromise(Effect.provide(program, FileSink.layer(${JSON.stringify(format)}, { dir: ${JSON.stringify(dir)}, maxOpenDays: 2, deferParquet: ${deferParquet} })))
process.stdout.write("done\\n")
`

/** Runs the child; kills it `killAfterMs` after it is ready (or lets it finish). Resolves its stdout. */
const runChild = (
  format: FileSink.FileSinkFormat,
  dir: string,
  deferParquet: boolean,
  killAfterMs: number | undefined
) =>
  new Promise<string>((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ["--input-type=module", "-e", childScript(format, dir, deferParquet)],
      {
        cwd: packageDir,
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let out = ""
    let err = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (killAfterMs !== undefined && out.includes("ready")) {
        setTimeout(() => child.kill("SIGKILL"), killAfterMs).unref()
      }
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.once("error", reject)
    child.once("exit", (code, signal) => {
      if (code === 0 || signal === "SIGKILL") resolve(out)
      else reject(new Error(`child exited with ${code}: ${err}`))
    })
  })

const crashCases: ReadonlyArray<readonly [string, FileSink.FileSinkFormat, boolean]> = [
  ["ndjson", "ndjson", false],
  ["csv", "csv", false],
  ["parquet", "parquet", false],
  ["parquet (deferParquet)", "parquet", true]
]

// The cases run concurrently: most of their time is child start-up and fsync.
describe.concurrent("FileSink crash safety", () => {
  for (const [label, format, deferParquet] of crashCases)
    it.live(
      `${label}: SIGKILL at random points never loses, duplicates or half-writes anything`,
      () =>
        Effect.gen(function* () {
          const dir = tempDir()
          const kills = [40, 160].map((ms) => Math.floor(ms * (0.5 + Math.random())))
          for (const killAfterMs of [...kills, undefined]) {
            yield* Effect.promise(() => runChild(format, dir, deferParquet, killAfterMs))
            yield* Effect.scoped(
              Effect.gen(function* () {
                const sink = yield* FileSink.make(format, { dir })
                const stored = yield* sink.loadState("crash")
                const done = Option.match(stored, { onNone: () => 0, onSome: (s) => Number(s.cursor) })
                const all = yield* checkConsistent(format, dir)
                const found = byId(all)
                const status = yield* sink.status
                assert.strictEqual(status.rows, found.size, "status counts the rows of the files")
                assert.strictEqual(status.rejects, done, "one reject per committed batch")
                assert.strictEqual(rejectLines(dir).length, done)
                const now = expectedAfter(done)
                const ahead = expectedAfter(Math.min(done + 1, CRASH_BATCHES))
                for (const [id, raw] of now) {
                  const got = found.get(id)?.rawText
                  assert.isTrue(got === raw || got === ahead.get(id), `row ${id} after ${done} batches`)
                }
                for (const [id, record] of found) {
                  assert.isTrue(
                    ahead.get(id) === record.rawText || now.get(id) === record.rawText,
                    `unexpected row ${id}`
                  )
                }
                if (killAfterMs === undefined) {
                  assert.strictEqual(done, CRASH_BATCHES)
                  assert.deepStrictEqual(
                    new Map([...found].map(([id, r]) => [id, r.rawText])),
                    expectedAfter(CRASH_BATCHES)
                  )
                }
              })
            )
          }
        }),
      120_000
    )
})
