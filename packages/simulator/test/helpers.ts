import type { SimulatorHandle } from "@taskhistory/simulator/Simulator"
import { type Cause, Effect } from "effect"

export interface Answer {
  readonly status: number
  readonly header: (name: string) => string | null
  readonly text: string
  readonly json: unknown
}

export type Row = Readonly<Record<string, unknown>>

export interface Page {
  readonly records: ReadonlyArray<Row>
  readonly nextLink: string | null
  readonly total: number | undefined
}

/** A real HTTP request; fails (instead of dying) when the connection breaks. */
export const request = (
  url: string,
  init?: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string }
): Effect.Effect<Answer, Cause.UnknownException> =>
  Effect.tryPromise(async () => {
    const res = await fetch(url, init)
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return {
      status: res.status,
      header: (name: string) => res.headers.get(name),
      text,
      json
    } satisfies Answer
  })

export const executionsUrl = (sim: Pick<SimulatorHandle, "url" | "projectId">, path = "") =>
  `${sim.url}/projects/${sim.projectId}/task-history/workflow-executions${path}`

export const auth = (sim: Pick<SimulatorHandle, "apiKey">) => ({ authorization: `Bearer ${sim.apiKey}` })

export const apiGet = (
  sim: SimulatorHandle,
  path: string,
  params: Record<string, string | undefined> = {}
): Effect.Effect<Answer, Cause.UnknownException> => {
  const search = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, v)
  const qs = search.toString()
  return request(`${executionsUrl(sim, path)}${qs ? `?${qs}` : ""}`, { headers: auth(sim) })
}

export const asPage = (answer: Answer): Page => {
  const body = answer.json as Record<string, unknown>
  const records = (body.workflowExecutions ?? body.data) as ReadonlyArray<Row>
  return {
    records,
    nextLink: (body.nextLink as string | null) ?? null,
    total: body.total as number | undefined
  }
}

/** Follows the offsets of nextLink (never its host or other parameters) to the end. */
export const readAll = (sim: SimulatorHandle, params: Record<string, string | undefined>) =>
  Effect.gen(function* () {
    const ids: Array<string> = []
    let offset = 0
    let pages = 0
    for (;;) {
      const answer = yield* apiGet(sim, "", { ...params, offset: String(offset) })
      if (answer.status !== 200) return yield* Effect.dieMessage(`status ${answer.status}: ${answer.text}`)
      const page = asPage(answer)
      pages++
      if (page.records.length > 100) return yield* Effect.dieMessage("page larger than 100")
      for (const r of page.records) ids.push(r.id as string)
      if (page.nextLink === null || pages > 1000) break
      if (page.records.length !== 100) return yield* Effect.dieMessage("short page with a nextLink")
      offset = Number(new URL(page.nextLink).searchParams.get("offset"))
    }
    return { ids, pages }
  })

export interface ExpectedFilter {
  readonly integration?: string | undefined
  readonly workflowId?: string | undefined
  readonly userId?: string | undefined
  readonly status?: string | undefined
  readonly afterDate?: string | undefined
  readonly beforeDate?: string | undefined
  readonly sortBy?: "ASC" | "DESC" | undefined
}

/** The straightforward computation the server must agree with. */
export const expectedIds = (
  rows: ReadonlyArray<Row>,
  f: ExpectedFilter,
  inclusive: boolean
): Array<string> => {
  const after = f.afterDate === undefined ? undefined : Date.parse(f.afterDate)
  const before = f.beforeDate === undefined ? undefined : Date.parse(f.beforeDate)
  const matching = rows.filter((r) => {
    const t = Date.parse(r.dateStarted as string)
    if (f.integration !== undefined && r.integration !== f.integration) return false
    if (f.workflowId !== undefined && r.workflowId !== f.workflowId) return false
    if (f.userId !== undefined && r.userId !== f.userId) return false
    if (f.status !== undefined && r.status !== f.status) return false
    if (after !== undefined && (inclusive ? t < after : t <= after)) return false
    if (before !== undefined && (inclusive ? t > before : t >= before)) return false
    return true
  })
  const sorted = [...matching].sort((a, b) => {
    const d = Date.parse(a.dateStarted as string) - Date.parse(b.dateStarted as string)
    if (d !== 0) return d
    return (a.id as string) < (b.id as string) ? -1 : (a.id as string) > (b.id as string) ? 1 : 0
  })
  const ids = sorted.map((r) => r.id as string)
  return f.sortBy === "ASC" ? ids : ids.reverse()
}
