/**
 * Schemas for the records of the Task History API: executions, pages of executions, and the
 * single-execution and step-execution shapes documented by Paragon.
 *
 * Records are open: fields the contract does not list are kept, and a decoded record is the very
 * object that arrived, so it can be written back out exactly as received.
 *
 * @since 0.1.0
 */
import { ParseResult, Schema } from "effect"

/**
 * The statuses the API is known to return. The API may add more: see {@link ExecutionStatus}.
 *
 * @since 0.1.0
 */
export const KnownStatuses = ["SUCCEEDED", "FAILED", "EXECUTING", "DELAYED"] as const

/**
 * A known execution status.
 *
 * @since 0.1.0
 */
export type KnownStatus = (typeof KnownStatuses)[number]

/**
 * The known statuses as a schema (used for filters, where an unknown value is a user error).
 *
 * @since 0.1.0
 */
export const KnownStatus = Schema.Literal(...KnownStatuses)

/**
 * A status as found in a record: typed for the known values, open to new ones.
 *
 * @since 0.1.0
 */
export const ExecutionStatus = Schema.Union(KnownStatus, Schema.String)

/**
 * A status as found in a record.
 *
 * @since 0.1.0
 */
export type ExecutionStatus = KnownStatus | (string & {})

/**
 * A date-time string that `Date` can parse (the API sends `2023-02-20T06:21:42.274Z`).
 *
 * @since 0.1.0
 */
export const DateTimeString = Schema.String.pipe(
  Schema.filter((s) => !Number.isNaN(Date.parse(s)), {
    message: (issue) => `expected an ISO 8601 date-time, got ${JSON.stringify(issue.actual)}`
  })
)

const NonNegativeNumber = Schema.Number.pipe(Schema.nonNegative())

/**
 * The fields of an execution that the contract and the documentation name. `id`, `status` and
 * `dateStarted` are required (every consumer keys, filters or partitions on them); the rest are
 * optional because executions still running have no end date.
 *
 * @since 0.1.0
 */
export const WorkflowExecutionFields = Schema.Struct({
  id: Schema.NonEmptyString,
  userId: Schema.optional(Schema.String),
  workflowId: Schema.optional(Schema.String),
  status: ExecutionStatus,
  taskCount: Schema.optional(NonNegativeNumber),
  runDuration: Schema.optional(Schema.NullOr(NonNegativeNumber)),
  dateStarted: DateTimeString,
  dateEnded: Schema.optional(Schema.NullOr(DateTimeString))
})

/**
 * One workflow execution: the known fields, plus every other field the API sent.
 *
 * @since 0.1.0
 */
export const WorkflowExecution = Schema.Struct(
  WorkflowExecutionFields.fields,
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * One workflow execution: the known fields, plus every other field the API sent.
 *
 * @since 0.1.0
 */
export type WorkflowExecution = typeof WorkflowExecution.Type

const validateExecution = Schema.validateEither(WorkflowExecution, { errors: "first" })

/**
 * Checks that an unknown value is a valid execution and returns the same object (key order and
 * unknown fields untouched), or the parse error.
 *
 * @since 0.1.0
 */
export const decodeExecution = (input: unknown) => {
  return isPlainValid(input) || validateExecution(input)._tag === "Right"
    ? ({ _tag: "Right", right: input as WorkflowExecution } as const)
    : ({ _tag: "Left", left: describeInvalid(input) } as const)
}

const isOptionalString = (u: unknown) => u === undefined || typeof u === "string"
const isNonNegative = (u: unknown) => typeof u === "number" && u >= 0
/**
 * A plain ISO 8601 UTC/offset timestamp with in-range fields: every string it matches is one
 * `Date.parse` accepts, and matching it costs a third of parsing. Anything else is left to
 * `Date.parse`, so the two together accept exactly what `Date.parse` does.
 */
const PLAIN_ISO =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/

const isDate = (u: unknown) => typeof u === "string" && (PLAIN_ISO.test(u) || !Number.isNaN(Date.parse(u)))

/**
 * A fast check that implies the schema's (no false positives): records that pass it skip the
 * schema; the others are checked by the schema, which gives the reason.
 */
const isPlainValid = (input: unknown): boolean => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false
  const r = input as Record<string, unknown>
  return (
    typeof r.id === "string" &&
    r.id.length > 0 &&
    typeof r.status === "string" &&
    isDate(r.dateStarted) &&
    isOptionalString(r.userId) &&
    isOptionalString(r.workflowId) &&
    (r.taskCount === undefined || isNonNegative(r.taskCount)) &&
    (r.runDuration === undefined || r.runDuration === null || isNonNegative(r.runDuration)) &&
    (r.dateEnded === undefined || r.dateEnded === null || isDate(r.dateEnded))
  )
}

