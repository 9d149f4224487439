/**
 * The streams file of `run --config`: every field checked, each error naming the file, the line
 * and the field; an inline key refused before anything else, its value never in the message.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import * as ConfigFile from "../src/internal/configFile.js"

const env: Record<string, string> = { PROD_KEY: "k-prod-0123456789", STAGING_KEY: "k-staging-0123456789" }
const options: ConfigFile.ParseOptions = {
  minEvery: Duration.seconds(10),
  env: (name) => env[name],
  knownKeys: ["k-known-key-0123456789"]
}

const parse = (text: string) => ConfigFile.parse("streams.yaml", text, options)
const error = (text: string) => {
  const result = parse(text)
  if (Either.isRight(result)) throw new Error(`expected an error, got ${JSON.stringify(result.right)}`)
  return result.left.message
}

const good = `streams:
  - name: prod
    projectId: 11111111-2222-4333-8444-555555555555
    apiKeyEnv: PROD_KEY
    rateLimit: 1000/10m
    sink: postgres://exporter@db:5432/analytics?schema=prod
    every: 15m
    filters:
      status: failed
      workflowId: wf-1
    steps: failed
  - name: staging
    projectId: 99999999-2222-4333-8444-555555555555
    apiKeyFile: /run/secrets/staging.key
    baseUrl: https://zeus.example.com
    rateLimitRedis: redis://redis:6379
    sink: postgres://exporter@db:5432/analytics?schema=staging
    schedule: "0 * * * *"
`

describe("ConfigFile.parse", () => {
  it("reads every field of the contract's schema", () => {
    const streams = Either.getOrThrow(parse(good))
    expect(streams.map((s) => s.name)).toEqual(["prod", "staging"])
    const [prod, staging] = streams
    expect(prod?.keySource).toEqual({ _tag: "Env", name: "PROD_KEY" })
    expect(prod?.filters).toEqual({ status: "FAILED", workflowId: "wf-1" })
    expect(prod?.steps).toBe("failed")
    expect(prod?.schedule._tag).toBe("Every")
    expect(prod?.sinkSpec._tag).toBe("Postgres")
    expect(staging?.keySource).toEqual({ _tag: "File", path: "/run/secrets/staging.key" })
    expect(staging?.schedule._tag).toBe("Cron")
    expect(staging?.baseUrl).toBe("https://zeus.example.com")
    expect(staging?.steps).toBe("none")
  })

  it("takes steps with a file sink (step_executions/ beside the executions)", () => {
    const files = good.replace(
      "sink: postgres://exporter@db:5432/analytics?schema=prod",
      "sink: parquet:/data/th"
    )
    const [prod] = Either.getOrThrow(parse(files))
    expect(prod?.sinkSpec._tag).toBe("File")
    expect(prod?.steps).toBe("failed")
  })

  it("refuses an inline key before any other check, naming file, line and field, never the value", () => {
    const inline = good.replace("apiKeyEnv: PROD_KEY", "apiKey: sk-live-abcdefghijklmnop")
    const message = error(inline.replace("every: 15m", "every: banana"))
    expect(message).toContain("streams.yaml:4 streams[0].apiKey holds an API key inline")
    expect(message).not.toContain("sk-live")
    for (const field of ["token", "secret", "api_key", "password"]) {
      expect(error(good.replace("apiKeyEnv: PROD_KEY", `${field}: abc`))).toContain(
        `streams.yaml:4 streams[0].${field} holds an API key inline`
      )
    }
    // A JWT anywhere, a key known to the environment, a key in apiKeyEnv's place.
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
    expect(error(good.replace("wf-1", jwt))).toContain("streams.yaml:10 streams[0].filters.workflowId holds")
    expect(error(good.replace("wf-1", "k-known-key-0123456789"))).toContain(
      "streams[0].filters.workflowId holds"
    )
    const keyAsName = good.replace("PROD_KEY", "Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789")
    expect(error(keyAsName)).toContain("streams.yaml:4 streams[0].apiKeyEnv holds an API key inline")
    expect(error(keyAsName)).not.toContain("Ab3dEf")
  })

  it("names file, line and field of every invalid field", () => {
    const cases: ReadonlyArray<[string, string, string]> = [
      ["every: 15m", "every: 15", "streams.yaml:7 streams[0].every"],
      ["every: 15m", "every: 1s", "streams.yaml:7 streams[0].every"],
      ["every: 15m", "every: 15m\n    schedule: '* * * * *'", "streams[0].every"],
      ["rateLimit: 1000/10m", "rateLimit: lots", "streams.yaml:5 streams[0].rateLimit"],
      ["status: failed", "status: sometimes", "streams.yaml:9 streams[0].filters.status"],
      ["workflowId: wf-1", "workflow: wf-1", "streams.yaml:10 streams[0].filters.workflow"],
      ["steps: failed", "steps: some", "streams.yaml:11 streams[0].steps"],
      ["name: staging", "name: prod", "streams.yaml:12 streams[1].name"],
      ["name: staging", "name: 'has space'", "streams.yaml:12 streams[1].name"],
      ["baseUrl: https://zeus.example.com", "baseUrl: zeus", "streams.yaml:15 streams[1].baseUrl"],
      ['schedule: "0 * * * *"', "schedule: 'every hour'", "streams.yaml:18 streams[1].schedule"],
      [
        "sink: postgres://exporter@db:5432/analytics?schema=staging",
        "sink: mysql://db",
        "streams.yaml:17 streams[1].sink"
      ],
      ["apiKeyEnv: PROD_KEY", "apiKeyEnv: UNSET_VARIABLE", "streams.yaml:4 streams[0].apiKeyEnv"],
      ["apiKeyEnv: PROD_KEY", "apiKeyEnv: PROD_KEY\n    apiKeyFile: ./k", "streams[0].apiKey"],
      ["    apiKeyEnv: PROD_KEY\n", "", "streams.yaml:2 streams[0].apiKeyEnv"],
      ["    projectId: 11111111-2222-4333-8444-555555555555\n", "", "streams.yaml:2 streams[0].projectId"],
      ["    steps: failed\n", "    steps: failed\n    timezone: UTC\n", "streams.yaml:12 streams[0].timezone"]
    ]
    for (const [from, to, where] of cases) {
      const text = good.replace(from, to)
      expect(text, from).not.toBe(good)
      expect(error(text), to).toContain(where)
    }
    expect(error("streams: []\n")).toContain("streams.yaml:1 streams")
    expect(error("streams:\n  - name: [\n")).toContain("streams.yaml:")
    expect(error("stream:\n  - name: a\n")).toContain("streams.yaml:1 stream")
    const redis = error(good.replace("redis://redis:6379", "http://user:hunter2@redis"))
    expect(redis).toContain("streams.yaml:16 streams[1].rateLimitRedis is not a Redis URL")
    expect(redis).not.toContain("hunter2")
  })

  it("with requireKeys: false (status), an unset key variable is accepted; an inline key is still refused", () => {
    const unset = good.replace("apiKeyEnv: PROD_KEY", "apiKeyEnv: UNSET_VARIABLE")
    const lenient = { ...options, requireKeys: false }
    expect(Either.getOrThrow(ConfigFile.parse("streams.yaml", unset, lenient)).map((s) => s.name)).toEqual([
      "prod",
      "staging"
    ])
    const inline = ConfigFile.parse(
      "streams.yaml",
      good.replace("apiKeyEnv: PROD_KEY", "token: abc"),
      lenient
    )
    expect(Either.isLeft(inline) && inline.left.message).toContain(
      "streams.yaml:4 streams[0].token holds an API key inline"
    )
    const badName = ConfigFile.parse(
      "streams.yaml",
      good.replace("apiKeyEnv: PROD_KEY", "apiKeyEnv: 'not a name'"),
      lenient
    )
    expect(Either.isLeft(badName) && badName.left.message).toContain("streams.yaml:4 streams[0].apiKeyEnv")
  })

  it("refuses two projects on one sink, and two streams that would share one state", () => {
    const oneSink = good.replace("schema=staging", "schema=prod")
    expect(error(oneSink)).toContain("streams.yaml:17 streams[1].sink")
    expect(error(oneSink)).toContain("one sink holds one project")
    const twice = `streams:
  - { name: a, projectId: p1, apiKeyEnv: PROD_KEY, sink: "sqlite:./x.db", every: 1h }
  - { name: b, projectId: p1, apiKeyEnv: PROD_KEY, sink: "sqlite:x.db", every: 2h }
`
    expect(error(twice)).toContain("streams.yaml:3 streams[1].sink")
    const filtered = twice.replace("every: 2h }", "every: 2h, filters: { status: FAILED } }")
    expect(Either.getOrThrow(parse(filtered)).map((s) => s.name)).toEqual(["a", "b"])
  })
})
