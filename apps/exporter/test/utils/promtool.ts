import { spawnSync } from "node:child_process"

/** The `promtool` binary (Debian's `prometheus` package), when installed. */
export const promtool: string | undefined = (() => {
  const found = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" })
  const path = found.stdout.trim()
  return found.status === 0 && path.length > 0 ? path : undefined
})()

/** Why the promtool tests are skipped, printed once when they are. */
export const skipNotice =
  "promtool not found: the promtool checks are skipped. Install it with `apt-get install -y prometheus` (Debian; .ci/run does) to run them."

if (promtool === undefined) console.warn(skipNotice)

/** Runs `promtool args` with `input` on stdin. */
export const runPromtool = (args: ReadonlyArray<string>, input?: string) => {
  const result = spawnSync(promtool ?? "promtool", args, { input, encoding: "utf8", timeout: 60_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}
