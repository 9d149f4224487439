import * as HttpClient from "@effect/platform/HttpClient"
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Option,
  Predicate,
  type Schema,
  Stream
} from "effect"
import { type ExecutionQuery, toUrlParams } from "../ExecutionQuery.js"
import { RateLimiter } from "../RateLimiter.js"
import type { CostPlan, StepCost, StreamOptions, TaskHistoryClientShape } from "../TaskHistoryClient.js"
import { RetryReporter, TaskHistoryConfig } from "../TaskHistoryConfig.js"
import {
  InvalidInput,
  InvalidRecordError,
  type InvalidResponse,
  isRetryable,
  type RequestError
} from "../TaskHistoryError.js"
import {
  type ExecutionPage,
  idProblem,
  idSegment,
  PAGE_SIZE,
  RawExecutionPage,
  StepExecution,
  splitSteps,
  toExecutionPage,
  WorkflowExecution,
  type WorkflowExecutionDetail,
  WorkflowExecutionDetailAnswer
} from "../WorkflowExecution.js"
import { OrderedDedupe, startKey } from "./dedupe.js"
import {
  type Answer,
  decorate,
  isRetryableReplay,
  parseJson,
  type RequestSpec,
  replayUnknown,
  send,
  shapeError,
  traced,
  validateAt,
  withRetry
} from "./http.js"
import { PageGuard } from "./paging.js"

/** Records per page: the API has no parameter to change it. */

/** The time one request is assumed to take in a cost plan. */
export const estimatedRequestTime = Duration.millis(250)

/** The `offset` query parameter of a `nextLink` (absolute or relative), if it is a usable one. */
export const offsetOfLink = (link: string | undefined): number | undefined => {
  if (link === undefined || link.trim() === "") return undefined
  const parsed = Either.try(() => new URL(link, "http://nextlink.invalid"))
  if (Either.isLeft(parsed)) return undefined
  const raw = parsed.right.searchParams.get("offset")
  if (raw === null || !/^\d+$/.test(raw)) return undefined
  const offset = Number(raw)
  return Number.isSafeInteger(offset) ? offset : undefined
}

/**
 * A page request of a window: its fiber, and its answer once it came, taken (and cleared) when
 * the page is pulled. The answer waits here undecoded (its body's bytes, off the JavaScript
 * heap) rather than as the fiber's result: a fiber that lived through a garbage collection is in
 * the old generation, and what it references when it ends (its result) is then kept by every
 * scavenge until the next full collection, with all that the result references (a page's text,
 * its records); those get promoted in turn. Cleared, nothing of a page outlives its use.
 */
interface InFlight {
  readonly offset: number
  answer: Answer | undefined
  fiber: Fiber.RuntimeFiber<void, RequestError> | undefined
}

/**
 * Where a windowed read stopped: the link of its last page (none when that page was empty) and
 * whether the listing ended there. The link only: a page kept here would keep its records alive
 * one page longer than they are needed.
 */
interface WindowState {
  lastLink: string | undefined
  ended: boolean
}

const isEmpty = (page: ExecutionPage) => page.records.length === 0 && page.invalid.length === 0

/**
 * The request count and duration of a full read of `total` records at N requests per W:
 * `requests = max(1, ceil(total / 100))` and
 * `duration = floor((requests - 1) / N) * W + requests * 250ms / pageConcurrency`.
 */
export const planFor = (
  total: number | undefined,
  pagesSeen: number,
  rate: { readonly limit: number; readonly window: Duration.Duration },
  concurrency: number,
  steps?: StepCost
): Omit<CostPlan, "firstPage"> => {
  const listRequests =
    total === undefined ? Math.max(1, pagesSeen) : Math.max(1, Math.ceil(total / PAGE_SIZE))
  const requests = listRequests + (steps?.requests ?? 0)
  const windows = Math.floor((requests - 1) / rate.limit)
  const perRequest = (Duration.toMillis(estimatedRequestTime) * requests) / Math.max(1, concurrency)
  return {
    total,
    requests,
    listRequests,
    ...(steps === undefined ? {} : { steps }),
    estimatedDuration: Duration.millis(windows * Duration.toMillis(rate.window) + perRequest)
  }
}

