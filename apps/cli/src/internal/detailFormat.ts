/**
 * Tables for people of one execution with its steps (`executions get`) and of one step's input
 * and output (`executions step`), and the error message of a failed step, found in its output.
 * `--format json` prints what the server sent instead (see the commands).
 *
 * @internal
 */
import type {
  StepExecution,
  StepExecutionSummary,
  WorkflowExecutionDetail
} from "@taskhistory/core/WorkflowExecution"
import * as Format from "./format.js"

const text = (u: unknown): string | undefined => (typeof u === "string" && u !== "" ? u : undefined)

/** The longest error message shown (a server may send a whole page). */
const MAX_MESSAGE = 500

const oneLine = (s: string): string => {
  const flat = s.replace(/\s+/g, " ").trim()
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE - 3)}...` : flat
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Keys under which an error may sit deeper: an HTTP step's `response.body`, `data`, `error`. */
const NESTED = ["error", "response", "body", "data", "result"] as const

/** The message (and code) at one level of an output, or deeper (bounded), if any. */
const messageIn = (value: unknown, depth: number): string | undefined => {
  if (!isRecord(value)) return undefined
  const error = value.error
  const first = Array.isArray(value.errors) ? value.errors[0] : undefined
  const message =
    (isRecord(error) ? text(error.message) : text(error)) ??
    text(value.message) ??
    text(value.errorMessage) ??
    (isRecord(first) ? text(first.message) : text(first))
  if (message !== undefined) {
    const code = (isRecord(error) ? text(error.code) : undefined) ?? text(value.code)
    return code === undefined || message.includes(code) ? message : `${message} (${code})`
  }
  if (depth === 0) return undefined
  for (const key of NESTED) {
    const found = messageIn(value[key], depth - 1)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * The error message of a failed step's output, if one can be found: `error.message`, `error`
 * (text), `message`, `errorMessage` or the first of `errors[]`, with `error.code` (or `code`)
 * after it, at the top or a few levels down (`response.body.errors[0].message`); a text output
 * is the message itself. `undefined` when the output holds none, or is stored apart (a large
 * output is a URL).
 *
 * @internal
 */
export const errorMessageOf = (step: StepExecution): string | undefined => {
  if (step.isLargeOutput === true) return undefined
  const output = step.output
  const message = typeof output === "string" ? text(output) : messageIn(output, 3)
  return message === undefined ? undefined : oneLine(message)
}

/** The first step marked FAILED (any case), if any. @internal */
export const failedStep = (detail: WorkflowExecutionDetail): StepExecutionSummary | undefined =>
  detail.stepExecutions.find((s) => typeof s.status === "string" && s.status.toUpperCase() === "FAILED")

/** What the table says about the failed step's error. @internal */
export type FailureNote =
  | { readonly _tag: "Found"; readonly stepId: string; readonly message: string }
  | { readonly _tag: "NotInOutput"; readonly stepId: string; readonly largeOutput: unknown }
  | { readonly _tag: "NoFailedStep" }
  | { readonly _tag: "Unreadable"; readonly stepId: string; readonly reason: string }

const durationOf = (started: unknown, ended: unknown): string => {
  const a = typeof started === "string" ? Date.parse(started) : Number.NaN
  const b = typeof ended === "string" ? Date.parse(ended) : Number.NaN
  return Number.isFinite(a) && Number.isFinite(b) && b >= a ? Format.humanMs(b - a) : "-"
}

const field = (label: string, value: string) => [label, value]

/**
 * `executions get` as a table: the execution, its steps (status, timing) and, for a failed
 * execution, the failed step's error.
 *
 * @internal
 */
export const executionTable = (detail: WorkflowExecutionDetail, note?: FailureNote): string => {
  const head = [
    field("execution", detail.id),
    field("status", detail.status),
    field("workflow", detail.workflowId ?? "-"),
    field("user", detail.userId ?? "-"),
    field("tasks", detail.taskCount === undefined ? "-" : String(detail.taskCount)),
    field("started", detail.dateStarted),
    field("ended", detail.dateEnded ?? "-"),
    field("duration", Format.humanMs(detail.runDuration))
  ]
  if (note !== undefined) {
    switch (note._tag) {
      case "Found":
        head.push(field("failed step", note.stepId), field("error", note.message))
        break
      case "NotInOutput":
        head.push(
          field("failed step", note.stepId),
          field(
            "error",
            typeof note.largeOutput === "string"
              ? `not in the step's output, which is stored apart: ${note.largeOutput}`
              : "the step's output holds no error message (see `taskhistory executions step`)"
          )
        )
        break
      case "NoFailedStep":
        head.push(field("error", "no step is marked FAILED"))
        break
      case "Unreadable":
        head.push(field("failed step", note.stepId), field("error", `could not be read: ${note.reason}`))
        break
    }
  }
  // Step records the client could not read are not in the table: say how many, and where.
  const invalid = detail.invalidStepExecutions ?? []
  if (invalid.length > 0) {
    head.push(
      field(
        "malformed",
        `${invalid.length} step record(s) not shown (#${invalid.map((r) => r.index + 1).join(", #")} of the answer: ${invalid[0]!.reason}); --format json prints them as served`
      )
    )
  }
  // one label width whatever the rows, so that scripts and eyes find the values in one column
  let out = Format.align(head, ["failed step".length])
  const steps = detail.stepExecutions
  if (steps.length === 0) return `${out}\nno step executions\n`
  const header = ["#", "STEP", "NAME", "STATUS", "STARTED", "DURATION"]
  const rows = steps.map((s, i) => [
    String(i + 1),
    s.id,
    text(s.name) ?? "-",
    text(s.status) ?? "-",
    text(s.dateStarted) ?? "-",
    durationOf(s.dateStarted, s.dateEnded)
  ])
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => Format.cell(r[i] ?? "").length)))
  out += `\n${Format.align(all, widths, [true, false, false, false, false, true])}`
  return out
}

/** Each line indented and escaped on its own (the newlines are the JSON's layout). */
const indent = (s: string) =>
  s
    .split("\n")
    .map((l) => `  ${Format.cell(l)}`)
    .join("\n")

const body = (value: unknown, large: boolean | undefined): string => {
  if (value === undefined) return "  -"
  if (large === true && typeof value === "string") return `  (large: stored apart) ${Format.cell(value)}`
  return indent(JSON.stringify(value, null, 2) ?? "-")
}

/**
 * `executions step` as text for people: the step's id, its error when it has one, then its
 * input and output as indented JSON.
 *
 * @internal
 */
export const stepTable = (executionId: string, step: StepExecution): string => {
  const head = [field("execution", executionId), field("step", step.id)]
  const error = errorMessageOf(step)
  if (
    error !== undefined &&
    isRecord(step.output) &&
    (step.output.error !== undefined || step.output.errors !== undefined)
  ) {
    head.push(field("error", error))
  }
  const w = Math.max(...head.map((r) => (r[0] ?? "").length))
  return `${Format.align(head, [w])}\ninput\n${body(step.input, step.isLargeInput)}\noutput\n${body(step.output, step.isLargeOutput)}\n`
}
