/**
 * The rules file of `--alerts FILE` (YAML, the contract's schema): webhooks and rules, checked
 * whole before anything runs. A bad file is one `InvalidInput` naming the file, the line and the
 * field (exit code 2). Webhook URLs and secrets are held as redacted values and registered as
 * secrets (scrubbed from everything printed); a URL is never shown in a message.
 *
 * @internal
 */
import type { FileSystem } from "@effect/platform/FileSystem"
import * as InputFile from "@taskhistory/app-kit/InputFile"
import * as Main from "@taskhistory/app-kit/Main"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import type * as Alerts from "@taskhistory/export/Alerts"
import { Effect, Either, Option, Redacted } from "effect"
import { isScalar, isSeq, type Node, type YAMLMap } from "yaml"
import * as YamlFields from "./yamlFields.js"
import { durationField, ENV_NAME, type Fail, fieldsOf, list, numberField, scalarText } from "./yamlFields.js"

/** @internal */
export interface Webhook {
  readonly name: string
  readonly url: Redacted.Redacted<string>
  readonly format: "slack" | "json"
  /** The HMAC-SHA256 key of `X-Taskhistory-Signature`, when `secretEnv` is set. */
  readonly secret: Redacted.Redacted<string> | undefined
}

/** @internal */
export interface AlertsConfig {
  readonly file: string
  readonly webhooks: ReadonlyArray<Webhook>
  readonly rules: ReadonlyArray<Alerts.Rule>
}

const MAX_BYTES = 1024 * 1024
const HOUR = 3_600_000

const WEBHOOK_KEYS = new Set(["name", "url", "urlEnv", "format", "secretEnv"])
const RULE_KEYS = new Set([
  "name",
  "by",
  "failureRate",
  "failures",
  "silentFor",
  "window",
  "minExecutions",
  "cooldown",
  "notify"
])

/** Parses the text of a rules file (`file` names it in errors); `env` resolves `urlEnv` and `secretEnv`. */
export const parse = (
  file: string,
  text: string,
  env: (name: string) => Option.Option<Redacted.Redacted<string>>
): Either.Either<AlertsConfig, InvalidInput> =>
  Either.gen(function* () {
    const { root, fail } = yield* YamlFields.parse(
      file,
      text,
      "a rules file with webhooks and rules (see the README)"
    )
    yield* YamlFields.onlyKeys(root, ["webhooks", "rules"], fail)
    const webhooks = yield* parseWebhooks(root, fail, env)
    const names = new Set(webhooks.map((w) => w.name))
    const rules = yield* parseRules(root, fail, names)
    return { file, webhooks, rules }
  })

const parseWebhooks = (
  root: YAMLMap,
  fail: Fail,
  env: (name: string) => Option.Option<Redacted.Redacted<string>>
) =>
  Either.gen(function* () {
    const out: Array<Webhook> = []
    for (const [i, item] of (yield* list(root, "webhooks", fail)).entries()) {
      const f = yield* fieldsOf(item, `webhooks[${i}]`, WEBHOOK_KEYS, fail)
      const name = yield* f.text("name")
      if (name === undefined || name.trim() === "") {
        return yield* Either.left(
          fail(f.get("name") ?? item, `${f.path}.name`, name ?? "", "a name (rules notify it)")
        )
      }
      if (out.some((w) => w.name === name)) {
        return yield* Either.left(fail(f.get("name"), `${f.path}.name`, name, "a name no other webhook has"))
      }
      const literal = yield* f.text("url")
      const urlEnv = yield* f.text("urlEnv")
      if ((literal === undefined) === (urlEnv === undefined)) {
        return yield* Either.left(
          fail(
            item,
            `${f.path}.url`,
            "",
            "either url or urlEnv (the name of an environment variable holding it)"
          )
        )
      }
      let url: Redacted.Redacted<string>
      let where: { node: Node | undefined; field: string }
      if (urlEnv !== undefined) {
        where = { node: f.get("urlEnv"), field: `${f.path}.urlEnv` }
        if (!ENV_NAME.test(urlEnv))
          return yield* Either.left(
            fail(where.node, where.field, urlEnv, "the name of an environment variable")
          )
        const value = env(urlEnv)
        if (Option.isNone(value) || Redacted.value(value.value).trim() === "") {
          return yield* Either.left(
            fail(
              where.node,
              where.field,
              urlEnv,
              "an environment variable that is set (to the webhook's URL)"
            )
          )
        }
        url = value.value
      } else {
        where = { node: f.get("url"), field: `${f.path}.url` }
        url = Redacted.make(literal!)
      }
      let parsed: URL | undefined
      try {
        parsed = new URL(Redacted.value(url).trim())
      } catch {
        parsed = undefined
      }
      if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
        return yield* Either.left(
          new InvalidInput({
            field: fail(where.node, where.field, "", "").field,
            value: "",
            problem: "is not a URL (its value is not shown: a webhook URL is a secret)",
            expected: "an http:// or https:// URL"
          })
        )
      }
      const format = (yield* f.text("format")) ?? "json"
      if (format !== "slack" && format !== "json") {
        return yield* Either.left(fail(f.get("format"), `${f.path}.format`, format, "slack or json"))
      }
      const secretEnv = yield* f.text("secretEnv")
      let secret: Redacted.Redacted<string> | undefined
      if (secretEnv !== undefined) {
        const node = f.get("secretEnv")
        if (!ENV_NAME.test(secretEnv))
          return yield* Either.left(
            fail(node, `${f.path}.secretEnv`, secretEnv, "the name of an environment variable")
          )
        const value = env(secretEnv)
        if (Option.isNone(value) || Redacted.value(value.value) === "") {
          return yield* Either.left(
            fail(
              node,
              `${f.path}.secretEnv`,
              secretEnv,
              "an environment variable that is set (to the signing secret)"
            )
          )
        }
        secret = value.value
      }
      out.push({ name, url: Redacted.make(Redacted.value(url).trim()), format, secret })
    }
    return out
  })

