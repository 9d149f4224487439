/**
 * The report's page: one HTML document, inline CSS, inline SVG charts, a table after each chart,
 * no script. Strings from data are escaped here (`escapeHtml`) or by the DOM serializer (charts).
 */
import { missingKey } from "@taskhistory/core/Usage"
import * as Names from "../Names.js"
import type { CountRow, DurationRow, ErrorRow, OtherRow, RenderOptions, ReportData } from "../Report.js"
import * as Charts from "./charts.js"
import { escapeHtml as esc } from "./escape.js"
import * as Format from "./format.js"
import { css } from "./style.js"

/** No network and no script, whatever the page holds: styles inline, images only as data URLs. */
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

interface Cell {
  readonly html: string
  readonly numeric?: boolean
}

const cell = (html: string, numeric = false): Cell => ({ html, numeric })
const num = (text: string): Cell => cell(esc(text), true)

interface Header {
  readonly text: string
  readonly numeric?: boolean
}

/** A table whose first cell in each row is that row's header. */
const table = (options: {
  readonly caption: string
  readonly headers: ReadonlyArray<Header>
  readonly body: ReadonlyArray<ReadonlyArray<Cell>>
  readonly foot?: ReadonlyArray<ReadonlyArray<Cell>> | undefined
  readonly className?: string | undefined
}): string => {
  const row = (cells: ReadonlyArray<Cell>) =>
    `<tr>${cells
      .map((c, i) => {
        const cls = c.numeric === true ? ' class="n"' : ""
        return i === 0 ? `<th scope="row"${cls}>${c.html}</th>` : `<td${cls}>${c.html}</td>`
      })
      .join("")}</tr>`
  const head = options.headers
    .map((h) => `<th scope="col"${h.numeric === true ? ' class="n"' : ""}>${esc(h.text)}</th>`)
    .join("")
  const foot =
    options.foot === undefined || options.foot.length === 0
      ? ""
      : `<tfoot>${options.foot.map(row).join("")}</tfoot>`
  const cls = options.className === undefined ? "" : ` class="${esc(options.className)}"`
  return `<table${cls}><caption>${esc(options.caption)}</caption><thead><tr>${head}</tr></thead><tbody>${options.body
    .map(row)
    .join("\n")}</tbody>${foot}</table>`
}

/**
 * A section: its heading, introduction and first block (chart or cards) are kept together on one
 * printed page; the table after them may run onto the next pages (its header row repeats).
 */
const section = (id: string, title: string, intro: string, lead: string, rest = ""): string =>
  `<section id="${id}" aria-labelledby="${id}-title">\n<div class="keep">\n<h2 id="${id}-title">${esc(title)}</h2>\n${
    intro === "" ? "" : `<p class="muted">${intro}</p>\n`
  }${lead}\n</div>\n${rest}\n</section>`

const figure = (svg: string, caption: string, key = ""): string =>
  `<figure>${key}${svg}<figcaption>${esc(caption)}</figcaption></figure>`

const empty = (text: string): string => `<p class="empty">${esc(text)}</p>`

const swatch = (color: string, text: string, dot = false) =>
  `<span class="swatch${dot ? " dot" : ""}" style="background:${color}"></span>${esc(text)}`

const instantOrRaw = (value: Date | string): string => {
  const ms = typeof value === "string" ? Date.parse(value) : value.getTime()
  return Number.isNaN(ms) ? String(value) : Format.instant(new Date(ms).toISOString())
}

const otherLabel = (other: OtherRow, noun: string) => `Other (${Format.count(other.groups)} ${noun})`

