/**
 * Spans: `traced` opens them only when a tracer other than Effect's default one is installed;
 * the client's calls then produce `TaskHistory.listPage` / `TaskHistory.request` /
 * `TaskHistory.replay`, correctly nested. With no tracer, the calls work unchanged.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Tracer } from "effect"
import { traced } from "../src/internal/http.js"
import { TaskHistoryClient, type TaskHistoryClientShape } from "../src/TaskHistoryClient.js"
import { clientLayer, execution, httpClients, testServer } from "./utils/server.js"

const LIST = "/projects/proj-1/task-history/workflow-executions"

/** A span kept by the recording tracer. */
class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId: string
  readonly traceId: string
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  readonly events: Array<string> = []

  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Parameters<Tracer.Tracer["span"]>[2],
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind,
    id: number
  ) {
    this.spanId = `span-${id}`
    this.traceId = Option.match(parent, { onNone: () => `trace-${id}`, onSome: (p) => p.traceId })
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }
  event(name: string): void {
    this.events.push(name)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}

/** A tracer that keeps every span it opens. */
const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new RecordedSpan(name, parent, context, links, startTime, kind, spans.length + 1)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  const named = (name: string) => spans.filter((span) => span.name === name)
  const parentName = (span: RecordedSpan) =>
    Option.match(span.parent, {
      onNone: () => undefined,
      onSome: (parent) => (parent._tag === "Span" ? parent.name : `external:${parent.spanId}`)
    })
  return { tracer, spans, named, parentName }
}

const page = (ids: ReadonlyArray<string>) => ({ data: ids.map((id) => execution(id)), total: ids.length })

const run = <A, E>(url: string, f: (client: TaskHistoryClientShape) => Effect.Effect<A, E>) =>
  Effect.flatMap(TaskHistoryClient, f).pipe(
    Effect.provide(Layer.orDie(clientLayer(url, { retry: { maxRetries: 2 } }, httpClients.lean)))
  )

describe("traced", () => {
  it.effect("without a tracer installed: no span (the effect runs as is)", () =>
    Effect.gen(function* () {
      const span = yield* traced("x", { attributes: { a: 1 } })(Effect.option(Effect.currentSpan))
      expect(Option.isNone(span)).toBe(true)
      expect(yield* traced("x", {})(Effect.succeed(42))).toBe(42)
      const exit = yield* Effect.exit(traced("x", {})(Effect.fail("boom")))
      expect(exit).toEqual(Exit.fail("boom"))
    })
  )

  it.effect("with a tracer installed: a span with the name, attributes and kind, ended with the exit", () =>
    Effect.gen(function* () {
      const recorder = recordingTracer()
      const inner = yield* traced("outer", { attributes: { a: 1 }, kind: "client" })(
        traced("inner", {})(Effect.currentSpan)
      ).pipe(Effect.withTracer(recorder.tracer))
      expect(recorder.spans.map((span) => span.name)).toEqual(["outer", "inner"])
      const [outer] = recorder.named("outer")
      expect(outer?.attributes.get("a")).toBe(1)
      expect(outer?.kind).toBe("client")
      expect(outer?.status._tag).toBe("Ended")
      expect(inner.name).toBe("inner")
      expect(recorder.parentName(recorder.named("inner")[0]!)).toBe("outer")
      const failed = yield* Effect.exit(
        traced("failing", {})(Effect.fail("boom")).pipe(Effect.withTracer(recorder.tracer))
      )
      expect(failed).toEqual(Exit.fail("boom"))
      const [failing] = recorder.named("failing")
      expect(failing?.status._tag === "Ended" && Exit.isFailure(failing.status.exit)).toBe(true)
    })
  )

  it.effect("a tracer installed with Layer.setTracer counts too", () =>
    Effect.gen(function* () {
      const recorder = recordingTracer()
      yield* traced("layered", {})(Effect.void).pipe(Effect.provide(Layer.setTracer(recorder.tracer)))
      expect(recorder.spans.map((span) => span.name)).toEqual(["layered"])
    })
  )
})

