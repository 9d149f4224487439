import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { request } from "./helpers.js"

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once("exit", (code) => resolve(code))
  })

const readEnv = (child: ChildProcess) =>
  new Promise<Record<string, string>>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const env: Record<string, string> = {}
      for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!
      if (env.PARAGON_API_KEY !== undefined) resolve(env)
    })
    child.once("exit", (code) => reject(new Error(`exited with ${code} before printing its environment`)))
  })

describe("taskhistory-simulator", () => {
  it.live("prints the environment, serves the API, and exits 0 on SIGTERM", () =>
    Effect.gen(function* () {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(
            process.execPath,
            [bin, "--port", "0", "--records", "300", "--seed", "5", "--rate-limit", "100/1m"],
            {
              stdio: ["ignore", "pipe", "pipe"]
            }
          )
        ),
        (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
      )
      let stderr = ""
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8")
      })
      const env = yield* Effect.promise(() => readEnv(child))
      expect(env.PARAGON_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const answer = yield* request(
        `${env.PARAGON_BASE_URL}/projects/${env.PARAGON_PROJECT_ID}/task-history/workflow-executions`,
        { headers: { authorization: `Bearer ${env.PARAGON_API_KEY}` } }
      )
      expect(answer.status).toBe(200)
      expect((answer.json as { total: number }).total).toBe(300)
      expect(stderr).toContain("serving 300 executions")
      child.kill("SIGTERM")
      expect(yield* Effect.promise(() => exited(child))).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.live("a bad flag is a one-line error and exit code 2", () =>
    Effect.gen(function* () {
      for (const args of [["--records", "many"], ["--bogus"], ["--rate-limit", "fast"], ["--port"]]) {
        const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
        let stderr = ""
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8")
        })
        const code = yield* Effect.promise(() => exited(child))
        expect(code, args.join(" ")).toBe(2)
        expect(stderr.trim().split("\n").length).toBe(1)
        expect(stderr).toContain("taskhistory-simulator:")
      }
    })
  )
})
