/**
 * Spawning the built `taskhistory-exporter` against a simulator in the test process, and reading
 * what it wrote.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { RunningSimulator } from "@taskhistory/simulator"
import { Effect } from "effect"

export const binPath = fileURLToPath(new URL("../../dist/bin.js", import.meta.url))

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface Running {
  readonly child: ChildProcess
  readonly done: Promise<Result>
  readonly stdout: () => string
  readonly stderr: () => string
}

const live = new Set<ChildProcess>()

/** Kills every child still running (call in afterEach/afterAll). */
export const killAll = () => {
  for (const child of live) child.kill("SIGKILL")
  live.clear()
}

/**
 * The child's environment: `env` over a minimal one. Tests run schedules of a second or so, below
 * the binary's 10 s minimum of `--every`, so `TASKHISTORY_MIN_EVERY` is 1ms unless `env` sets it;
 * a variable given as `""` is left out.
 */
const childEnv = (env: Record<string, string>): Record<string, string> => {
  const all: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    NO_COLOR: "1",
    TASKHISTORY_MIN_EVERY: "1ms",
    ...env
  }
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== ""))
}

/** Starts the binary; `done` resolves when it exits (or is killed after `timeoutMs`). */
export const spawnBin = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly cwd?: string; readonly timeoutMs?: number; readonly bin?: string } = {}
): Running => {
  const child = spawn(process.execPath, [options.bin ?? binPath, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  live.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
  const done = new Promise<Result>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, done, stdout: () => stdout, stderr: () => stderr }
}

/** Runs the binary to completion. */
export const runBin = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly cwd?: string; readonly timeoutMs?: number; readonly bin?: string } = {}
): Promise<Result> => spawnBin(args, env, options).done

/** The environment that points the binary at a simulator. */
export const simEnv = (
  sim: RunningSimulator,
  extra: Record<string, string> = {}
): Record<string, string> => ({
  PARAGON_BASE_URL: sim.url,
  PARAGON_PROJECT_ID: sim.projectId,
  PARAGON_API_KEY: sim.apiKey,
  PARAGON_RATE_LIMIT: "100000/1s",
  ...extra
})

/** A fresh temporary directory, removed by the returned function. */
export const tempDir = (): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), "taskhistory-exporter-test-"))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** A writer of files in `dir`: `(name, text)` writes `dir/name` and returns its path. */
export const writeIn =
  (dir: string) =>
  (name: string, text: string): string => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }

/** Waits until `predicate` holds, polling every `everyMs`, at most `timeoutMs`. */
export const waitFor = async (
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  everyMs = 5
): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await predicate()) return true
    await new Promise((r) => setTimeout(r, everyMs))
  }
  return predicate()
}

/** Every row of `workflow_executions` in a SQLite file: id -> parsed raw record; plus the row count. */
export const readSqlite = (
  path: string
): Promise<{ readonly rows: Map<string, unknown>; readonly count: number; readonly rejects: number }> =>
  Effect.gen(function* () {
    const sql = yield* SqliteClient.SqliteClient
    const rows = yield* sql<{ id: string; raw: string }>`SELECT id, raw FROM workflow_executions`
    const rejects = yield* sql<{ n: number }>`SELECT count(*) AS n FROM export_rejects`.pipe(
      Effect.orElseSucceed(() => [{ n: 0 }])
    )
    const map = new Map<string, unknown>()
    for (const row of rows) map.set(row.id, JSON.parse(row.raw))
    return { rows: map, count: rows.length, rejects: rejects[0]?.n ?? 0 }
  }).pipe(
    Effect.provide(SqliteClient.layer({ filename: path, readonly: true })),
    Effect.scoped,
    Effect.runPromise
  )

/**
 * Compares stored rows with the simulator's visible dataset: every visible execution is stored
 * once with the values served; rows not in the dataset must be in `allowedExtra` (expired ones).
 * Returns a list of differences (empty when equal).
 */
export const diff = (
  rows: Map<string, unknown>,
  dataset: ReadonlyArray<Readonly<Record<string, unknown>>>,
  allowedExtra: ReadonlySet<string> = new Set()
): Array<string> => {
  const out: Array<string> = []
  const ids = new Set<string>()
  for (const record of dataset) {
    const id = String(record.id)
    ids.add(id)
    if (!rows.has(id)) out.push(`missing ${id}`)
    else if (JSON.stringify(sortKeys(rows.get(id))) !== JSON.stringify(sortKeys(record))) {
      out.push(`different ${id}: stored ${JSON.stringify(rows.get(id))} served ${JSON.stringify(record)}`)
    }
  }
  for (const id of rows.keys()) if (!ids.has(id) && !allowedExtra.has(id)) out.push(`extra ${id}`)
  return out.slice(0, 20)
}

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)])
    )
  }
  return value
}

/** A small deterministic PRNG (mulberry32) for kill points. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
