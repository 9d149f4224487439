/**
 * The report in a real browser: Debian's headless Chromium, driven by playwright-core (no browser
 * download), opens the file from disk with every other request blocked. The data comes from the
 * simulator over HTTP through core's client; the expected numbers from plain loops over the
 * records the simulator served.
 *
 * Skipped when Chromium is missing (install Debian's chromium: apt-get install -y chromium; or
 * point TASKHISTORY_CHROMIUM at another binary). One screenshot and the HTML are kept in
 * artifacts/report/ at the repository root.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as ExecutionQuery from "@taskhistory/core/ExecutionQuery"
import * as RateLimiter from "@taskhistory/core/RateLimiter"
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as TaskHistoryConfig from "@taskhistory/core/TaskHistoryConfig"
import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import { Effect, Either, Layer, Stream } from "effect"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { PNG } from "pngjs"
import * as Format from "../src/internal/format.js"
import type * as Names from "../src/Names.js"
import * as Report from "../src/Report.js"
import { reference } from "./fixtures.js"

const CHROMIUM = process.env.TASKHISTORY_CHROMIUM ?? "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
const ENABLE = "install Debian's chromium: apt-get install -y chromium"
if (!hasChromium) console.warn(`report browser tests skipped: no ${CHROMIUM} (${ENABLE})`)

/** Where CI keeps the screenshot and the page (git-ignored). */
const ARTIFACTS = fileURLToPath(new URL("../../../artifacts/report/", import.meta.url))

const NOW = "2026-11-30T00:00:00.000Z"
const period = Either.getOrThrow(Report.period("2026-10-31T00:00:00Z", NOW))
const HOSTILE_LABEL = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
const HOSTILE_MESSAGE =
  "<script>window.__pwned=3</script> Error: </table></section><img src=x onerror=alert(1)>"
const MESSAGES = [
  "Error: Request failed with status code 429",
  "Error: invalid_grant",
  "ETIMEDOUT",
  HOSTILE_MESSAGE
]

interface Loaded {
  readonly page: Page
  readonly requests: ReadonlyArray<string>
  readonly external: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
  readonly consoleErrors: ReadonlyArray<string>
}