/**
 * The step requests of a read of `total` executions, `failed` of them failed (`undefined`:
 * unknown): one per execution in `scope`, one per failed execution's failed step.
 */
export const stepCostFor = (
  scope: StepCost["scope"],
  total: number | undefined,
  failed: number | undefined
): StepCost => {
  const executions = scope === "all" ? total : failed
  return { scope, executions, failed, requests: (executions ?? 0) + (failed ?? 0), estimate: true }
}

const isOptional = (value: unknown, type: "number" | "string"): boolean =>
  value === undefined || value === null || typeof value === type

/**
 * The page itself when `json` is a well-formed raw page (what the schema `RawExecutionPage`
 * accepts, checked without allocating), else `undefined`.
 */
const plainPage = (json: Readonly<Record<string, unknown>>): typeof RawExecutionPage.Type | undefined => {
  if (!isOptional(json.total, "number") || !isOptional(json.nextLink, "string")) return undefined
  const items =
    "data" in json ? json.data : "workflowExecutions" in json ? json.workflowExecutions : undefined
  return Array.isArray(items) ? (json as typeof RawExecutionPage.Type) : undefined
}

/**
 * The query of the pages after `first` in a newest-first read: also bounded by the latest start of
 * `first` (`beforeDate` one millisecond after it, so that it is in whether the bound is inclusive
 * or not). Executions that start while the read goes on (the newest, at the head of the listing)
 * then no longer shift the offsets of the pages still to read: with several pages read at once,
 * such shifts, seen by requests served out of order, would open gaps between pages. An
 * oldest-first read is left as it is (new executions come at its end).
 */
export const anchored = (query: ExecutionQuery, first: ExecutionPage): ExecutionQuery => {
  if (query.sortBy === "ASC") return query
  let top: string | undefined
  for (const record of first.records) {
    const key = startKey(record.dateStarted)
    if (key !== undefined && (top === undefined || key > top)) top = key
  }
  if (top === undefined) return query
  const bound = new Date(Date.parse(top) + 1).toISOString()
  return query.beforeDate !== undefined && query.beforeDate <= bound ? query : { ...query, beforeDate: bound }
}

/** Pages read at most to fill one gap between two pages (see {@link gapBefore}). */
const GAP_PAGES = 10

/** A span of start dates (ms, both ends included) that a read may have skipped. */
interface Gap {
  readonly from: number
  readonly to: number
}

const firstStart = (page: ExecutionPage, last: boolean): number | undefined => {
  const n = page.records.length
  for (let k = 0; k < n; k++) {
    const key = startKey((page.records[last ? n - 1 - k : k] as WorkflowExecution).dateStarted)
    if (key !== undefined) return Date.parse(key)
  }
  return undefined
}

/** What {@link gapBefore} needs of the page before: its `total` and the start of its last record. */
export interface PageEnd {
  readonly total: number | undefined
  readonly lastStart: number | undefined
}

/** The {@link PageEnd} of `page` (kept instead of the page: its records can be collected). */
export const pageEnd = (page: ExecutionPage): PageEnd => ({
  total: page.total,
  lastStart: page.total === undefined ? undefined : firstStart(page, true)
})

/**
 * Where the read may have skipped executions between `previous` and `page`, two pages read one
 * after the other: when their `total`s differ, the listing changed between the two requests
 * (executions added, or expired), and its offsets moved. Pages read at once are served in any
 * order, and an oldest-first read loses its head to retention: either way the records between
 * the last start of `previous` and the first start of `page` may fall between the two pages. They
 * are read again by their dates (usually one small request; the de-duplication drops the ones
 * already read).
 */
