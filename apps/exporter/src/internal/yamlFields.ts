/**
 * Checking a YAML file a user wrote (the `--alerts` rules, the `--config` streams) field by
 * field: every error is one `InvalidInput` naming the file, the line and the field
 * (`alerts.yaml:7 rules[0].window`), with the `yaml` library's line counter and its nodes' ranges.
 *
 * @internal
 */
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import { InvalidInput } from "@taskhistory/core/TaskHistoryError"
import { Duration, Either } from "effect"
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml"

/** An error at `node` (its line), naming `field`. */
export type Fail = (node: Node | undefined, field: string, value: string, expected: string) => InvalidInput

/** The name of an environment variable. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** A node as text for a message: its value, or `a mapping`, `a list`. */
export const scalarText = (node: Node | undefined): string =>
  node === undefined ? "" : isScalar(node) ? String(node.value) : isMap(node) ? "a mapping" : "a list"

/** A parsed file: its top-level mapping, and how to fail at a node of it. */
export interface Parsed {
  readonly root: YAMLMap
  readonly fail: Fail
  /** The line of a node (1 when it has no position). */
  readonly lineOf: (node: Node | undefined) => number
}

/**
 * Parses `text` (the file `file`); a syntax error, or a top level that is not a mapping, is an
 * `InvalidInput` at its line. `expected` says what the file should hold.
 */
export const parse = (file: string, text: string, expected: string): Either.Either<Parsed, InvalidInput> => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lines.linePos(offset).line)
  const fail: Fail = (node, field, value, expected) =>
    new InvalidInput({ field: `${file}:${lineOf(node?.range?.[0])} ${field}`, value, expected })
  const syntax = doc.errors[0]
  if (syntax !== undefined) {
    return Either.left(
      new InvalidInput({
        field: `${file}:${lineOf(syntax.pos[0])}`,
        value: "",
        problem: `is not valid YAML (${syntax.message.split("\n")[0]})`,
        expected
      })
    )
  }
  const root = doc.contents
  if (!isMap(root)) {
    return Either.left(fail(root ?? undefined, "(top level)", scalarText(root ?? undefined), expected))
  }
  return Either.right({ root, fail, lineOf: (node) => lineOf(node?.range?.[0]) })
}

/** The top-level keys of `root` must be among `keys`. */
export const onlyKeys = (
  root: YAMLMap,
  keys: ReadonlyArray<string>,
  fail: Fail
): Either.Either<void, InvalidInput> => {
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : ""
    if (!keys.includes(key)) return Either.left(fail(pair.key as Node, key, key, keys.join(" or ")))
  }
  return Either.void
}

/** The items of the list at `key` (none when it is absent or empty). */
export const list = (root: YAMLMap, key: string, fail: Fail) => {
  const node = root.get(key, true) as Node | undefined
  if (node === undefined || (isScalar(node) && node.value === null)) return Either.right([] as Array<Node>)
  if (!isSeq(node)) return Either.left(fail(node, key, scalarText(node), "a list"))
  return Either.right(node.items as Array<Node>)
}

/** The fields of one mapping of a file, at `path` (`rules[0]`). */
export interface Fields {
  readonly node: YAMLMap
  readonly path: string
  readonly get: (key: string) => Node | undefined
  /** A scalar field as text (`undefined` when absent); a mapping or list is an error. */
  readonly text: (key: string) => Either.Either<string | undefined, InvalidInput>
}

/**
 * The fields of `item`, which must be a mapping whose keys are among `keys`; `unknownKey`, when
 * given, tells about a key that is not (else: `one of ...`).
 */
export const fieldsOf = (
  item: Node,
  path: string,
  keys: ReadonlySet<string>,
  fail: Fail,
  unknownKey?: (key: string, node: Node) => InvalidInput | undefined
): Either.Either<Fields, InvalidInput> => {
  if (!isMap(item)) return Either.left(fail(item, path, scalarText(item), "a mapping"))
  for (const pair of item.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : ""
    if (!keys.has(key)) {
      const special = unknownKey?.(key, pair.key as Node)
      return Either.left(
        special ?? fail(pair.key as Node, `${path}.${key}`, key, `one of ${[...keys].join(", ")}`)
      )
    }
  }
  const get = (key: string) => item.get(key, true) as Node | undefined
  return Either.right({
    node: item,
    path,
    get,
    text: (key) => {
      const node = get(key)
      if (node === undefined) return Either.right(undefined)
      if (!isScalar(node) || node.value === null || typeof node.value === "object") {
        return Either.left(fail(node, `${path}.${key}`, scalarText(node), "a value"))
      }
      return Either.right(String(node.value))
    }
  })
}

/** A positive duration field (`30m`, `6h`, `7d`), in ms; `undefined` when absent. */
export const durationField = (
  f: Fields,
  key: string,
  fail: Fail,
  expected = "a duration such as 30m, 6h or 7d"
) =>
  Either.gen(function* () {
    const text = yield* f.text(key)
    if (text === undefined) return undefined
    const parsed = TaskHistoryConfig.parseDuration(text, key, Duration.days(3660))
    if (Either.isLeft(parsed) || Duration.toMillis(parsed.right) <= 0) {
      return yield* Either.left(fail(f.get(key), `${f.path}.${key}`, text, expected))
    }
    return Duration.toMillis(parsed.right)
  })

/** A number field for which `check` holds; `undefined` when absent. */
export const numberField = (
  f: Fields,
  key: string,
  fail: Fail,
  check: (n: number) => boolean,
  expected: string
) =>
  Either.gen(function* () {
    const node = f.get(key)
    if (node === undefined) return undefined
    const value = isScalar(node) ? node.value : undefined
    if (typeof value !== "number" || !Number.isFinite(value) || !check(value)) {
      return yield* Either.left(fail(node, `${f.path}.${key}`, scalarText(node), expected))
    }
    return value
  })