describe.skipIf(!hasChromium)(`the report in headless Chromium (skipped without it: ${ENABLE})`, () => {
  let sim: RunningSimulator
  let browser: Browser
  let context: BrowserContext
  let dir: string
  let served: ReadonlyArray<Readonly<Record<string, unknown>>>
  let data: Report.ReportData
  let file: string
  let loaded: Loaded

  /** Opens a file from disk; every request that is not the file itself is recorded and aborted. */
  const open = async (path: string): Promise<Loaded> => {
    const url = pathToFileURL(path).href
    const requests: Array<string> = []
    const external: Array<string> = []
    const failed: Array<string> = []
    const consoleErrors: Array<string> = []
    const page = await context.newPage()
    await page.route("**/*", (route) => {
      const target = route.request().url()
      if (target === url) return route.continue()
      external.push(target)
      return route.abort("blockedbyclient")
    })
    page.on("request", (r) => requests.push(r.url()))
    page.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`))
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") consoleErrors.push(`${m.type()}: ${m.text()}`)
    })
    page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`))
    const response = await page.goto(url, { waitUntil: "load" })
    expect(response === null || response.ok()).toBe(true)
    return { page, requests, external, failed, consoleErrors }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "taskhistory-report-browser-"))
    sim = await startSimulator({ records: 6000, seed: 17, now: NOW, span: 60 })
    served = sim.dataset()
    const ClientLive = TaskHistoryClient.layer.pipe(
      Layer.provide(RateLimiter.layerFromConfig),
      Layer.provide(
        TaskHistoryConfig.layer({
          apiKey: sim.apiKey,
          projectId: sim.projectId,
          baseUrl: sim.url,
          rateLimit: "1000/1s"
        })
      ),
      Layer.provide(UndiciHttpClient.layer)
    )
    // Step errors of the period's failed executions, as the export's step_executions would hold them.
    const failedInPeriod = served.filter(
      (r) =>
        r.status === "FAILED" &&
        Date.parse(String(r.dateStarted)) >= Date.parse(period.start) &&
        Date.parse(String(r.dateStarted)) < Date.parse(period.end)
    )
    const errors: ReadonlyArray<Report.StepError> = failedInPeriod.map((r, i) => ({
      executionId: String(r.id),
      workflowId: String(r.workflowId),
      stepId: `step-${i % 3}`,
      errorMessage: MESSAGES[i % MESSAGES.length]!
    }))
    data = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* TaskHistoryClient.TaskHistoryClient
        const query = yield* ExecutionQuery.makeEffect({ afterDate: Report.previousPeriod(period).start })
        return yield* Report.fromStream(client.executions(query), {
          period,
          top: 12,
          errors: Stream.fromIterable(errors)
        })
      }).pipe(Effect.provide(ClientLive), Effect.scoped)
    )
    const busiest = data.failuresByWorkflow.top[0]!.group
    const names: Names.Names = {
      workflows: { [busiest]: HOSTILE_LABEL },
      users: { [data.tasksByUser.top[0]!.group]: "Acme Corp (billing)" }
    }
    const html = Report.render(data, {
      generatedAt: NOW,
      names,
      details: [{ label: "Source", value: `api (${sim.url})` }]
    })
    file = join(dir, "report.html")
    writeFileSync(file, html)
    mkdirSync(ARTIFACTS, { recursive: true })
    writeFileSync(join(ARTIFACTS, "report.html"), html)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run"
      ]
    })
    context = await browser.newContext({ viewport: { width: 1024, height: 900 }, offline: true })
    loaded = await open(file)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await sim?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it("opens from disk with no other request, no failed request and no console error", () => {
    expect(loaded.requests).toEqual([pathToFileURL(file).href])
    expect(loaded.external).toEqual([])
    expect(loaded.failed).toEqual([])
    expect(loaded.consoleErrors).toEqual([])
  })

  it("the harness catches what it guards against: a page with external references and an error", async () => {
    const canary = join(dir, "canary.html")
    writeFileSync(
      canary,
      `<!DOCTYPE html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/a.css"></head><body>
      <img src="https://example.invalid/x.png"><script>console.error("canary")</script></body></html>`
    )
    const seen = await open(canary)
    expect(seen.external).toEqual(
      expect.arrayContaining(["http://127.0.0.1:9/a.css", "https://example.invalid/x.png"])
    )
    expect(seen.failed.length).toBeGreaterThanOrEqual(2)
    expect(seen.consoleErrors.some((m) => m.includes("canary"))).toBe(true)
    await seen.page.close()
  })

  it("runs nothing from the data: hostile labels and messages are shown as text", async () => {
    const { page } = loaded
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
    expect(await page.locator("img, script").count()).toBe(0)
    const text = await page.locator("body").textContent()
    expect(text).toContain(HOSTILE_LABEL)
    expect(text).toContain(HOSTILE_MESSAGE)
  })

  it("shows the headline numbers computed independently over the records served", async () => {
    const { page } = loaded
    const ref = reference(served, period.start, period.end)
    const value = (metric: string) => page.locator(`[data-metric="${metric}"] .value`)
    expect(await value("executions").textContent()).toBe(Format.count(ref.executions))
    expect(await value("tasks").textContent()).toBe(Format.count(ref.tasks))
    expect(await value("failures").textContent()).toBe(Format.count(ref.failures))
    expect(await value("failure-rate").textContent()).toBe(Format.percent(ref.failureRate))
    expect(Number(await value("executions").getAttribute("data-value"))).toBe(ref.executions)
    expect(Number(await value("failure-rate").getAttribute("data-value"))).toBe(ref.failureRate)
    // The per-day table, row by row.
    const rows = await page
      .locator("#per-day tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll("th, td")].map((c) => c.textContent ?? ""))
      )
    expect(rows).toHaveLength(30)
    for (const [day, executions, failures] of rows) {
      const r = ref.perDay.get(day!) ?? { executions: 0, failures: 0, tasks: 0 }
      expect([executions, failures]).toEqual([Format.count(r.executions), Format.count(r.failures)])
    }
    // The hours table: 24 rows of 7 weekdays.
    const hours = await page
      .locator("#busiest-hours tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) =>
          [...tr.querySelectorAll("td")]
            .slice(0, 7)
            .map((c) => Number((c.textContent ?? "").replace(/,/g, "")))
        )
      )
    expect(hours).toEqual(Array.from({ length: 24 }, (_, h) => ref.hours.map((row) => row[h])))
  })

  it("draws every chart's marks, one per datum", async () => {
    const { page } = loaded
    const count = (selector: string) => page.locator(selector).count()
    expect(await count("svg")).toBe(6)
    expect(await count("g.th-day-executions rect")).toBe(30)
    expect(await count("g.th-day-failures rect")).toBe(30)
    expect(await count("g.th-workflow-failure-rate rect")).toBe(data.failuresByWorkflow.top.length)
    expect(await count("g.th-user-tasks rect")).toBe(data.tasksByUser.top.length)
    expect(await count("g.th-duration-p50 circle")).toBe(data.durationsByWorkflow.top.length)
    expect(await count("g.th-duration-p95 circle")).toBe(data.durationsByWorkflow.top.length)
    expect(await count("g.th-duration-p99 circle")).toBe(data.durationsByWorkflow.top.length)
    expect(await count("g.th-hours rect")).toBe(168)
    expect(await count("g.th-error-executions rect")).toBe(data.errors!.top.length)
    expect(data.failuresByWorkflow.top).toHaveLength(12)
    // Bars have the heights of their data: the tallest day bar is the busiest day.
    const heights = await page
      .locator("g.th-day-executions rect")
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("height"))))
    const busiest = data.days.reduce(
      (best, d, i) => (d.executions > data.days[best]!.executions ? i : best),
      0
    )
    expect(heights.indexOf(Math.max(...heights))).toBe(busiest)
    // Each chart is drawn inside the viewport's width (nothing overflows the page).
    const widths = await page
      .locator("figure svg")
      .evaluateAll((svgs) => svgs.map((s) => s.getBoundingClientRect().right))
    for (const right of widths) expect(right).toBeLessThanOrEqual(1024)
  })

  it("takes a non-blank screenshot, kept as a CI artifact", async () => {
    const { page } = loaded
    const png = await page.screenshot({ fullPage: true })
    writeFileSync(join(ARTIFACTS, "report.png"), png)
    const image = PNG.sync.read(png)
    expect(image.width).toBe(1024)
    expect(image.height).toBeGreaterThan(2000)
    // Distinct colours and the share of non-white pixels: a blank or unstyled page has neither.
    const colors = new Set<number>()
    let ink = 0
    for (let i = 0; i < image.data.length; i += 4 * 7) {
      const [r, g, b] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!]
      colors.add((r << 16) | (g << 8) | b)
      if (r + g + b < 600) ink++
    }
    expect(colors.size).toBeGreaterThan(50)
    expect(ink / (image.data.length / (4 * 7))).toBeGreaterThan(0.03)
  })

  it("prints on A4 and Letter with charts kept whole on a page", async () => {
    const { page } = loaded
    await page.emulateMedia({ media: "print" })
    // Each chart's block (heading, introduction, chart) is kept whole, and fits on one page.
    const figures = await page.locator(".keep").evaluateAll((els) =>
      els.map((el) => ({
        breakInside: getComputedStyle(el).breakInside,
        height: el.getBoundingClientRect().height
      }))
    )
    expect(figures).toHaveLength(7)
    // A4 is the shorter page: 297 mm less 2 x 12 mm margins, at 96 px per inch.
    const printable = ((297 - 24) / 25.4) * 96
    for (const f of figures) {
      expect(f.breakInside).toBe("avoid")
      expect(f.height).toBeLessThan(printable)
    }
    const sections = await page
      .locator("h2")
      .evaluateAll((els) => els.map((el) => getComputedStyle(el).breakAfter))
    expect(new Set(sections)).toEqual(new Set(["avoid"]))
    for (const format of ["A4", "Letter"] as const) {
      const pdf = await page.pdf({ format, printBackground: true })
      expect(pdf.subarray(0, 5).toString()).toBe("%PDF-")
      expect(pdf.length).toBeGreaterThan(50_000)
    }
    await page.emulateMedia({ media: "screen" })
  })
})
