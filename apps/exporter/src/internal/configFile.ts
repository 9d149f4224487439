/**
 * The streams file of `run --config FILE` (YAML, the contract's schema):
 *
 * ```yaml
 * streams:
 *   - name: prod                     # metric label, log prefix: letters, digits, . _ -
 *     projectId: 9f6b...             # the Paragon project
 *     apiKeyEnv: PROD_PARAGON_KEY    # or apiKeyFile: ./prod.key (relative to this file)
 *     baseUrl: https://api.useparagon.com
 *     rateLimit: 1000/10m
 *     rateLimitRedis: redis://redis:6379
 *     sink: postgres://exporter@db:5432/analytics?schema=prod
 *     every: 15m                     # or schedule: "0 * * * *"
 *     filters: { status: FAILED }    # integration, workflowId, userId, status
 *     steps: failed                  # none | failed | all
 * ```
 *
 * Checked whole before anything runs, with the alerts file's machinery ({@link YamlFields}): a
 * bad file is one `InvalidInput` naming the file, the line and the field (exit code 2). An API key
 * written in the file (a field such as `apiKey`, `token` or `secret`, a JWT-shaped value, or the
 * value of a key the environment holds) is refused before any other check, without showing it:
 * a config file is the kind of file that gets committed. Keys come from the environment
 * (`apiKeyEnv`) or from a key file (`apiKeyFile`, read with the bounded key-file reader).
 *
 * @internal
 */

import { createHash } from "node:crypto"
import { statSync } from "node:fs"
import { dirname, isAbsolute, resolve } from "node:path"
import type { FileSystem } from "@effect/platform/FileSystem"
import * as ConnectionOptions from "@taskhistory/app-kit/ConnectionOptions"
import * as FilterOptions from "@taskhistory/app-kit/FilterOptions"
import * as InputFile from "@taskhistory/app-kit/InputFile"
import * as Main from "@taskhistory/app-kit/Main"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type * as Exporter from "@taskhistory/export/Exporter"
import * as SinkSpec from "@taskhistory/export/SinkSpec"
import { type Duration, Effect, Either, Option, Redacted } from "effect"
import { isMap, isScalar, isSeq, type Node } from "yaml"
import * as RunSchedule from "../RunSchedule.js"
import * as YamlFields from "./yamlFields.js"

/** Where a stream's API key comes from. */
export type KeySource =
  | { readonly _tag: "Env"; readonly name: string }
  | { readonly _tag: "File"; readonly path: string }

/** One stream of the file, checked; its key not read yet. */
export interface StreamEntry {
  readonly name: string
  readonly projectId: string
  readonly keySource: KeySource
  /** `FILE:LINE streams[i].apiKeyEnv` (or `.apiKeyFile`): where errors about the key point. */
  readonly keyWhere: string
  readonly baseUrl: string | undefined
  readonly rateLimit: string | undefined
  /** `FILE:LINE streams[i].rateLimit`, for a rate limit that disagrees with another stream's. */
  readonly rateLimitWhere: string
  readonly rateLimitRedis: Redacted.Redacted<string> | undefined
  /** The sink as written (a postgres:// URL is registered as a secret). */
  readonly sink: string
  readonly sinkSpec: SinkSpec.SinkSpec
  readonly schedule: RunSchedule.RunSchedule
  readonly filters: Exporter.Filters
  readonly steps: "none" | "failed" | "all"
}

/** A stream with its key. */
export interface Stream extends StreamEntry {
  readonly apiKey: Redacted.Redacted<string>
}

/** @internal */
export interface StreamsConfig {
  readonly file: string
  readonly streams: ReadonlyArray<Stream>
}

/** What checking the file needs besides its text. */
export interface ParseOptions {
  /** The shortest `every:` accepted (`--min-every`). */
  readonly minEvery: Duration.Duration
  /** The time zone of `schedule:` expressions (`--timezone`). */
  readonly timezone?: string | undefined
  /** The environment (names of key variables, and keys it holds that must not be written inline). */
  readonly env: (name: string) => string | undefined
  /** Keys known to the environment: a value in the file equal to one of them is an inline key. */
  readonly knownKeys?: ReadonlyArray<string> | undefined
  /**
   * Whether each `apiKeyEnv` must name a variable that is set. Default `true`; `status --config`,
   * which reads no key, passes `false` (an inline key is refused all the same).
   */
  readonly requireKeys?: boolean | undefined
}

const MAX_BYTES = 1024 * 1024