const parseRules = (root: YAMLMap, fail: Fail, webhooks: ReadonlySet<string>) =>
  Either.gen(function* () {
    const out: Array<Alerts.Rule> = []
    const items = yield* list(root, "rules", fail)
    for (const [i, item] of items.entries()) {
      const f = yield* fieldsOf(item, `rules[${i}]`, RULE_KEYS, fail)
      const name = yield* f.text("name")
      if (name === undefined || name.trim() === "") {
        return yield* Either.left(fail(f.get("name") ?? item, `${f.path}.name`, name ?? "", "a name"))
      }
      if (out.some((r) => r.name === name)) {
        return yield* Either.left(fail(f.get("name"), `${f.path}.name`, name, "a name no other rule has"))
      }
      const by = (yield* f.text("by")) ?? "workflow"
      if (by !== "workflow" && by !== "user" && by !== "all") {
        return yield* Either.left(fail(f.get("by"), `${f.path}.by`, by, "workflow, user or all"))
      }
      const rate = yield* numberField(
        f,
        "failureRate",
        fail,
        (n) => n >= 0 && n < 1,
        "a number from 0 to 1 (exclusive), e.g. 0.2"
      )
      const failures = yield* numberField(
        f,
        "failures",
        fail,
        (n) => Number.isInteger(n) && n >= 0,
        "a whole number, e.g. 10"
      )
      const silentFor = yield* durationField(f, "silentFor", fail)
      const set = [rate, failures, silentFor].filter((x) => x !== undefined).length
      if (set !== 1) {
        return yield* Either.left(
          fail(item, `${f.path}`, name, "exactly one of failureRate, failures or silentFor")
        )
      }
      const condition: Alerts.Condition =
        rate !== undefined
          ? { _tag: "FailureRate", threshold: rate }
          : failures !== undefined
            ? { _tag: "Failures", threshold: failures }
            : { _tag: "Silent", forMs: silentFor! }
      const window = yield* durationField(f, "window", fail)
      const windowMs =
        window ?? (condition._tag === "Silent" ? Math.max(7 * 24 * HOUR, 2 * condition.forMs) : HOUR)
      if (condition._tag === "Silent" && windowMs <= condition.forMs) {
        return yield* Either.left(
          fail(
            f.get("window"),
            `${f.path}.window`,
            String(f.get("window") !== undefined ? scalarText(f.get("window")) : ""),
            "a window longer than silentFor (how far back a group must have run)"
          )
        )
      }
      const minExecutions =
        (yield* numberField(
          f,
          "minExecutions",
          fail,
          (n) => Number.isInteger(n) && n >= 1,
          "a whole number from 1"
        )) ?? 1
      const cooldownMs = (yield* durationField(f, "cooldown", fail)) ?? 0
      const notifyNode = f.get("notify")
      const notify: Array<string> = []
      if (notifyNode !== undefined) {
        const names = isSeq(notifyNode) ? (notifyNode.items as Array<Node>) : [notifyNode]
        for (const n of names) {
          const target = isScalar(n) ? String(n.value) : scalarText(n)
          if (!webhooks.has(target)) {
            return yield* Either.left(
              fail(
                n,
                `${f.path}.notify`,
                target,
                webhooks.size === 0
                  ? "the name of a webhook (none is defined)"
                  : `the name of a webhook: ${[...webhooks].join(", ")}`
              )
            )
          }
          if (!notify.includes(target)) notify.push(target)
        }
      }
      out.push({ name, by, condition, windowMs, minExecutions, cooldownMs, notify })
    }
    return out
  })

/**
 * Reads and checks the rules file at `path` (at most 1 MiB): `InvalidInput` naming the file,
 * line and field. The webhooks' URLs and secrets are registered as secrets.
 *
 * @internal
 */
export const load = (path: string): Effect.Effect<AlertsConfig, InvalidInput, FileSystem> =>
  Effect.gen(function* () {
    const text = yield* InputFile.readText("--alerts", path, MAX_BYTES)
    // The environment is read here, once, for the names the file gives.
    const config = yield* parse(path, text, (name) =>
      Option.map(Option.fromNullable(process.env[name]), Redacted.make)
    )
    for (const webhook of config.webhooks) {
      Main.registerSecret(Redacted.value(webhook.url))
      if (webhook.secret !== undefined) Main.registerSecret(Redacted.value(webhook.secret))
    }
    return config
  })
