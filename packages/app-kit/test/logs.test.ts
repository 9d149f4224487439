/**
 * Logs on stderr only: a binary on `Main.runMain` (the built one, `dist/Main.js`) whose command
 * logs at every level and writes data prints the data alone on stdout, every log line on stderr.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"

const script = fileURLToPath(new URL("./fixtures/logs-main.mjs", import.meta.url))

describe("Main.runMain", () => {
  it("writes logs on stderr only, never among the data on stdout", async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(process.execPath, [script], { encoding: "utf8", timeout: 60_000 }, (error, out, err) => {
          resolve({
            code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
            stdout: out,
            stderr: err
          })
        })
      }
    )
    expect(code, stderr).toBe(0)
    expect(stdout).toBe("data\n")
    for (const line of ["an info line", "a warning line", "an error line"]) expect(stderr).toContain(line)
  }, 60_000)
})
