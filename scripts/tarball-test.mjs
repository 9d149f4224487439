// What a user gets from npm: packs every published package (as `pnpm publish` would), installs
// the tarballs with npm into an empty folder whose path has a space, and there uses each package
// as its README says: the `taskhistory` binary (--help, list, replay) against the simulator
// started from its own tarball's binary, `taskhistory-exporter run --once` into SQLite (and the
// one-line error without the SQLite binding), the root README's Effect example and the Promise
// client's README examples typechecked (`tsc --strict`, module nodenext) and run, the client and
// the core `require`d from CommonJS. Then the CLI alone, in a second folder, with nothing else.
// Usage: node scripts/tarball-test.mjs [--keep]   (after pnpm build; needs the npm registry for
// effect and friends; better-sqlite3 compiles from source where no prebuilt binary downloads:
// npm_config_nodedir=/usr is set for it when unset)
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pack, publishedPackages, root } from "./lib/workspace.mjs"

const keep = process.argv.includes("--keep")
const started = performance.now()
const base = mkdtempSync(join(tmpdir(), "taskhistory tarballs "))
const packs = join(base, "packs")
const app = join(base, "an app")
const cliAlone = join(base, "cli alone")
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a script run outside turbo
const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? "/usr", NO_COLOR: "1" }
delete env.NODE_OPTIONS
let passed = 0
let failed = 0
const results = []

const check = async (name, body) => {
  const t = performance.now()
  try {
    await body()
    passed++
    results.push(`ok - ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)`)
    console.log(results.at(-1))
  } catch (error) {
    failed++
    results.push(`not ok - ${name}: ${error instanceof Error ? error.message : String(error)}`)
    console.log(results.at(-1))
  }
}
const assert = (condition, message) => {
  if (!condition) throw new Error(message)
}
/** Runs a command in `cwd`; returns { status, stdout, stderr }. */
const sh = (cwd, command, args, extraEnv = {}) => {
  const r = spawnSync(command, args, {
    cwd,
    env: { ...env, ...extraEnv },
    encoding: "utf8",
    maxBuffer: 256 << 20
  })
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}
const ok = (r, what) => {
  assert(
    r.status === 0,
    `${what} exited ${r.status}: ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ")}`
  )
  return r
}
const npm = (cwd, args) =>
  ok(sh(cwd, "npm", ["--no-audit", "--no-fund", "--loglevel=error", ...args]), `npm ${args[0]}`)
const bin = (dir, name) => join(dir, "node_modules", ".bin", name)

/** The first ```ts block after `heading` in a README. */
const example = (readme, heading) => {
  const text = readFileSync(join(root, readme), "utf8")
  const at = text.indexOf(`\n${heading}\n`)
  assert(at >= 0, `${readme} has no "${heading}"`)
  const m = /```ts\n([\s\S]*?)```/.exec(text.slice(at))
  assert(m !== null, `${readme}: no ts block under "${heading}"`)
  return m[1]
}

