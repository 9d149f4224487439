import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import * as TaskHistoryConfig from "../src/TaskHistoryConfig.js"

const left = <R, L>(either: Either.Either<R, L>): L => {
  if (Either.isRight(either)) throw new Error("expected a Left")
  return either.left
}

describe("TaskHistoryConfig", () => {
  it("parses N/DURATION rate limits", () => {
    const rate = TaskHistoryConfig.parseRateLimit("40/4s")
    expect(Either.isRight(rate)).toBe(true)
    if (Either.isRight(rate)) {
      expect(rate.right.limit).toBe(40)
      expect(Duration.toMillis(rate.right.window)).toBe(4000)
    }
    const def = TaskHistoryConfig.parseRateLimit("1000/10m")
    expect(Either.map(def, (r) => [r.limit, Duration.toMillis(r.window)])).toEqual(
      Either.right([1000, 600_000])
    )
  })

  it("refuses bad rate limits with InvalidInput naming the value", () => {
    for (const bad of ["40", "0/4s", "x/4s", "40/4x", "40/4s/3", "-1/4s", "40/0s", ""]) {
      const error = left(TaskHistoryConfig.parseRateLimit(bad))
      expect(error._tag).toBe("InvalidInput")
      expect(error.message).toContain(JSON.stringify(bad))
      expect(error.message).toContain("N/DURATION")
    }
  })

  it("strips /projects/<id>/task-history from the base URL, keeps on-premise hosts", () => {
    expect(TaskHistoryConfig.parseBaseUrl("https://api.useparagon.com/projects/abc/task-history")).toEqual(
      Either.right("https://api.useparagon.com")
    )
    expect(TaskHistoryConfig.parseBaseUrl("https://zeus.example.com/projects/abc/task-history/")).toEqual(
      Either.right("https://zeus.example.com")
    )
    expect(TaskHistoryConfig.parseBaseUrl("http://127.0.0.1:8080/")).toEqual(
      Either.right("http://127.0.0.1:8080")
    )
    const bad = left(TaskHistoryConfig.parseBaseUrl("not a url"))
    expect(bad.message).toContain('"not a url"')
    expect(left(TaskHistoryConfig.parseBaseUrl("ftp://x.example")).message).toContain("http")
    const creds = left(TaskHistoryConfig.parseBaseUrl("https://user:pw@api.useparagon.com"))
    expect(creds.message).not.toContain("pw")
  })

  it("make validates every value", () => {
    expect(left(TaskHistoryConfig.make({ apiKey: " ", projectId: "p" })).field).toBe("API key")
    expect(left(TaskHistoryConfig.make({ apiKey: "k", projectId: "a/b" })).field).toBe("project id")
    expect(left(TaskHistoryConfig.make({ apiKey: "k", projectId: "p", rateLimit: "fast" })).value).toBe(
      "fast"
    )
    expect(left(TaskHistoryConfig.make({ apiKey: "k", projectId: "p", pageConcurrency: 0 })).field).toBe(
      "page concurrency"
    )
    const ok = TaskHistoryConfig.make({ apiKey: "k", projectId: "p" })
    expect(Either.map(ok, (c) => [c.baseUrl, c.rateLimit.limit, c.pageConcurrency])).toEqual(
      Either.right([TaskHistoryConfig.cloudBaseUrl, 1000, 4])
    )
  })

  it.effect("layerConfig reads the contract's environment names; the key stays redacted", () =>
    Effect.gen(function* () {
      const config = yield* TaskHistoryConfig.TaskHistoryConfig
      expect(Redacted.value(config.apiKey)).toBe("sk_env")
      expect(String(config.apiKey)).not.toContain("sk_env")
      expect(config.projectId).toBe("proj-env")
      expect(config.baseUrl).toBe("https://zeus.example.com")
      expect(config.rateLimit.limit).toBe(40)
      expect(Option.isSome(config.rateLimitRedis)).toBe(true)
    }).pipe(
      Effect.provide(
        TaskHistoryConfig.layerConfig().pipe(
          Layer.provide(
            Layer.setConfigProvider(
              ConfigProvider.fromMap(
                new Map([
                  ["PARAGON_API_KEY", "sk_env"],
                  ["PARAGON_PROJECT_ID", "proj-env"],
                  ["PARAGON_BASE_URL", "https://zeus.example.com/projects/proj-env/task-history"],
                  ["PARAGON_RATE_LIMIT", "40/4s"],
                  ["PARAGON_RATE_LIMIT_REDIS", "redis://127.0.0.1:6379"]
                ])
              )
            )
          ),
          Layer.orDie
        )
      )
    )
  )

  it.effect("layerConfig fails with InvalidInput naming a bad rate limit", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(TaskHistoryConfig.layerConfig()).pipe(
          Effect.scoped,
          Effect.withConfigProvider(
            ConfigProvider.fromMap(
              new Map([
                ["PARAGON_API_KEY", "k"],
                ["PARAGON_PROJECT_ID", "p"],
                ["PARAGON_RATE_LIMIT", "lots"]
              ])
            )
          )
        )
      )
      expect(error._tag).toBe("InvalidInput")
      expect(error.message).toContain('"lots"')
    })
  )

  const fromMap = (entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

  it.effect("layerConfig takes Config values; the settings left out come from their variables", () =>
    Effect.gen(function* () {
      const config = yield* TaskHistoryConfig.TaskHistoryConfig.pipe(
        Effect.provide(
          TaskHistoryConfig.layerConfig({
            projectId: Config.string("MY_PROJECT"),
            rateLimit: Config.orElse(Config.string("MY_RATE"), () => TaskHistoryConfig.environment.rateLimit),
            retry: { maxRetries: Config.integer("MY_RETRIES") }
          })
        ),
        fromMap([
          ["PARAGON_API_KEY", "sk_env"],
          ["PARAGON_PROJECT_ID", "not-this-one"],
          ["MY_PROJECT", "mine"],
          ["PARAGON_RATE_LIMIT", "40/4s"],
          ["MY_RETRIES", "2"]
        ])
      )
      expect(Redacted.value(config.apiKey)).toBe("sk_env")
      expect(config.projectId).toBe("mine")
      expect(config.rateLimit.limit).toBe(40)
      expect(config.retry.maxRetries).toBe(2)
      expect(config.retry.base).toEqual(TaskHistoryConfig.defaultRetry.base)
      expect(config.baseUrl).toBe(TaskHistoryConfig.cloudBaseUrl)
    })
  )

  it.effect("layerConfig: an unset or blank variable is not set; the key and project are then missing", () =>
    Effect.gen(function* () {
      const build = Layer.build(TaskHistoryConfig.layerConfig()).pipe(Effect.scoped, Effect.flip)
      const noKey = yield* build.pipe(fromMap([["PARAGON_PROJECT_ID", "p"]]))
      expect(noKey.message).toContain("PARAGON_API_KEY")
      const blankKey = yield* build.pipe(
        fromMap([
          ["PARAGON_API_KEY", "  "],
          ["PARAGON_PROJECT_ID", "p"]
        ])
      )
      expect(blankKey._tag).toBe("InvalidInput")
      expect(blankKey.message).toContain("PARAGON_API_KEY")
      const noProject = yield* build.pipe(fromMap([["PARAGON_API_KEY", "k"]]))
      expect(noProject.message).toContain("PARAGON_PROJECT_ID")
      const blanks = yield* TaskHistoryConfig.TaskHistoryConfig.pipe(
        Effect.provide(TaskHistoryConfig.layerConfig()),
        fromMap([
          ["PARAGON_API_KEY", "k"],
          ["PARAGON_PROJECT_ID", "p"],
          ["PARAGON_BASE_URL", ""],
          ["PARAGON_RATE_LIMIT", " "],
          ["PARAGON_RATE_LIMIT_REDIS", ""]
        ])
      )
      expect(blanks.baseUrl).toBe(TaskHistoryConfig.cloudBaseUrl)
      expect(blanks.rateLimit).toEqual(TaskHistoryConfig.defaultRateLimit)
      expect(Option.isNone(blanks.rateLimitRedis)).toBe(true)
    })
  )

  it.effect("layerConfig fails with the ConfigError of a Config of yours that cannot be read", () =>
    Effect.gen(function* () {
      const error = yield* Layer.build(
        TaskHistoryConfig.layerConfig({ pageConcurrency: Config.integer("MY_CONCURRENCY") })
      ).pipe(Effect.scoped, Effect.flip, fromMap([["MY_CONCURRENCY", "lots"]]))
      expect(error._tag).not.toBe("InvalidInput")
      expect(String(error)).toContain("MY_CONCURRENCY")
    })
  )
})