const STREAM_KEYS = new Set([
  "name",
  "projectId",
  "apiKeyEnv",
  "apiKeyFile",
  "baseUrl",
  "rateLimit",
  "rateLimitRedis",
  "sink",
  "every",
  "schedule",
  "filters",
  "steps"
])
const FILTER_KEYS = new Set<string>(ExecutionQuery.selectionFields)
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const PROJECT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** A field name that says it holds a secret (other than the two that name where the key is). */
const SECRET_FIELD = /(^|[-_])?(api[-_]?key|key|token|secret|password|passwd|bearer|auth(orization)?)$/i
/** A JSON Web Token (Paragon's keys and signing tokens are JWTs). */
const JWT = /^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/
/** A value that reads like a key rather than the name of a variable: long, with few separators. */
const looksLikeKey = (text: string) =>
  JWT.test(text) ||
  (text.length >= 32 &&
    /^[A-Za-z0-9_+/=.-]+$/.test(text) &&
    /\d/.test(text) &&
    /[a-z]/.test(text) &&
    /[A-Z]/.test(text))

const refusal = (where: string) =>
  new InvalidInput({
    field: where,
    value: "",
    problem: "holds an API key inline (refused: a config file can be committed; the value is not shown)",
    expected: "apiKeyEnv: NAME_OF_AN_ENVIRONMENT_VARIABLE or apiKeyFile: PATH_OF_A_FILE_HOLDING_THE_KEY"
  })

/** The first place in the file that holds a key inline, as the refusal naming it. */
const inlineKey = (
  { lineOf, root }: YamlFields.Parsed,
  file: string,
  knownKeys: ReadonlyArray<string>
): InvalidInput | undefined => {
  const walk = (node: Node | null, path: string): InvalidInput | undefined => {
    if (isSeq(node)) {
      for (const [i, item] of (node.items as Array<Node | null>).entries()) {
        const found = walk(item, `${path}[${i}]`)
        if (found !== undefined) return found
      }
    } else if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : ""
        const field = path === "" ? key : `${path}.${key}`
        const value = pair.value as Node | null
        const text = isScalar(value) && value.value !== null ? String(value.value).trim() : undefined
        const named = key !== "apiKeyEnv" && key !== "apiKeyFile" && SECRET_FIELD.test(key)
        const keyLike =
          text !== undefined &&
          (JWT.test(text) || knownKeys.includes(text) || (key === "apiKeyEnv" && looksLikeKey(text)))
        if ((named && text !== undefined && text !== "") || keyLike) {
          if (text !== undefined) Main.registerSecret(text)
          return refusal(`${file}:${lineOf((pair.key as Node | null) ?? undefined)} ${field}`)
        }
        const found = walk(value, field)
        if (found !== undefined) return found
      }
    }
    return undefined
  }
  return walk(root, "")
}

/** `FILE:LINE field` of an error made by `fail`, to point at the same place later. */
const whereOf = (fail: YamlFields.Fail, node: Node | undefined, field: string) =>
  fail(node, field, "", "").field

/** The identity of a sink, to tell two streams writing to the same one. */
export const sinkIdentity = (spec: SinkSpec.SinkSpec, base: string): string => {
  switch (spec._tag) {
    case "Sqlite":
      return spec.path === ":memory:"
        ? `sqlite::memory:${Math.random()}`
        : `sqlite:${resolve(base, spec.path)}`
    case "File":
      return `file:${resolve(base, spec.dir)}`
    case "Postgres":
      return `postgres:${SinkSpec.describe({ ...spec, schema: undefined })}#${spec.schema ?? "public"}`
  }
}

/**
 * Checks the text of a streams file (`file` names it in errors). Keys are not read here (see
 * {@link load}); every other field is.
 */
