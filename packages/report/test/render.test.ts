import { describe, expect, it } from "@effect/vitest"
import type { WorkflowExecution } from "@taskhistory/core/WorkflowExecution"
import { Effect, Either, Stream } from "effect"
import { parseHTML } from "linkedom"
import * as Names from "../src/Names.js"
import * as Report from "../src/Report.js"
import { executions } from "./fixtures.js"

const period = Either.getOrThrow(Report.period("2026-09-01", "2026-09-15"))
const records: ReadonlyArray<WorkflowExecution> = [
  ...executions({ count: 3000, seed: 3, from: "2026-08-18T00:00:00Z", to: "2026-09-15T00:00:00Z" })
]
const errors: ReadonlyArray<Report.StepError> = [
  { executionId: "exec-3-1", workflowId: "wf-0", stepId: "s", errorMessage: "Error: 429 Too Many Requests" },
  { executionId: "exec-3-2", workflowId: "wf-1", stepId: "s", errorMessage: "Error: invalid_grant" }
]
const aggregate = (input: ReadonlyArray<WorkflowExecution>, options: Partial<Report.AggregateOptions> = {}) =>
  Effect.runSync(Report.fromStream(Stream.fromIterable(input), { period, ...options }))
const data = aggregate(records, { errors: Stream.fromIterable(errors) })
const generatedAt = "2026-09-15T06:00:00Z"

const HOSTILE = [
  "<script>window.__pwned = 1</script>",
  '"><img src=x onerror="window.__pwned=1">',
  "</svg><script>alert(1)</script>",
  "' onmouseover='alert(1)",
  "&lt;not-an-entity&gt; & <b>bold</b>"
]