export const render = (data: ReportData, options: RenderOptions): string => {
  const names = options.names ?? Names.empty
  const title = options.title ?? "Task History report"

  const workflowText = (id: string) =>
    id === missingKey ? "(no workflow id)" : (Names.workflow(names, id) ?? id)
  const userText = (id: string) => (id === missingKey ? "(no user id)" : (Names.user(names, id) ?? id))
  const entity = (id: string, label: string | undefined, missing: string) =>
    id === missingKey
      ? `<span class="muted">${esc(missing)}</span>`
      : label === undefined
        ? `<code>${esc(id)}</code>`
        : `<span class="label">${esc(label)}</span><code>${esc(id)}</code>`
  const workflowCell = (id: string) => cell(entity(id, Names.workflow(names, id), "(no workflow id)"))
  const userCell = (id: string) => cell(entity(id, Names.user(names, id), "(no user id)"))

  const { headline, period, previousPeriod } = data
  const cur = headline.current
  const prev = headline.previous
  const periodText = `${Format.instant(period.start)} to ${Format.instant(period.end)}`
  const noExecutions = cur.executions === 0

  // ------------------------------------------------------------------------------ header
  const details: Array<[string, string]> = [
    ["Period", `${periodText} (${Format.length(period.start, period.end)}, end excluded)`],
    ["Compared with", `${Format.instant(previousPeriod.start)} to ${Format.instant(previousPeriod.end)}`],
    ...(options.details ?? []).map((d): [string, string] => [d.label, d.value]),
    ["Generated", instantOrRaw(options.generatedAt)]
  ]
  const header = `<header class="page">
<h1>${esc(title)}</h1>
<dl class="details">${details.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
</header>`

  // ------------------------------------------------------------------------------ headline
  const card = (
    metric: string,
    label: string,
    value: number,
    shown: string,
    delta: string,
    previous: string,
    tone: string
  ) =>
    `<div class="card" data-metric="${metric}"><dt>${esc(label)}</dt><dd><span class="value" data-value="${value}">${esc(
      shown
    )}</span><span class="delta${tone}">${esc(delta)} vs previous (${esc(previous)})</span></dd></div>`
  const tone = (delta: number | undefined, higherIsWorse: boolean) =>
    delta === undefined || delta === 0 || !higherIsWorse ? "" : delta > 0 ? " worse" : " better"
  const c = headline.change
  const cards = `<dl class="cards">
${card("executions", "Executions", cur.executions, Format.count(cur.executions), Format.change(c.executions), Format.count(prev.executions), "")}
${card("tasks", "Tasks", cur.tasks, Format.count(cur.tasks), Format.change(c.tasks), Format.count(prev.tasks), "")}
${card("failures", "Failures", cur.failures, Format.count(cur.failures), Format.change(c.failures), Format.count(prev.failures), tone(c.failures, true))}
${card("failure-rate", "Failure rate", cur.failureRate, Format.percent(cur.failureRate), Format.points(c.failureRate), Format.percent(prev.failureRate), tone(c.failureRate, true))}
</dl>`
  const headlineTable = table({
    caption: "Headline figures of this period and of the previous period of the same length",
    headers: [
      { text: "Figure" },
      { text: "This period", numeric: true },
      { text: "Previous period", numeric: true },
      { text: "Change", numeric: true }
    ],
    body: [
      [
        cell("Executions"),
        num(Format.count(cur.executions)),
        num(Format.count(prev.executions)),
        num(Format.change(c.executions))
      ],
      [
        cell("Tasks"),
        num(Format.count(cur.tasks)),
        num(Format.count(prev.tasks)),
        num(Format.change(c.tasks))
      ],
      [
        cell("Failures"),
        num(Format.count(cur.failures)),
        num(Format.count(prev.failures)),
        num(Format.change(c.failures))
      ],
      [
        cell("Failure rate"),
        num(Format.percent(cur.failureRate)),
        num(Format.percent(prev.failureRate)),
        num(Format.points(c.failureRate))
      ],
      [
        cell("Run duration p50 (ms)"),
        num(Format.ms(cur.p50RunDuration)),
        num(Format.ms(prev.p50RunDuration)),
        num("")
      ],
      [
        cell("Run duration p95 (ms)"),
        num(Format.ms(cur.p95RunDuration)),
        num(Format.ms(prev.p95RunDuration)),
        num("")
      ]
    ]
  })
  const headlineSection = section(
    "headline",
    "Headline",
    esc(
      `${Format.count(headline.workflows)} workflows and ${Format.count(headline.users)} users had executions in this period.`
    ),
    cards,
    headlineTable
  )

  // ------------------------------------------------------------------------------ per day
  const dayBody = data.days.map((r) => [
    cell(esc(r.group)),
    num(Format.count(r.executions)),
    num(Format.count(r.failures)),
    num(Format.percent(r.failureRate)),
    num(Format.count(r.tasks))
  ])
  const daysSection = section(
    "per-day",
    "Executions and failures per day",
    "By the UTC day each execution started.",
    `${figure(
      Charts.days(data.days),
      `Executions (light) and failures (dark red) per UTC day, ${data.days.length} days.`,
      `<p class="key">${swatch(Charts.COLORS.executions, "executions")}${swatch(Charts.COLORS.failures, "failures")}</p>`
    )}`,
    `${table({
      caption: "Executions, failures and tasks per UTC day",
      headers: [
        { text: "Day (UTC)" },
        { text: "Executions", numeric: true },
        { text: "Failures", numeric: true },
        { text: "Failure rate", numeric: true },
        { text: "Tasks", numeric: true }
      ],
      body: dayBody,
      foot: [
        [
          cell("All days"),
          num(Format.count(cur.executions)),
          num(Format.count(cur.failures)),
          num(Format.percent(cur.failureRate)),
          num(Format.count(cur.tasks))
        ]
      ]
    })}`
  )

  // ------------------------------------------------------------------------------ failure rate by workflow
  const fw = data.failuresByWorkflow
  const failureSection = section(
    "failure-rate",
    "Failure rate by workflow",
    esc(
      `The ${Format.count(fw.top.length)} workflows with the most failures (of ${Format.count(fw.groups)}), by failure rate: failed executions divided by executions.`
    ),
    noExecutions
      ? empty("No executions in this period.")
      : `${figure(Charts.failureRate(fw.top, workflowText), "Failure rate per workflow; the label gives failures/executions.")}`,
    noExecutions
      ? ""
      : `${table({
          caption: "Failures by workflow",
          headers: [
            { text: "Workflow" },
            { text: "Executions", numeric: true },
            { text: "Failures", numeric: true },
            { text: "Failure rate", numeric: true }
          ],
          body: fw.top.map((r) => [
            workflowCell(r.group),
            num(Format.count(r.executions)),
            num(Format.count(r.failures)),
            num(Format.percent(r.failureRate))
          ]),
          foot: [
            ...(fw.other === undefined
              ? []
              : [
                  [
                    cell(esc(otherLabel(fw.other, "workflows"))),
                    num(Format.count(fw.other.executions)),
                    num(Format.count(fw.other.failures)),
                    num(Format.percent(fw.other.failureRate))
                  ]
                ]),
            [
              cell(esc(`All workflows (${Format.count(fw.groups)})`)),
              num(Format.count(fw.total.executions)),
              num(Format.count(fw.total.failures)),
              num(Format.percent(fw.total.failureRate))
            ]
          ]
        })}`
  )

  // ------------------------------------------------------------------------------ tasks by user
  const tu = data.tasksByUser
  const share = (tasks: number) => (tu.total.tasks === 0 ? "–" : Format.percent(tasks / tu.total.tasks))
  const userRow = (r: CountRow) => [
    userCell(r.group),
    num(Format.count(r.executions)),
    num(Format.count(r.tasks)),
    num(share(r.tasks)),
    num(Format.count(r.failures))
  ]
  const tasksSection = section(
    "tasks-by-user",
    "Tasks by user",
    esc(
      `The ${Format.count(tu.top.length)} users with the most tasks (of ${Format.count(tu.groups)}): the sum of task counts of their executions, for usage-based billing. \`taskhistory usage --by user\` lists every user.`
    ),
    noExecutions
      ? empty("No executions in this period.")
      : `${figure(Charts.tasks(tu.top, userText), "Tasks per user.")}`,
    noExecutions
      ? ""
      : `${table({
          caption: "Tasks by user",
          headers: [
            { text: "User" },
            { text: "Executions", numeric: true },
            { text: "Tasks", numeric: true },
            { text: "Share of tasks", numeric: true },
            { text: "Failures", numeric: true }
          ],
          body: tu.top.map(userRow),
          foot: [
            ...(tu.other === undefined
              ? []
              : [
                  [
                    cell(esc(otherLabel(tu.other, "users"))),
                    num(Format.count(tu.other.executions)),
                    num(Format.count(tu.other.tasks)),
                    num(share(tu.other.tasks)),
                    num(Format.count(tu.other.failures))
                  ]
                ]),
            [
              cell(esc(`All users (${Format.count(tu.groups)})`)),
              num(Format.count(tu.total.executions)),
              num(Format.count(tu.total.tasks)),
              num(tu.total.tasks === 0 ? "–" : Format.percent(1)),
              num(Format.count(tu.total.failures))
            ]
          ]
        })}`
  )

  // ------------------------------------------------------------------------------ durations
  const dw = data.durationsByWorkflow
  const durationCells = (r: DurationRow) => [
    num(Format.count(r.withDuration)),
    num(Format.ms(r.p50)),
    num(Format.ms(r.p95)),
    num(Format.ms(r.p99)),
    num(Format.ms(r.max))
  ]
  const durationsSection = section(
    "durations",
    "Run duration by workflow",
    esc(
      "Percentiles of run duration (ms, nearest rank, as `taskhistory usage` computes them) of the workflows with the most executions that reported a duration."
    ),
    dw.top.length === 0
      ? empty("No execution in this period reported a run duration.")
      : `${figure(
          Charts.durations(dw.top, workflowText),
          "Dots at the 50th, 95th and 99th percentile of run duration per workflow.",
          `<p class="key">${swatch(Charts.COLORS.p50, "p50", true)}${swatch(Charts.COLORS.p95, "p95", true)}${swatch(Charts.COLORS.p99, "p99", true)}</p>`
        )}`,
    dw.top.length === 0
      ? ""
      : `${table({
          caption: "Run-duration percentiles by workflow (ms)",
          headers: [
            { text: "Workflow" },
            { text: "Executions with a duration", numeric: true },
            { text: "p50 (ms)", numeric: true },
            { text: "p95 (ms)", numeric: true },
            { text: "p99 (ms)", numeric: true },
            { text: "Max (ms)", numeric: true }
          ],
          body: dw.top.map((r) => [workflowCell(r.group), ...durationCells(r)]),
          foot: [
            ...(dw.other === undefined
              ? []
              : [
                  [
                    cell(esc(`Other (${Format.count(dw.other.groups)} workflows)`)),
                    ...durationCells(dw.other)
                  ]
                ]),
            [cell("All workflows"), ...durationCells(dw.total)]
          ]
        })}`
  )

  // ------------------------------------------------------------------------------ busiest hours
  const hours = data.hours
  const peak = hours.peak
  const dayTotals = hours.executions.map((row) => row.reduce((a, b) => a + b, 0))
  const hoursSection = section(
    "busiest-hours",
    "Busiest hours",
    esc(
      peak === undefined
        ? "Executions by weekday and hour of day of their start, in UTC."
        : `Executions by weekday and hour of day of their start, in UTC. Busiest: ${Format.WEEKDAY_NAMES[peak.weekday]} ${Format.hour(peak.hour)}-${Format.hour((peak.hour + 1) % 24)} UTC, ${Format.count(peak.executions)} executions.`
    ),
    `${figure(Charts.hours(hours), "Executions per hour of the week (UTC), from the quietest hour (lightest) to the busiest (darkest).")}`,
    `${table({
      caption: "Executions by hour of day (rows, UTC) and weekday (columns)",
      className: "hours",
      headers: [
        { text: "Hour (UTC)" },
        ...Format.WEEKDAYS.map((d) => ({ text: d, numeric: true })),
        { text: "All days", numeric: true }
      ],
      body: Array.from({ length: 24 }, (_, h) => [
        cell(Format.hour(h)),
        ...hours.executions.map((row) => num(Format.count(row[h]!))),
        num(Format.count(hours.executions.reduce((n, row) => n + row[h]!, 0)))
      ]),
      foot: [
        [cell("All hours"), ...dayTotals.map((n) => num(Format.count(n))), num(Format.count(cur.executions))]
      ]
    })}`
  )

  // ------------------------------------------------------------------------------ errors
  const errors = data.errors
  const messageText = (r: ErrorRow) => r.message ?? "(no message found)"
  const errorLabel = (r: ErrorRow) => `${workflowText(r.workflowId)}: ${messageText(r)}`
  const errorsSection = section(
    "errors",
    "Top error messages by workflow",
    esc(
      errors === undefined
        ? ""
        : `The error messages of failed steps that hit the most executions, per workflow (${Format.count(errors.steps)} failed steps with ${Format.count(errors.groups)} distinct messages).`
    ),
    errors === undefined
      ? empty(
          "Step errors were not available for this report. Export them with `taskhistory-exporter run --steps failed` and build the report from the export to see why executions failed."
        )
      : errors.top.length === 0
        ? empty("No step errors in this period.")
        : `${figure(
            Charts.errors(errors.top, (r) => Format.truncate(errorLabel(r), 90)),
            "Executions per error message and workflow."
          )}`,
    errors === undefined || errors.top.length === 0
      ? ""
      : `${table({
          caption: "Top error messages by workflow",
          headers: [
            { text: "Workflow" },
            { text: "Error message" },
            { text: "Executions", numeric: true },
            { text: "Failed steps", numeric: true }
          ],
          body: errors.top.map((r) => [
            workflowCell(r.workflowId),
            cell(
              r.message === null
                ? `<span class="muted">(no message found)</span>`
                : `<span class="message">${esc(Format.truncate(r.message, 400))}</span>`
            ),
            num(Format.count(r.executions)),
            num(Format.count(r.steps))
          ]),
          foot: [
            ...(errors.other === undefined
              ? []
              : [
                  [
                    cell(esc(`Other (${Format.count(errors.other.groups)} messages)`)),
                    cell(""),
                    num(""),
                    num(Format.count(errors.other.steps))
                  ]
                ]),
            [cell("All step errors"), cell(""), num(""), num(Format.count(errors.steps))]
          ]
        })}`
  )

  const notes = [
    "Executions belong to a period by their start date (dateStarted); all times are UTC.",
    "Failures are executions with status FAILED; the failure rate is failures divided by executions; tasks are the sum of task counts.",
    "Percentiles are exact, by nearest rank: the numbers `taskhistory usage` prints for the same executions."
  ]
  if (data.outside > 0) {
    notes.push(`${Format.count(data.outside)} executions outside both periods were left out.`)
  }
  const footer = `<footer class="page">${notes.map((n) => `<p>${esc(n)}</p>`).join("")}<p>Made by @taskhistory/report.</p></footer>`

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="generator" content="@taskhistory/report">
<meta name="taskhistory-period" content="${esc(period.start)}/${esc(period.end)}">
<title>${esc(`${title}: ${periodText}`)}</title>
<link rel="icon" href="data:,">
<style>${css}</style>
</head>
<body>
${header}
<main>
${headlineSection}
${daysSection}
${failureSection}
${tasksSection}
${durationsSection}
${hoursSection}
${errorsSection}
</main>
${footer}
</body>
</html>
`
}