export const gapBefore = (
  previous: PageEnd | undefined,
  page: ExecutionPage,
  descending: boolean
): Gap | undefined => {
  if (previous === undefined || previous.total === undefined || page.total === undefined) return undefined
  if (previous.total === page.total || page.records.length === 0) return undefined
  const last = previous.lastStart
  const first = firstStart(page, false)
  if (last === undefined || first === undefined) return undefined
  // A page that starts at or behind where the one before ended overlaps it: nothing in between.
  if (descending ? first >= last : first <= last) return undefined
  return descending ? { from: first, to: last } : { from: last, to: first }
}

/** Builds the client from its three requirements. */
export const make = Effect.gen(function* () {
  const config = yield* TaskHistoryConfig
  const limiter = yield* RateLimiter
  const http = decorate(yield* HttpClient.HttpClient, config)
  const report = yield* RetryReporter
  const secret = config.apiKey

  const get = <A>(
    spec: Omit<RequestSpec, "method">,
    decode: (answer: Answer) => Either.Either<A, InvalidResponse>
  ): Effect.Effect<A, RequestError> =>
    withRetry(
      send(http, config, { ...spec, method: "GET" }),
      limiter,
      config.retry,
      isRetryable,
      report
    ).pipe(Effect.flatMap(decode))

  /** Validates `json` and returns it unchanged (key order and unknown fields kept). */
  const keep =
    <A, I>(schema: Schema.Schema<A, I>, fill?: (json: object) => object) =>
    (answer: Answer): Either.Either<A, InvalidResponse> =>
      Either.flatMap(parseJson(answer, secret), (json) =>
        Either.map(validateAt(answer, secret, schema, json), () => {
          const value = Predicate.isObject(json) && fill !== undefined ? fill(json) : json
          return value as A
        })
      )

  const [DataPage, ExecutionsPage] = RawExecutionPage.members

  const decodePage =
    (offset: number) =>
    (answer: Answer): Either.Either<ExecutionPage, InvalidResponse> =>
      Either.flatMap(parseJson(answer, secret), (json) => {
        if (!Predicate.isRecord(json) || Array.isArray(json)) {
          return Either.left(
            shapeError(answer, secret, "", "expected an object holding a page of executions")
          )
        }
        // Fast path: the common, well-formed page is checked by hand (no schema run, no copy of
        // the array); anything else goes through the schema for its precise error.
        const plain = plainPage(json)
        if (plain !== undefined) return Either.right(toExecutionPage(plain, offset))
        const raw: Either.Either<typeof RawExecutionPage.Type, InvalidResponse> =
          "data" in json
            ? validateAt(answer, secret, DataPage, json)
            : "workflowExecutions" in json
              ? validateAt(answer, secret, ExecutionsPage, json)
              : Either.left(
                  shapeError(
                    answer,
                    secret,
                    "data",
                    "expected an array of executions under data or workflowExecutions"
                  )
                )
        return Either.map(raw, (page) => toExecutionPage(page, offset))
      })

  /** The answer to the request of the page at `offset`, not decoded yet. */
  const fetchPage = (query: ExecutionQuery, offset: number): Effect.Effect<Answer, RequestError> =>
    get(
      {
        operation: "list",
        path: "/workflow-executions",
        params: offset > 0 ? [...toUrlParams(query), ["offset", String(offset)]] : toUrlParams(query),
        resource: "the project's workflow executions (check PARAGON_PROJECT_ID)",
        target: "project",
        // The only logs below are the debug logs of `send`: annotated there, when they are kept.
        annotations: { offset }
      },
      Either.right
    )

  const pageSpan = (offset: number) =>
    traced("TaskHistory.listPage", { attributes: { offset }, captureStackTrace: false })

  const listPage: TaskHistoryClientShape["listPage"] = (query, offset = 0) =>
    Effect.flatMap(fetchPage(query, offset), decodePage(offset)).pipe(pageSpan(offset))

  /** The link a read continues from after `page` (none after an empty page). */
  const linkAfter = (page: ExecutionPage): string | undefined => (isEmpty(page) ? undefined : page.nextLink)

  /**
   * Follows `nextLink` offsets from `link` (that of a page read, see `linkAfter`), one page at a
   * time, until a null link or an empty page; a link that does not move forward, or pages that
   * bring nothing new, fail the read (`guard`).
   */
  const followLinks = (
    query: ExecutionQuery,
    link: string | undefined,
    seen: Set<number>,
    guard: PageGuard
  ): Stream.Stream<ExecutionPage, RequestError> => {
    const start = offsetOfLink(link)
    if (start === undefined || seen.has(start)) return Stream.empty
    return Stream.paginateChunkEffect(start, (offset) => {
      seen.add(offset)
      return Effect.flatMap(listPage(query, offset), (page) => {
        if (isEmpty(page)) return Effect.succeed([Chunk.empty<ExecutionPage>(), Option.none()] as const)
        const next = offsetOfLink(page.nextLink)
        const problem = guard.check(page, next)
        if (problem !== undefined) return Effect.fail(problem)
        return Effect.succeed([
          Chunk.of(page),
          next === undefined ? Option.none() : Option.some(next)
        ] as const)
      })
    })
  }

  /** The pages after `first`, in order. */
  const pagesAfter = (
    query: ExecutionQuery,
    first: ExecutionPage,
    concurrency: number
  ): Stream.Stream<ExecutionPage, RequestError> =>
    Stream.suspend(() => {
      query = anchored(query, first)
      const seen = new Set<number>([first.offset])
      const guard = new PageGuard(first.total)
      const firstNext = offsetOfLink(first.nextLink)
      const problem = isEmpty(first) ? undefined : guard.check(first, firstNext)
      if (problem !== undefined) return Stream.fail(problem)
      const step = firstNext === undefined ? 0 : firstNext - first.offset
      if (isEmpty(first) || first.total === undefined || concurrency <= 1 || step <= 0) {
        return followLinks(query, linkAfter(first), seen, guard)
      }
      // `total` known: fetch the offsets up to `total` concurrently (bounded), yielded in order.
      // If the last of them still links further (records were added), follow the links from there.
      const offsets: Array<number> = []
      for (let offset = first.offset + step; offset < first.total; offset += step) offsets.push(offset)
      const state: WindowState = { lastLink: linkAfter(first), ended: false }
      return Stream.concat(
        inOrder(query, offsets, concurrency, seen, state, guard),
        Stream.suspend(() => (state.ended ? Stream.empty : followLinks(query, state.lastLink, seen, guard)))
      )
    })

  /**
   * The pages at `offsets`, `concurrency` requests in flight, yielded in order; ends at the first
   * empty page (not yielded) or the first page without a next link (yielded), setting `state`;
   * fails when `guard` finds the read is going nowhere.
   *
   * A sliding window of forked requests rather than `Stream.mapEffect` with `concurrency`: that
   * runs a queue and a fiber per element and cost several times the CPU of the request itself.
   * Requests still in flight when the stream ends (or is interrupted) are interrupted.
   */
  const inOrder = (
    query: ExecutionQuery,
    offsets: ReadonlyArray<number>,
    concurrency: number,
    seen: Set<number>,
    state: WindowState,
    guard: PageGuard
  ): Stream.Stream<ExecutionPage, RequestError> =>
    Stream.suspend(() => {
      const inflight: Array<InFlight> = []
      let next = 0
      const pull = Effect.suspend(() => {
        const head = inflight.shift()
        if (head === undefined || state.ended) return Effect.fail(Option.none())
        // `Fiber.await`, not `Fiber.join`: a join also merges the request fiber's fiber refs into
        // this one, a walk over every fiber ref per page, for nothing the request sets.
        return Effect.flatMap(Fiber.await(head.fiber as Fiber.RuntimeFiber<void, RequestError>), (exit) => {
          if (Exit.isFailure(exit)) return Effect.failCause(Cause.map(exit.cause, Option.some))
          const answer = head.answer as Answer
          head.answer = undefined
          // Decoded here, when the page is wanted, not as it arrives (see `InFlight`).
          const decoded = decodePage(head.offset)(answer)
          if (Either.isLeft(decoded)) return Effect.fail(Option.some(decoded.left))
          const page = decoded.right
          seen.add(page.offset)
          if (isEmpty(page)) {
            state.ended = true
            return Effect.fail(Option.none())
          }
          const link = offsetOfLink(page.nextLink)
          const problem = guard.check(page, link)
          if (problem !== undefined) return Effect.fail(Option.some(problem))
          state.lastLink = page.nextLink
          if (link === undefined) state.ended = true
          return Effect.as(fill, page)
        })
      })
      const fill: Effect.Effect<void> = Effect.suspend(() => {
        if (state.ended || inflight.length >= concurrency || next >= offsets.length) return Effect.void
        const offset = offsets[next++] as number
        const request: InFlight = { offset, answer: undefined, fiber: undefined }
        const fetch = Effect.map(fetchPage(query, offset), (answer) => {
          request.answer = answer
        })
        return Effect.flatMap(Effect.forkDaemon(fetch.pipe(pageSpan(offset))), (fiber) => {
          request.fiber = fiber
          inflight.push(request)
          return fill
        })
      })
      return Stream.ensuring(
        Stream.repeatEffectOption(pull).pipe(Stream.onStart(fill)),
        Effect.suspend(() =>
          Fiber.interruptAll(
            inflight.splice(0).flatMap((request) => (request.fiber === undefined ? [] : [request.fiber]))
          )
        )
      )
    })

  const pagesFrom = (query: ExecutionQuery, first: ExecutionPage, concurrency: number) =>
    isEmpty(first) ? Stream.empty : Stream.concat(Stream.make(first), pagesAfter(query, first, concurrency))

  const pages: TaskHistoryClientShape["pages"] = (query, options) => {
    const concurrency = options?.concurrency ?? config.pageConcurrency
    const given = options?.firstPage
    return given !== undefined && given.offset === 0
      ? Stream.suspend(() => pagesFrom(query, given, concurrency))
      : Stream.unwrap(Effect.map(listPage(query, 0), (first) => pagesFrom(query, first, concurrency)))
  }

  const executions: TaskHistoryClientShape["executions"] = (query, options: StreamOptions = {}) =>
    Stream.suspend(() => {
      const dedupe = options.dedupe ?? true
      const onInvalid = options.onInvalid ?? "fail"
      // The ids at the edge of the read's order only (see dedupe.ts), not every id read.
      const seen = new OrderedDedupe(query.sortBy)
      // Set by the page holding the first invalid record (onInvalid "fail"): its valid records
      // before it are emitted, no page after it is read, then the stream fails.
      let failure: InvalidRecordError | undefined
      // The last page with records, whose `total` the next page's is compared with.
      let previous: PageEnd | undefined
      /** The records of `page` to emit, in order (a gap before it read first). */
      const recordsOf = (
        page: ExecutionPage
      ): Effect.Effect<Chunk.Chunk<WorkflowExecution>, RequestError> => {
        const firstInvalid = onInvalid === "fail" ? page.invalid[0] : undefined
        const batch = firstInvalid === undefined ? page.records : page.records.slice(0, firstInvalid.index)
        const gap = dedupe ? gapBefore(previous, page, query.sortBy !== "ASC") : undefined
        if (page.records.length > 0) previous = pageEnd(page)
        if (gap !== undefined) {
          return Effect.flatMap(between(query, gap), (missed) =>
            emit(page, firstInvalid, seen.keep(missed.length === 0 ? batch : [...missed, ...batch]))
          )
        }
        return emit(page, firstInvalid, dedupe ? seen.keep(batch) : batch)
      }
      // One chunk per page (no inner stream per page): the records kept, in order. The pages are
      // pulled (`Stream.toPull`) by the effect that makes each chunk of records, rather than
      // mapped by `Stream.mapConcatChunkEffect`: a stream operator that runs an effect for each
      // element it is handed kept each page alive through scavenges (measured: a page stream
      // through `mapConcatChunkEffect` promoted 40 MB to the old generation per 1,000 pages,
      // through this 17 MB; see bench/RESULTS-cli.md).
      const kept = Stream.unwrapScoped(
        Effect.map(
          Stream.toPull(pages(query, { concurrency: options.concurrency, firstPage: options.firstPage })),
          (pull) => {
            // After the page holding the first invalid record (onInvalid "fail"), no page is read.
            let stopped = false
            const next = (pages: Chunk.Chunk<ExecutionPage>) => {
              const pulled = Chunk.toReadonlyArray(pages)
              const k = onInvalid === "fail" ? pulled.findIndex((page) => page.invalid.length > 0) : -1
              if (k !== -1) stopped = true
              const used = k === -1 ? pulled : pulled.slice(0, k + 1)
              const out =
                used.length === 1
                  ? recordsOf(used[0] as ExecutionPage)
                  : Effect.map(Effect.forEach(used, recordsOf), (chunks) =>
                      Chunk.flatten(Chunk.unsafeFromArray(chunks))
                    )
              return Effect.mapError(out, Option.some)
            }
            return Stream.repeatEffectChunkOption(
              Effect.suspend(() => (stopped ? Effect.fail(Option.none()) : Effect.flatMap(pull, next)))
            )
          }
        )
      )
      const emit = (
        page: ExecutionPage,
        firstInvalid: ExecutionPage["invalid"][number] | undefined,
        out: ReadonlyArray<WorkflowExecution>
      ) => {
        const chunk = Chunk.unsafeFromArray(out)
        if (firstInvalid !== undefined) {
          failure = new InvalidRecordError({
            raw: firstInvalid.raw,
            reason: firstInvalid.reason,
            position: page.offset + firstInvalid.index
          })
          return Effect.succeed(chunk)
        }
        return page.invalid.length > 0
          ? Effect.as(
              Effect.logWarning(`skipped ${page.invalid.length} invalid execution record(s)`).pipe(
                Effect.annotateLogs("offset", page.offset)
              ),
              chunk
            )
          : Effect.succeed(chunk)
      }
      const records = Stream.concat(
        kept,
        Stream.suspend(() => (failure === undefined ? Stream.empty : Stream.fail(failure)))
      )
      return options.limit === undefined ? records : Stream.take(records, Math.max(0, options.limit))
    })

  /**
   * The executions that started in `gap` (both ends included), read with offsets from 0: at most
   * {@link GAP_PAGES} pages, in the query's order.
   */
  const between = (query: ExecutionQuery, gap: Gap): Effect.Effect<Array<WorkflowExecution>, RequestError> =>
    Effect.gen(function* () {
      const afterDate = new Date(gap.from - 1).toISOString()
      const beforeDate = new Date(gap.to + 1).toISOString()
      const bounded: ExecutionQuery = {
        ...query,
        afterDate: query.afterDate !== undefined && query.afterDate > afterDate ? query.afterDate : afterDate,
        beforeDate:
          query.beforeDate !== undefined && query.beforeDate < beforeDate ? query.beforeDate : beforeDate
      }
      const out: Array<WorkflowExecution> = []
      for (let offset = 0, n = 0; n < GAP_PAGES; n++, offset += PAGE_SIZE) {
        const page = yield* listPage(bounded, offset)
        // Only the span itself (a bound may be inclusive): what comes after it is the next page's.
        for (const record of page.records) {
          const key = startKey(record.dateStarted)
          const at = key === undefined ? Number.NaN : Date.parse(key)
          if (at >= gap.from && at <= gap.to) out.push(record)
        }
        if (
          page.records.length + page.invalid.length < PAGE_SIZE ||
          offsetOfLink(page.nextLink) === undefined
        )
          break
      }
      return out
    })

  const count: TaskHistoryClientShape["count"] = (query) =>
    Effect.flatMap(listPage(query, 0), (first) => {
      if (first.total !== undefined) return Effect.succeed(first.total)
      const ids = new Set<string>()
      let anonymous = 0
      const add = (page: ExecutionPage) => {
        for (const record of page.records) ids.add(record.id)
        for (const bad of page.invalid) {
          if (Predicate.hasProperty(bad.raw, "id") && typeof bad.raw.id === "string") ids.add(bad.raw.id)
          else anonymous++
        }
      }
      add(first)
      return Stream.runForEach(pagesAfter(query, first, 1), (page) => Effect.sync(() => add(page))).pipe(
        Effect.map(() => ids.size + anonymous)
      )
    })

  /** The id as one path segment, or `InvalidInput` naming it (nothing is sent). */
  const segment = (field: string, id: string): Effect.Effect<string, InvalidInput> => {
    const problem = idProblem(id)
    return problem === undefined
      ? Effect.succeed(idSegment(id))
      : Effect.fail(
          new InvalidInput({
            field,
            value: id,
            problem: `${JSON.stringify(id)} ${problem}`,
            expected: "an id that names one resource"
          })
        )
  }

  const execPath = (executionId: string) =>
    Effect.map(segment("execution id", executionId), (id) => `/workflow-executions/${id}`)

  const getExecution: TaskHistoryClientShape["get"] = (executionId) =>
    Effect.flatMap(execPath(executionId), (path) =>
      get(
        { operation: "get", path, resource: `execution ${executionId}`, target: "execution" },
        // One malformed step does not make the execution unreadable: it is set apart (splitSteps).
        (answer: Answer): Either.Either<WorkflowExecutionDetail, InvalidResponse> =>
          Either.map(
            keep(WorkflowExecutionDetailAnswer, (json) => splitSteps(json as Record<string, unknown>))(
              answer
            ),
            (detail) => detail as WorkflowExecutionDetail
          )
      )
    )

  const step: TaskHistoryClientShape["step"] = (executionId, stepExecutionId) =>
    Effect.flatMap(
      Effect.zip(execPath(executionId), segment("step execution id", stepExecutionId)),
      ([path, stepId]) =>
        get(
          {
            operation: "step",
            path: `${path}/step-executions/${stepId}`,
            resource: `step execution ${stepExecutionId} of execution ${executionId}`,
            target: "step"
          },
          keep(StepExecution)
        )
    )

  const replay: TaskHistoryClientShape["replay"] = (executionId) =>
    Effect.flatMap(execPath(executionId), (path) =>
      withRetry(
        send(http, config, {
          method: "POST",
          operation: "replay",
          path: `${path}/replay`,
          resource: `execution ${executionId}`,
          target: "execution"
        }),
        limiter,
        config.retry,
        isRetryableReplay,
        report
      ).pipe(
        Effect.flatMap(keep(WorkflowExecution)),
        Effect.mapError((error) => replayUnknown(executionId, error))
      )
    ).pipe(traced("TaskHistory.replay", { captureStackTrace: false }))

  /** The failed executions among the matches of `query` (one request unless its status decides). */
  const failedOf = (query: ExecutionQuery, total: number | undefined) =>
    query.status === "FAILED"
      ? Effect.succeed(total)
      : query.status !== undefined
        ? Effect.succeed(0)
        : Effect.map(listPage({ ...query, status: "FAILED" }, 0), (page) => page.total)

  const costPlan: TaskHistoryClientShape["costPlan"] = (query, options = {}) =>
    Effect.gen(function* () {
      const first = yield* listPage(query, 0)
      const steps =
        options.steps === undefined
          ? undefined
          : stepCostFor(options.steps, first.total, yield* failedOf(query, first.total))
      return {
        ...planFor(
          first.total,
          offsetOfLink(first.nextLink) === undefined ? 1 : 2,
          config.rateLimit,
          config.pageConcurrency,
          steps
        ),
        firstPage: first
      }
    })

  return {
    listPage,
    pages,
    executions,
    count,
    get: getExecution,
    step,
    replay,
    costPlan
  } satisfies TaskHistoryClientShape
})