const packages = publishedPackages()
const tarballs = new Map()
let simulator
try {
  await check(`pack ${packages.length} packages (LICENSE in each, no workspace: ranges)`, () => {
    mkdirSync(packs)
    for (const pkg of packages) {
      const file = pack(pkg, packs)
      tarballs.set(pkg.name, file)
      const listing = execFileSync("tar", ["tzf", file], { encoding: "utf8" }).split("\n")
      assert(listing.includes("package/LICENSE"), `${pkg.name}: no LICENSE in the tarball`)
      assert(listing.includes("package/README.md"), `${pkg.name}: no README in the tarball`)
      const manifest = execFileSync("tar", ["xzfO", file, "package/package.json"], { encoding: "utf8" })
      assert(
        !manifest.includes("workspace:"),
        `${pkg.name}: a workspace: range in the published package.json`
      )
    }
  })

  await check("npm installs every tarball into a folder with a space in its path", () => {
    mkdirSync(app)
    writeFileSync(
      join(app, "package.json"),
      `${JSON.stringify({ name: "an-app", private: true, type: "module" }, null, 2)}\n`
    )
    // What the READMEs tell users to install, plus the compiler for the typecheck below.
    npm(app, [
      "install",
      ...tarballs.values(),
      "effect@^3.22.4",
      "@effect/platform@^0.97.2",
      "@effect/platform-node@^0.108.2",
      "better-sqlite3@^12",
      "typescript@5.9.3",
      "@types/node@20.19.43",
      // @effect/platform-node's declarations import "ws" (skipLibCheck is off below)
      "@types/ws@^8"
    ])
    const tree = JSON.parse(sh(app, "npm", ["ls", "effect", "--all", "--json"]).stdout)
    const versions = new Set()
    const walk = (node) => {
      for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
        if (name === "effect") versions.add(dep.version)
        walk(dep)
      }
    }
    walk(tree)
    assert(versions.size === 1, `one copy of effect expected, found ${[...versions].join(", ")}`)
  })

  await check("taskhistory-simulator (from its tarball) starts", async () => {
    const child = spawn(
      bin(app, "taskhistory-simulator"),
      ["--port", "0", "--records", "3000", "--seed", "1"],
      {
        cwd: app,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    simulator = { child, env: {} }
    let out = ""
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no address after 20 s: ${out}`)), 20_000)
      child.stdout.on("data", (b) => {
        out += b
        if (out.includes("PARAGON_API_KEY=")) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.on("exit", (code) => reject(new Error(`exited ${code}`)))
    })
    for (const m of out.matchAll(/^export (PARAGON_[A-Z_]+)=(.*)$/gm)) simulator.env[m[1]] = m[2]
    assert(simulator.env.PARAGON_BASE_URL?.startsWith("http://127.0.0.1:"), `no base URL in: ${out}`)
  })
  const api = () => ({ ...simulator.env, PARAGON_RATE_LIMIT: "1000/1s" })

  await check("taskhistory --help and --version", () => {
    const help = ok(sh(app, bin(app, "taskhistory"), ["--help"]), "taskhistory --help")
    assert(help.stdout.includes("executions"), "--help does not list the commands")
    const version = ok(sh(app, bin(app, "taskhistory"), ["--version"]), "taskhistory --version")
    assert(
      version.stdout.trim() === packages.find((p) => p.name === "@taskhistory/cli").version,
      `--version printed ${version.stdout}`
    )
  })

  let firstId
  await check("taskhistory executions list (ndjson) against the simulator", () => {
    const r = ok(
      sh(app, bin(app, "taskhistory"), ["executions", "list", "--limit", "150", "--format", "ndjson"], api()),
      "list"
    )
    const lines = r.stdout.trim().split("\n")
    assert(lines.length === 150, `expected 150 lines, got ${lines.length}`)
    firstId = JSON.parse(lines[0]).id
  })

  await check("taskhistory executions replay <id>", () => {
    const r = ok(sh(app, bin(app, "taskhistory"), ["executions", "replay", firstId], api()), "replay")
    const ids = r.stdout.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? []
    assert(
      ids.some((id) => id !== firstId),
      `replay printed no new execution: ${r.stdout.slice(0, 200)}`
    )
  })

  await check("taskhistory-exporter run --once into SQLite, then status", () => {
    const sink = "sqlite:./export dir/taskhistory.db"
    // The exporter refuses a database whose directory does not exist (it no longer creates it).
    mkdirSync(join(app, "export dir"), { recursive: true })
    ok(sh(app, bin(app, "taskhistory-exporter"), ["run", "--once", "--sink", sink], api()), "exporter run")
    const count = ok(
      sh(app, process.execPath, [
        "-e",
        "const D = require('better-sqlite3'); console.log(new D('./export dir/taskhistory.db').prepare('select count(*) n from workflow_executions').get().n)"
      ]),
      "count rows"
    )
    assert(Number(count.stdout) >= 3000, `expected >= 3000 rows, got ${count.stdout}`)
    const version = ok(sh(app, bin(app, "taskhistory-exporter"), ["--version"]), "exporter --version")
    assert(
      version.stdout.trim() === packages.find((p) => p.name === "@taskhistory/exporter").version,
      `--version printed ${version.stdout}`
    )
  })

  await check("without better-sqlite3's native binding: exit 2 and one line naming the fix", () => {
    const build = join(app, "node_modules", "better-sqlite3", "build")
    renameSync(build, `${build}.away`)
    try {
      const r = sh(
        app,
        bin(app, "taskhistory-exporter"),
        ["run", "--once", "--sink", "sqlite:./other.db"],
        api()
      )
      assert(r.status === 2, `exit ${r.status}, expected 2: ${r.stderr}`)
      const lines = r.stderr
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("error:"))
      assert(lines.length === 1 && lines[0].includes("npm rebuild better-sqlite3"), `stderr: ${r.stderr}`)
    } finally {
      renameSync(`${build}.away`, build)
    }
  })

  await check("the READMEs' examples typecheck with tsc --strict (module nodenext)", () => {
    writeFileSync(join(app, "effect-example.ts"), example("README.md", "## Using the library"))
    writeFileSync(join(app, "client-example.ts"), example("packages/client/README.md", "## Example"))
    writeFileSync(join(app, "without-effect.ts"), example("README.md", "## Without Effect"))
    writeFileSync(
      join(app, "tsconfig.json"),
      `${JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            module: "nodenext",
            moduleResolution: "nodenext",
            target: "es2022",
            types: ["node"],
            outDir: "out"
          },
          files: ["effect-example.ts", "client-example.ts", "without-effect.ts"]
        },
        null,
        2
      )}\n`
    )
    ok(sh(app, bin(app, "tsc"), ["-p", "."]), "tsc")
  })

  await check("the root README's Effect example runs", () => {
    const r = ok(sh(app, process.execPath, ["out/effect-example.js"], api()), "effect example")
    assert(/FAILED/.test(r.stdout + r.stderr), "the example logged no failed execution")
  })

  await check("the Promise client's README examples run", () => {
    const r = ok(sh(app, process.execPath, ["out/client-example.js"], api()), "client example")
    assert(
      r.stdout.includes("failed:") && r.stdout.includes("not_found 404"),
      `output: ${r.stdout.slice(-300)}`
    )
    ok(sh(app, process.execPath, ["out/without-effect.js"], api()), "without-effect example")
  })

  await check("require() from CommonJS: the client (a count) and the core", () => {
    writeFileSync(
      join(app, "from-commonjs.cjs"),
      `const { TaskHistory, NotFoundError } = require("@taskhistory/client")
const core = require("@taskhistory/core")
if (typeof core.TaskHistoryClient.layer !== "object") throw new Error("core: no TaskHistoryClient.layer")
const th = new TaskHistory({ apiKey: process.env.PARAGON_API_KEY, projectId: process.env.PARAGON_PROJECT_ID, baseUrl: process.env.PARAGON_BASE_URL })
th.executions.count({ status: "failed" })
  .then((n) => th.executions.get("nope").catch((e) => { console.log(n, e instanceof NotFoundError, e.status) }))
  .finally(() => th.close())
`
    )
    const r = ok(sh(app, process.execPath, ["from-commonjs.cjs"], api()), "from-commonjs.cjs")
    assert(/^\d+ true 404$/.test(r.stdout.trim()), `output: ${r.stdout}`)
  })

  await check("npm i of the CLI tarball alone (no optional driver): --help and a list work", () => {
    mkdirSync(cliAlone)
    writeFileSync(join(cliAlone, "package.json"), '{ "name": "cli-alone", "private": true }\n')
    npm(cliAlone, ["install", "--omit=optional", tarballs.get("@taskhistory/cli")])
    ok(sh(cliAlone, bin(cliAlone, "taskhistory"), ["--help"]), "--help")
    const r = ok(sh(cliAlone, bin(cliAlone, "taskhistory"), ["executions", "count"], api()), "count")
    assert(Number(r.stdout.trim().replace(/,/g, "")) >= 3000, `count printed ${r.stdout}`)
  })
} finally {
  if (simulator !== undefined) simulator.child.kill("SIGTERM")
  if (keep) console.log(`kept ${base}`)
  else rmSync(base, { recursive: true, force: true })
}
console.log(
  `tarballs: ${passed} passed, ${failed} failed (${((performance.now() - started) / 1000).toFixed(0)} s)`
)
process.exit(failed > 0 ? 1 : 0)