export const parse = (
  file: string,
  text: string,
  options: ParseOptions
): Either.Either<ReadonlyArray<StreamEntry>, InvalidInput> =>
  Either.gen(function* () {
    const doc = YamlFields.parse(file, text, "a config file with a list of streams (see the README)")
    // Before any other check: a key written in the file is refused whatever else is wrong.
    const inline = Either.isRight(doc) ? inlineKey(doc.right, file, options.knownKeys ?? []) : undefined
    if (inline !== undefined) return yield* Either.left(inline)
    const { root, fail } = yield* doc
    yield* YamlFields.onlyKeys(root, ["streams"], fail)
    const items = yield* YamlFields.list(root, "streams", fail)
    if (items.length === 0) {
      return yield* Either.left(
        fail(root.get("streams", true) as Node | undefined, "streams", "", "a list of at least one stream")
      )
    }
    const out: Array<StreamEntry> = []
    const base = dirname(resolve(file))
    for (const [i, item] of items.entries()) {
      const f = yield* YamlFields.fieldsOf(item, `streams[${i}]`, STREAM_KEYS, fail)
      const at = (key: string) => `${f.path}.${key}`
      const required = (key: string, expected: string) =>
        Either.flatMap(f.text(key), (value) =>
          value === undefined || value.trim() === ""
            ? Either.left(fail(f.get(key) ?? item, at(key), value ?? "", expected))
            : Either.right(value.trim())
        )
      const name = yield* required("name", "a name for the stream (letters, digits, . _ -)")
      if (!NAME.test(name)) {
        return yield* Either.left(
          fail(f.get("name"), at("name"), name, "letters, digits, . _ - (at most 64)")
        )
      }
      if (out.some((s) => s.name === name)) {
        return yield* Either.left(fail(f.get("name"), at("name"), name, "a name no other stream has"))
      }
      const projectId = yield* required("projectId", "the Paragon project id")
      if (!PROJECT.test(projectId)) {
        return yield* Either.left(
          fail(f.get("projectId"), at("projectId"), projectId, "a Paragon project id")
        )
      }
      const keyEnv = yield* f.text("apiKeyEnv")
      const keyFile = yield* f.text("apiKeyFile")
      if ((keyEnv === undefined) === (keyFile === undefined)) {
        return yield* Either.left(
          fail(
            f.get("apiKeyEnv") ?? f.get("apiKeyFile") ?? item,
            at(keyEnv === undefined ? "apiKeyEnv" : "apiKeyFile"),
            "",
            "exactly one of apiKeyEnv (the name of an environment variable holding the key) or apiKeyFile (a file holding it)"
          )
        )
      }
      let keySource: KeySource
      let keyWhere: string
      if (keyEnv !== undefined) {
        keyWhere = whereOf(fail, f.get("apiKeyEnv"), at("apiKeyEnv"))
        if (!YamlFields.ENV_NAME.test(keyEnv.trim())) {
          return yield* Either.left(
            fail(f.get("apiKeyEnv"), at("apiKeyEnv"), keyEnv, "the name of an environment variable")
          )
        }
        const value = options.env(keyEnv.trim())
        if (options.requireKeys !== false && (value === undefined || value.trim() === "")) {
          return yield* Either.left(
            fail(
              f.get("apiKeyEnv"),
              at("apiKeyEnv"),
              keyEnv,
              "an environment variable that is set (to the project's API key)"
            )
          )
        }
        keySource = { _tag: "Env", name: keyEnv.trim() }
      } else {
        keyWhere = whereOf(fail, f.get("apiKeyFile"), at("apiKeyFile"))
        const path = keyFile!.trim()
        if (path === "") {
          return yield* Either.left(
            fail(f.get("apiKeyFile"), at("apiKeyFile"), "", "the path of a file holding the key")
          )
        }
        keySource = { _tag: "File", path: isAbsolute(path) ? path : resolve(base, path) }
      }
      const baseUrl = yield* f.text("baseUrl")
      if (baseUrl !== undefined && Either.isLeft(TaskHistoryConfig.parseBaseUrl(baseUrl))) {
        return yield* Either.left(
          fail(f.get("baseUrl"), at("baseUrl"), baseUrl, "an http(s) URL such as https://api.useparagon.com")
        )
      }
      const rateLimit = yield* f.text("rateLimit")
      if (rateLimit !== undefined && Either.isLeft(TaskHistoryConfig.parseRateLimit(rateLimit))) {
        return yield* Either.left(
          fail(f.get("rateLimit"), at("rateLimit"), rateLimit, "N/DURATION, such as 1000/10m or 40/4s")
        )
      }
      const redis = yield* f.text("rateLimitRedis")
      if (redis !== undefined) {
        Main.registerSecretUrl(redis.trim())
        if (!/^rediss?:\/\/\S+$/i.test(redis.trim())) {
          return yield* Either.left(
            new InvalidInput({
              field: whereOf(fail, f.get("rateLimitRedis"), at("rateLimitRedis")),
              value: "",
              problem: "is not a Redis URL (its value is not shown: it may hold a password)",
              expected: "redis://HOST:PORT or rediss://HOST:PORT"
            })
          )
        }
      }
      const sink = yield* required(
        "sink",
        "a sink: sqlite:PATH, postgres://..., ndjson:DIR, csv:DIR or parquet:DIR"
      )
      if (/^postgres(ql)?:\/\//i.test(sink)) Main.registerSecretUrl(sink)
      const parsedSink = SinkSpec.parse(sink)
      if (Either.isLeft(parsedSink)) {
        return yield* Either.left(
          fail(f.get("sink"), at("sink"), parsedSink.left.value, parsedSink.left.expected)
        )
      }
      const sinkSpec: SinkSpec.SinkSpec =
        parsedSink.right._tag === "Sqlite" && parsedSink.right.path !== ":memory:"
          ? { _tag: "Sqlite", path: resolve(base, parsedSink.right.path) }
          : parsedSink.right._tag === "File"
            ? { ...parsedSink.right, dir: resolve(base, parsedSink.right.dir) }
            : parsedSink.right
      if (sinkSpec._tag === "Sqlite" && sinkSpec.path === ":memory:") {
        return yield* Either.left(
          fail(
            f.get("sink"),
            at("sink"),
            sink,
            "a sink that keeps what is exported (sqlite::memory: is lost between runs)"
          )
        )
      }
      if (sinkSpec._tag === "Sqlite" && !isDirectory(dirname(sinkSpec.path))) {
        return yield* Either.left(
          fail(
            f.get("sink"),
            at("sink"),
            sink,
            `a database path in an existing directory (${dirname(sinkSpec.path)} is not one: create it first)`
          )
        )
      }
      const every = yield* f.text("every")
      const cron = yield* f.text("schedule")
      if ((every === undefined) === (cron === undefined)) {
        return yield* Either.left(
          fail(
            f.get("every") ?? f.get("schedule") ?? item,
            at("every"),
            "",
            "exactly one of every (e.g. 15m) or schedule (a cron expression)"
          )
        )
      }
      const key = every !== undefined ? "every" : "schedule"
      const schedule = RunSchedule.fromFlags({
        once: false,
        every,
        schedule: cron,
        timezone: options.timezone,
        minEvery: options.minEvery
      })
      if (Either.isLeft(schedule)) {
        return yield* Either.left(fail(f.get(key), at(key), every ?? cron ?? "", schedule.left.expected))
      }
      const filters = yield* parseFilters(f, fail)
      const steps = (yield* f.text("steps")) ?? "none"
      if (steps !== "none" && steps !== "failed" && steps !== "all") {
        return yield* Either.left(fail(f.get("steps"), at("steps"), steps, "none, failed or all"))
      }
      const entry: StreamEntry = {
        name,
        projectId,
        keySource,
        keyWhere,
        baseUrl,
        rateLimit,
        rateLimitWhere: whereOf(fail, f.get("rateLimit") ?? item, at("rateLimit")),
        rateLimitRedis: redis === undefined ? undefined : Redacted.make(redis.trim()),
        sink,
        sinkSpec,
        schedule: schedule.right,
        filters,
        steps
      }
      // One sink holds one project: its tables have no project column, so rows of two projects
      // could not be told apart (by status, reports, alerts) and their states would collide.
      const identity = sinkIdentity(sinkSpec, base)
      for (const other of out) {
        if (sinkIdentity(other.sinkSpec, base) !== identity) continue
        if (other.projectId !== projectId) {
          return yield* Either.left(
            fail(
              f.get("sink"),
              at("sink"),
              SinkSpec.describe(sinkSpec),
              `a sink of its own: stream ${other.name} writes project ${other.projectId} there, and one sink holds one project (give each project its own SQLite file, directory or Postgres ?schema=NAME)`
            )
          )
        }
        if (JSON.stringify(sortedFilters(other.filters)) === JSON.stringify(sortedFilters(filters))) {
          return yield* Either.left(
            fail(
              f.get("sink"),
              at("sink"),
              SinkSpec.describe(sinkSpec),
              `another sink or other filters than stream ${other.name} (the same project, filters and sink are the same stream: one state for both)`
            )
          )
        }
      }
      out.push(entry)
    }
    return out
  })

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

const sortedFilters = (filters: Exporter.Filters) =>
  Object.entries(filters).sort(([a], [b]) => (a < b ? -1 : 1))

const parseFilters = (f: YamlFields.Fields, fail: YamlFields.Fail) =>
  Either.gen(function* () {
    const node = f.get("filters")
    if (node === undefined || (isScalar(node) && node.value === null)) return {}
    const path = `${f.path}.filters`
    const g = yield* YamlFields.fieldsOf(node, path, FILTER_KEYS, fail)
    const given: Partial<Record<ExecutionQuery.SelectionField, Option.Option<string>>> = {}
    for (const key of ExecutionQuery.selectionFields) {
      const value = yield* g.text(key)
      given[key] = value === undefined ? Option.none() : Option.some(value)
    }
    const validated = FilterOptions.validate(given as FilterOptions.SelectionFlags, Date.now())
    if (Either.isLeft(validated)) {
      const field = ExecutionQuery.selectionFields.find(
        (k) => FilterOptions.flagOf(k) === validated.left.field
      )
      return yield* Either.left(
        fail(
          field === undefined ? node : g.get(field),
          field === undefined ? path : `${path}.${field}`,
          validated.left.value,
          validated.left.expected
        )
      )
    }
    return ExecutionQuery.selection(validated.right)
  })

/** A key's fingerprint: streams with the same project and key share one budget (one limiter). */
export const budgetOf = (stream: Stream): string =>
  `${stream.projectId}:${createHash("sha256").update(Redacted.value(stream.apiKey)).digest("hex").slice(0, 16)}`

/**
 * Reads and checks the streams file at `path` (at most 1 MiB) as {@link parse} does, in this
 * process's environment (the value of `PARAGON_API_KEY` written in the file is an inline key).
 * The keys are not read; with `requireKeys: false` their variables need not be set either.
 *
 * @internal
 */
export const loadEntries = (
  path: string,
  options: Omit<ParseOptions, "env" | "knownKeys">
): Effect.Effect<ReadonlyArray<StreamEntry>, InvalidInput, FileSystem> =>
  Effect.gen(function* () {
    const text = yield* InputFile.readText("--config", path, MAX_BYTES)
    const env = (name: string) => process.env[name]
    const knownKeys = [process.env[TaskHistoryConfig.variables.apiKey]].filter(
      (k): k is string => k !== undefined && k.trim().length >= 8
    )
    return yield* parse(path, text, { ...options, env, knownKeys: knownKeys.map((k) => k.trim()) })
  })

/**
 * Reads and checks the streams file at `path` (at most 1 MiB), then reads each stream's key (from
 * its variable, or its key file with the bounded key-file reader). Every key is registered as a
 * secret. Streams of one project and key must agree on `rateLimit` and `rateLimitRedis`: they
 * share one budget.
 *
 * @internal
 */
export const load = (
  path: string,
  options: Omit<ParseOptions, "env" | "knownKeys" | "requireKeys">
): Effect.Effect<StreamsConfig, InvalidInput, FileSystem> =>
  Effect.gen(function* () {
    const entries = yield* loadEntries(path, options)
    const streams: Array<Stream> = []
    for (const entry of entries) {
      const apiKey =
        entry.keySource._tag === "Env"
          ? Redacted.make((process.env[entry.keySource.name] ?? "").trim())
          : yield* ConnectionOptions.readKeyFile(entry.keySource.path).pipe(
              Effect.mapError(
                (error) =>
                  new InvalidInput({
                    field: entry.keyWhere,
                    value: entry.keySource._tag === "File" ? entry.keySource.path : "",
                    expected: error.expected
                  })
              )
            )
      Main.registerSecret(Redacted.value(apiKey))
      const problem = TaskHistoryConfig.secretProblem(Redacted.value(apiKey))
      if (problem !== undefined) {
        return yield* new InvalidInput({
          field: entry.keyWhere,
          value: "",
          problem: `names a key that ${problem}`,
          expected: "a key on one line, without spaces"
        })
      }
      const stream: Stream = { ...entry, apiKey }
      const budget = budgetOf(stream)
      const other = streams.find((s) => budgetOf(s) === budget)
      if (
        other !== undefined &&
        ((other.rateLimit ?? "") !== (stream.rateLimit ?? "") ||
          (other.rateLimitRedis === undefined ? "" : Redacted.value(other.rateLimitRedis)) !==
            (stream.rateLimitRedis === undefined ? "" : Redacted.value(stream.rateLimitRedis)))
      ) {
        return yield* new InvalidInput({
          field: stream.rateLimitWhere,
          value: stream.rateLimit ?? "",
          expected: `the rateLimit and rateLimitRedis of stream ${other.name}: both use the same key of project ${stream.projectId}, whose budget they share`
        })
      }
      streams.push(stream)
    }
    return { file: path, streams }
  })
