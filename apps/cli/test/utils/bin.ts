/**
 * Running the BUILT `taskhistory` binary (dist/bin.js: run `pnpm build` first) as a user would,
 * in the environment of the test process without any variable of ours, against a simulator.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { RunningSimulator } from "@taskhistory/simulator"

export const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url))

export interface Result {
  /** The exit code; -1 when the process was killed (by the timeout, or a signal). */
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** Wall time from start to exit. */
  readonly ms: number
}

/** The test process's environment without any `PARAGON_` or `TASKHISTORY_` variable, plus `extra`. */
export const cleanEnv = (extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PARAGON_") && !k.startsWith("TASKHISTORY_")) env[k] = v
  }
  return { ...env, ...extra }
}

/** `cleanEnv` pointing the binary at a simulator (its address, project and key), plus `extra`. */
export const simEnv = (sim: RunningSimulator, extra: Record<string, string> = {}): Record<string, string> =>
  cleanEnv({
    PARAGON_BASE_URL: sim.url,
    PARAGON_PROJECT_ID: sim.projectId,
    PARAGON_API_KEY: sim.apiKey,
    ...extra
  })

/** Runs the binary to completion; never rejects (a failure is its exit code and stderr). */
export const run = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly timeoutMs?: number } = {}
): Promise<Result> =>
  new Promise((resolve) => {
    const started = Date.now()
    execFile(
      process.execPath,
      [bin, ...args],
      { env, encoding: "utf8", timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout, stderr, ms: Date.now() - started })
      }
    )
  })

/** The non-empty lines of a text. */
export const lines = (text: string): Array<string> => text.split("\n").filter((l) => l !== "")