/**
 * A one-line description of why a value is not a valid execution (the first failing field).
 *
 * @since 0.1.0
 */
export const describeInvalid = (input: unknown): string => {
  const result = validateExecution(input)
  if (result._tag === "Right") return "valid"
  const issue = ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]
  if (issue === undefined) return "not a valid execution"
  const path = issue.path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join("")
  return path === "" ? issue.message : `${path}: ${issue.message}`
}

/**
 * A step of an execution, as listed in a single execution's `stepExecutions`.
 *
 * @since 0.1.0
 */
export const StepExecutionSummary = Schema.Struct(
  { id: Schema.NonEmptyString },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * A step of an execution, as listed in a single execution's `stepExecutions`.
 *
 * @since 0.1.0
 */
export type StepExecutionSummary = typeof StepExecutionSummary.Type

const validateStep = Schema.decodeUnknownEither(StepExecutionSummary)

/**
 * Splits the `stepExecutions` of an execution's answer: the records that are step executions
 * (with a non-empty string `id`), and the others with the reason, so that one malformed step does
 * not make the whole execution unreadable. The answer is returned as it is when every step is
 * valid.
 *
 * @since 0.3.0
 */
export const splitSteps = (json: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> => {
  const steps = json.stepExecutions
  if (!Array.isArray(steps)) return "stepExecutions" in json ? json : { ...json, stepExecutions: [] }
  const valid: Array<unknown> = []
  const invalid: Array<InvalidRecord> = []
  steps.forEach((step: unknown, index) => {
    const result = validateStep(step)
    if (result._tag === "Right") {
      valid.push(step)
      return
    }
    const issue = ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]
    const where = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `
    invalid.push({ raw: step, reason: `${where}${issue?.message ?? "not a step execution"}`, index })
  })
  return invalid.length === 0 ? json : { ...json, stepExecutions: valid, invalidStepExecutions: invalid }
}

/**
 * The inverse of {@link splitSteps}: the execution with its `stepExecutions` as served, the
 * elements that were set apart (`invalidStepExecutions`) put back at their positions. For
 * printing an answer exactly as the API gave it (`taskhistory executions get --format json`).
 *
 * @since 0.3.0
 */
export const asServed = (detail: WorkflowExecutionDetail): Readonly<Record<string, unknown>> => {
  const { invalidStepExecutions: invalid, ...rest } = detail
  if (invalid === undefined || invalid.length === 0) return rest
  const steps: Array<unknown> = [...detail.stepExecutions]
  for (const record of [...invalid].sort((a, b) => a.index - b.index))
    steps.splice(record.index, 0, record.raw)
  return { ...rest, stepExecutions: steps }
}

/**
 * The answer of `GET .../workflow-executions/{executionId}` as first checked: the execution's
 * fields, `stepExecutions` any array (its elements are checked one by one by {@link splitSteps}).
 *
 * @since 0.3.0
 */
export const WorkflowExecutionDetailAnswer = Schema.Struct(
  {
    ...WorkflowExecutionFields.fields,
    stepExecutions: Schema.optional(Schema.Array(Schema.Unknown))
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * One execution with its step executions (`GET .../workflow-executions/{executionId}`).
 *
 * @since 0.1.0
 */
export const WorkflowExecutionDetail = Schema.Struct(
  {
    ...WorkflowExecutionFields.fields,
    stepExecutions: Schema.optionalWith(Schema.Array(StepExecutionSummary), { default: () => [] })
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * One execution with its step executions. `invalidStepExecutions` (since 0.3.0): the elements of
 * `stepExecutions` that were not step executions (no string `id`), taken out of it with the
 * reason and their position; absent when every step is valid (the answer is then as served).
 *
 * @since 0.1.0
 */
export type WorkflowExecutionDetail = typeof WorkflowExecutionDetail.Type & {
  readonly invalidStepExecutions?: ReadonlyArray<InvalidRecord> | undefined
}

/**
 * One step's input and output (`GET .../workflow-executions/{executionId}/step-executions/{stepExecutionId}`).
 *
 * @since 0.1.0
 */
export const StepExecution = Schema.Struct(
  {
    id: Schema.NonEmptyString,
    input: Schema.optional(Schema.Unknown),
    output: Schema.optional(Schema.Unknown),
    isLargeInput: Schema.optional(Schema.Boolean),
    isLargeOutput: Schema.optional(Schema.Boolean)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * One step's input and output.
 *
 * @since 0.1.0
 */
export type StepExecution = typeof StepExecution.Type

/**
 * Records per page of the list endpoint: the API has no parameter to change it, and a page with
 * fewer records is the last one.
 *
 * @example
 * ```ts
 * import { PAGE_SIZE } from "@taskhistory/core/WorkflowExecution"
 * const pages = Math.ceil(total / PAGE_SIZE)
 * ```
 *
 * @since 0.1.0
 */
export const PAGE_SIZE = 100

/**
 * The raw shape of a page as the API sends it: the records under `data` (the OpenAPI file) or
 * `workflowExecutions` (Paragon's documentation), `total` optional, `nextLink` null or absent.
 * Records are left unknown here; each is checked on its own so one bad record does not hide the
 * others (see `ExecutionPage`).
 *
 * @since 0.1.0
 */
export const RawExecutionPage = Schema.Union(
  Schema.Struct({
    data: Schema.Array(Schema.Unknown),
    total: Schema.optional(Schema.NullOr(Schema.Number)),
    nextLink: Schema.optional(Schema.NullOr(Schema.String))
  }),
  Schema.Struct({
    workflowExecutions: Schema.Array(Schema.Unknown),
    total: Schema.optional(Schema.NullOr(Schema.Number)),
    nextLink: Schema.optional(Schema.NullOr(Schema.String))
  })
)

/**
 * A record of a page that is not a valid execution, kept with the reason (for quarantine).
 *
 * @since 0.1.0
 */
export interface InvalidRecord {
  readonly raw: unknown
  readonly reason: string
  /** Position of the record in its page. */
  readonly index: number
}

/**
 * One decoded page.
 *
 * @since 0.1.0
 */
export interface ExecutionPage {
  /** The valid records, in the order the API sent them. */
  readonly records: ReadonlyArray<WorkflowExecution>
  /** Records that failed validation, with the reason. */
  readonly invalid: ReadonlyArray<InvalidRecord>
  /** `total` when the API sent it. */
  readonly total: number | undefined
  /** `nextLink` as the API sent it (never followed as is: see `TaskHistoryClient`). */
  readonly nextLink: string | undefined
  /** The offset this page was requested at. */
  readonly offset: number
}

/**
 * Splits a raw page into valid and invalid records.
 *
 * @since 0.1.0
 */
export const toExecutionPage = (raw: typeof RawExecutionPage.Type, offset: number): ExecutionPage => {
  const items = "data" in raw ? raw.data : raw.workflowExecutions
  const records: Array<WorkflowExecution> = []
  const invalid: Array<InvalidRecord> = []
  items.forEach((item, index) => {
    const result = decodeExecution(item)
    if (result._tag === "Right") records.push(result.right)
    else invalid.push({ raw: item, reason: result.left, index })
  })
  return {
    records,
    invalid,
    total: raw.total ?? undefined,
    nextLink: raw.nextLink ?? undefined,
    offset
  }
}

/**
 * What makes an id unusable as one segment of a request path, or `undefined` when it is fine:
 * empty, `.` or `..` (a URL normaliser would move the request to another resource). Every other
 * id is sent percent-encoded ({@link idSegment}). Ids typed by a user and ids from a server's
 * answer (a bulk replay's list) go through the same check.
 *
 * @example
 * idProblem("..") // "is a relative path segment (..)"
 *
 * @since 0.1.0
 */
export const idProblem = (id: string): string | undefined =>
  id === "" ? "is empty" : id === "." || id === ".." ? `is a relative path segment (${id})` : undefined

/**
 * An id as one path segment: every character but the unreserved ones (`A-Z a-z 0-9 - . _ ~`)
 * percent-encoded, so that no `/`, `?`, `#`, `%2e%2e` or other sequence can change the path.
 * Check it with {@link idProblem} first.
 *
 * @example
 * idSegment("a/b?c") // "a%2Fb%3Fc"
 *
 * @since 0.1.0
 */
export const idSegment = (id: string): string =>
  encodeURIComponent(id).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