describe("the client's spans", () => {
  it.scopedLive("listPage: a TaskHistory.listPage span (offset) with a child TaskHistory.request span", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ body: page(["e1", "e2"]) }))
      const recorder = recordingTracer()
      const first = yield* run(server.url, (c) => c.listPage({}, 0)).pipe(Effect.withTracer(recorder.tracer))
      const next = yield* run(server.url, (c) => c.listPage({}, 100)).pipe(Effect.withTracer(recorder.tracer))
      expect(first.records.map((r) => r.id)).toEqual(["e1", "e2"])
      expect(next.records).toHaveLength(2)
      expect(server.requests.map((r) => r.query.get("offset"))).toEqual([null, "100"])

      const pages = recorder.named("TaskHistory.listPage")
      expect(pages.map((span) => span.attributes.get("offset"))).toEqual([0, 100])
      const requests = recorder.named("TaskHistory.request")
      expect(requests).toHaveLength(2)
      for (const [i, request] of requests.entries()) {
        expect(request.attributes.get("http.request.method")).toBe("GET")
        expect(request.attributes.get("url.path")).toBe("/workflow-executions")
        expect(request.kind).toBe("client")
        // The request is the page's child, in the page's trace.
        expect(Option.getOrUndefined(request.parent)?.spanId).toBe(pages[i]?.spanId)
        expect(request.traceId).toBe(pages[i]?.traceId)
        expect(request.status._tag).toBe("Ended")
      }
      expect(pages.every((span) => span.status._tag === "Ended")).toBe(true)
    })
  )

  it.scopedLive("a retried page: one TaskHistory.request span per attempt, all under the page", () =>
    Effect.gen(function* () {
      const server = yield* testServer((_request, index) =>
        index === 0 ? { status: 503, body: "busy" } : { body: page(["e1"]) }
      )
      const recorder = recordingTracer()
      yield* run(server.url, (c) => c.listPage({})).pipe(Effect.withTracer(recorder.tracer))
      const [pageSpan] = recorder.named("TaskHistory.listPage")
      const requests = recorder.named("TaskHistory.request")
      expect(server.requests).toHaveLength(2)
      expect(requests).toHaveLength(2)
      expect(requests.map((span) => recorder.parentName(span))).toEqual([
        "TaskHistory.listPage",
        "TaskHistory.listPage"
      ])
      expect(requests.map((span) => Option.getOrUndefined(span.parent)?.spanId)).toEqual([
        pageSpan?.spanId,
        pageSpan?.spanId
      ])
      const [failed, succeeded] = requests
      expect(failed?.status._tag === "Ended" && Exit.isFailure(failed.status.exit)).toBe(true)
      expect(succeeded?.status._tag === "Ended" && Exit.isSuccess(succeeded.status.exit)).toBe(true)
    })
  )

  it.scopedLive("replay: a TaskHistory.replay span with a child TaskHistory.request span (POST)", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 201, body: execution("new-1") }))
      const recorder = recordingTracer()
      const created = yield* run(server.url, (c) => c.replay("e1")).pipe(Effect.withTracer(recorder.tracer))
      expect(created.id).toBe("new-1")
      expect(server.requests.map((r) => [r.method, r.path])).toEqual([["POST", `${LIST}/e1/replay`]])
      const [replay] = recorder.named("TaskHistory.replay")
      expect(replay).toBeDefined()
      expect(replay?.status._tag).toBe("Ended")
      const [request] = recorder.named("TaskHistory.request")
      expect(request?.attributes.get("http.request.method")).toBe("POST")
      expect(request?.attributes.get("url.path")).toBe("/workflow-executions/e1/replay")
      expect(Option.getOrUndefined(request!.parent)?.spanId).toBe(replay?.spanId)
    })
  )

  it.scopedLive("spans nest under the caller's own span", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ body: page(["e1"]) }))
      const recorder = recordingTracer()
      yield* run(server.url, (c) => c.listPage({})).pipe(
        Effect.withSpan("caller"),
        Effect.withTracer(recorder.tracer)
      )
      const [pageSpan] = recorder.named("TaskHistory.listPage")
      expect(pageSpan && recorder.parentName(pageSpan)).toBe("caller")
    })
  )

  it.scopedLive("without a tracer installed, listPage and replay work", () =>
    Effect.gen(function* () {
      const server = yield* testServer((request) =>
        request.method === "POST" ? { status: 201, body: execution("new-1") } : { body: page(["e1", "e2"]) }
      )
      const first = yield* run(server.url, (c) => c.listPage({}))
      expect(first.records.map((r) => r.id)).toEqual(["e1", "e2"])
      const created = yield* run(server.url, (c) => c.replay("e1"))
      expect(created.id).toBe("new-1")
      expect(server.requests.map((r) => r.method)).toEqual(["GET", "POST"])
    })
  )
})