describe("Report.render", () => {
  it("is deterministic: the same data and options give the same bytes", () => {
    const a = Report.render(data, { generatedAt })
    const b = Report.render(aggregate(records, { errors: Stream.fromIterable(errors) }), { generatedAt })
    expect(a).toBe(b)
    const later = Report.render(data, { generatedAt: "2026-09-16T06:00:00Z" })
    expect(later).not.toBe(a)
    expect(later.replace("2026-09-16 06:00 UTC", "2026-09-15 06:00 UTC")).toBe(a)
  })

  it("is one self-contained document: a CSP of default-src 'none', no script, no external reference", () => {
    const html = Report.render(data, { generatedAt })
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true)
    expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src 'none';`)
    const { document } = parseHTML(html)
    expect(document.querySelectorAll("script")).toHaveLength(0)
    expect(document.querySelectorAll("link[rel=stylesheet], img, iframe, object, embed")).toHaveLength(0)
    for (const el of document.querySelectorAll("[src], [href], [srcset], [xlink\\:href]")) {
      for (const name of ["src", "href", "srcset", "xlink:href"]) {
        const value = el.getAttribute(name)
        if (value !== null) expect(value.startsWith("data:") || value.startsWith("#")).toBe(true)
      }
    }
    expect(html).not.toMatch(/url\(\s*['"]?(?!data:|#)/)
    expect(html).not.toMatch(/@import/)
  })

  it("follows every chart with a table of its numbers, with a caption and scoped headers", () => {
    const { document } = parseHTML(Report.render(data, { generatedAt }))
    const figures = document.querySelectorAll("figure")
    expect(figures.length).toBe(6)
    for (const figure of figures) {
      expect(figure.querySelector("svg")!.getAttribute("role")).toBe("img")
      expect(figure.querySelector("svg")!.getAttribute("aria-label")).toBeTruthy()
      // The figure closes the block kept whole in print (heading, introduction, chart); the table follows.
      expect(figure.nextElementSibling).toBeNull()
      let next = figure.parentElement!.nextElementSibling
      expect(next?.tagName.toLowerCase()).toBe("table")
      expect(next!.querySelector("caption")!.textContent).toBeTruthy()
      expect(next!.querySelectorAll("thead th").length).toBe(
        next!.querySelectorAll('thead th[scope="col"]').length
      )
      expect(next!.querySelectorAll("tbody tr").length).toBe(
        next!.querySelectorAll('tbody th[scope="row"]').length
      )
      next = null
    }
    // The headline has its own table beside the cards.
    expect(document.querySelector("#headline table caption")).toBeTruthy()
  })

  it("draws one mark per datum", () => {
    const { document } = parseHTML(Report.render(data, { generatedAt }))
    const count = (selector: string) => document.querySelectorAll(selector).length
    expect(count("g.th-day-executions rect")).toBe(14)
    expect(count("g.th-day-failures rect")).toBe(14)
    expect(count("g.th-workflow-failure-rate rect")).toBe(data.failuresByWorkflow.top.length)
    expect(count("g.th-user-tasks rect")).toBe(data.tasksByUser.top.length)
    expect(count("g.th-duration-p99 circle")).toBe(data.durationsByWorkflow.top.length)
    expect(count("g.th-hours rect")).toBe(168)
    expect(count("g.th-error-executions rect")).toBe(2)
  })

  it("escapes ids, labels and error messages: hostile strings stay text", () => {
    const hostileRecords = records.map((r, i) => ({
      ...r,
      workflowId: HOSTILE[i % HOSTILE.length]!,
      userId: HOSTILE[(i + 1) % HOSTILE.length]!
    }))
    const names: Names.Names = {
      workflows: Object.fromEntries(HOSTILE.slice(0, 2).map((h, i) => [h, HOSTILE[HOSTILE.length - 1 - i]!])),
      users: { [HOSTILE[2]!]: HOSTILE[0]! }
    }
    const hostile = aggregate(hostileRecords, {
      errors: Stream.fromIterable(
        HOSTILE.map((h, i) => ({ executionId: `e${i}`, workflowId: h, stepId: h, errorMessage: h }))
      )
    })
    const html = Report.render(hostile, {
      generatedAt: HOSTILE[0]!,
      names,
      title: HOSTILE[1]!,
      details: [{ label: HOSTILE[3]!, value: HOSTILE[4]! }]
    })
    const { document } = parseHTML(html)
    expect(document.querySelectorAll("script, img, b")).toHaveLength(0)
    for (const el of document.querySelectorAll("*")) {
      for (const attr of el.attributes) expect(attr.name.startsWith("on")).toBe(false)
    }
    // The strings are there as text, in tables and charts alike.
    const text = document.body.textContent!
    for (const h of HOSTILE) expect(text).toContain(h)
    expect(document.querySelector("title")!.textContent).toContain(HOSTILE[1])
    expect(document.querySelector("#tasks-by-user svg")!.textContent).toContain(HOSTILE[0])
  })

  it("shows labels from the names mapping, with the id beside them", () => {
    const html = Report.render(data, {
      generatedAt,
      names: { workflows: { "wf-0": "Sync contacts to Salesforce" }, users: { "user-0": "Acme Corp" } }
    })
    const { document } = parseHTML(html)
    const row = [...document.querySelectorAll("#failure-rate tbody th")].find((th) =>
      th.textContent!.includes("wf-0")
    )!
    expect(row.querySelector(".label")!.textContent).toBe("Sync contacts to Salesforce")
    expect(row.querySelector("code")!.textContent).toBe("wf-0")
    expect(document.querySelector("#tasks-by-user svg")!.textContent).toContain("Acme Corp")
  })

  it("says when step errors were not available, and when there were none", () => {
    const without = Report.render(aggregate(records), { generatedAt })
    expect(parseHTML(without).document.querySelector("#errors .empty")!.textContent).toContain(
      "--steps failed"
    )
    const none = Report.render(aggregate(records, { errors: Stream.empty }), { generatedAt })
    expect(parseHTML(none).document.querySelector("#errors .empty")!.textContent).toBe(
      "No step errors in this period."
    )
  })

  it("renders an empty period without failing", () => {
    const html = Report.render(aggregate([]), { generatedAt })
    const { document } = parseHTML(html)
    expect(document.querySelector('[data-metric="executions"] .value')!.textContent).toBe("0")
    expect(document.querySelectorAll("g.th-day-executions rect")).toHaveLength(14)
    expect(document.querySelectorAll("g.th-hours rect")).toHaveLength(168)
  })

  it("stays under 1 MB for 90 days of a busy project (thousands of workflows, tens of thousands of users)", () => {
    const busy = Either.getOrThrow(Report.period("2026-06-01", "2026-08-30"))
    const many = Effect.runSync(
      Report.fromStream(
        Stream.fromIterable(
          executions({
            count: 200_000,
            seed: 9,
            from: "2026-03-03T00:00:00Z",
            to: "2026-08-30T00:00:00Z",
            workflows: 5_000,
            users: 60_000,
            workflowPrefix: "workflow-0123456789abcdef-0123456789abcdef-",
            userPrefix: "customer-account-0123456789abcdef-"
          })
        ),
        {
          period: busy,
          errors: Stream.fromIterable(
            Array.from({ length: 20_000 }, (_, i) => ({
              executionId: `e${i}`,
              workflowId: `workflow-${i % 500}`,
              errorMessage: `Error: request ${i % 3000} failed: ${"details ".repeat(200)}`
            }))
          )
        }
      )
    )
    expect(many.days).toHaveLength(90)
    expect(many.tasksByUser.groups).toBeGreaterThan(30_000)
    const names: Names.Names = {
      users: Object.fromEntries(
        Array.from({ length: 60_000 }, (_, u) => [
          `customer-account-0123456789abcdef-${u}`,
          `Customer ${u} Inc.`
        ])
      )
    }
    const bytes = Buffer.byteLength(Report.render(many, { generatedAt, names }))
    expect(bytes).toBeLessThan(1_000_000)
  })
})

describe("Names.decode", () => {
  it("accepts the contract's shape and refuses others with InvalidInput naming the file", () => {
    expect(Names.decode({ workflows: { a: "A" } })).toEqual(Either.right({ workflows: { a: "A" } }))
    expect(Names.decode({})).toEqual(Either.right({}))
    const bad = Names.decode({ workflows: { a: 1 } }, "names.yaml")
    expect(Either.isLeft(bad) && bad.left._tag).toBe("InvalidInput")
    expect(Either.isLeft(bad) && bad.left.message).toContain('"names.yaml"')
    expect(Either.isLeft(bad) && bad.left.message).toContain("workflows.a")
    expect(Either.isLeft(Names.decode({ workflow: {} }))).toBe(true)
    expect(Either.isLeft(Names.decode([]))).toBe(true)
  })

  it("looks labels up by own keys only", () => {
    expect(Names.workflow({ workflows: { a: "A" } }, "a")).toBe("A")
    expect(Names.workflow({ workflows: { a: "A" } }, "toString")).toBeUndefined()
    expect(Names.user({}, "u")).toBeUndefined()
  })
})
