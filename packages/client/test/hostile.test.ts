/**
 * The Promise client against hostile servers (the simulator's `fault` modes) and bad inputs: each
 * call settles within a generous bound with the right error class, and no error shows the key.
 */
import { createServer } from "node:net"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { type RunningSimulator, startSimulator } from "@taskhistory/simulator"
import type { FaultMode } from "@taskhistory/simulator/Simulator"
import {
  ConnectionError,
  InvalidInputError,
  InvalidResponseError,
  NoProgressError,
  RateLimitedError,
  TaskHistory
} from "../src/index.js"

const KEY = 'sk_live_"client\\key/+=%41'
const sims: Array<RunningSimulator> = []
const clients: Array<TaskHistory> = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(sims.map((s) => s.close()))
})

const connect = async (
  fault: FaultMode,
  options: Partial<ConstructorParameters<typeof TaskHistory>[0]> = {}
) => {
  const sim = await startSimulator({ records: 600, seed: 4, apiKey: KEY, fault })
  sims.push(sim)
  const th = new TaskHistory({ apiKey: sim.apiKey, projectId: sim.projectId, baseUrl: sim.url, ...options })
  clients.push(th)
  return { sim, th }
}

const settled = async (promise: Promise<unknown>) => {
  const started = Date.now()
  try {
    await promise
  } catch (error) {
    return { error, ms: Date.now() - started }
  }
  throw new Error("expected a rejection")
}

const drain = async (iterable: AsyncIterable<unknown>) => {
  for await (const _ of iterable) {
    // read everything
  }
}

const expectNoKey = (error: unknown) => {
  const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ""}`
  for (const form of [KEY, JSON.stringify(KEY).slice(1, -1), encodeURIComponent(KEY)]) {
    expect(text).not.toContain(form)
  }
}

describe("TaskHistory against hostile servers", () => {
  it("a body that never ends or a 600 MB page: InvalidResponseError 'response too large'", async () => {
    for (const fault of ["endless-body", "huge-page"] as const) {
      const { th } = await connect(fault)
      const { error, ms } = await settled(drain(th.executions.list()))
      expect(error).toBeInstanceOf(InvalidResponseError)
      expect((error as Error).message).toContain("response too large")
      expect(ms).toBeLessThan(60_000)
      expectNoKey(error)
    }
  })

  it("headers that never come: ConnectionError Timeout at headersTimeoutMs", async () => {
    const { th } = await connect("slow-headers", { headersTimeoutMs: 300, maxRetries: 1 })
    const { error, ms } = await settled(th.executions.count())
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as ConnectionError).reason).toBe("Timeout")
    expect(ms).toBeLessThan(30_000)
  })

  it("an ignored offset or a looping nextLink: NoProgressError after a handful of requests", async () => {
    for (const fault of ["ignore-offset", "looping-nextlink"] as const) {
      const { sim, th } = await connect(fault)
      const { error } = await settled(drain(th.executions.list()))
      expect(error).toBeInstanceOf(NoProgressError)
      expect(sim.stats().requests).toBeLessThanOrEqual(10)
    }
  })

  it("Retry-After 999999 or garbage: RateLimitedError at once, with its reason", async () => {
    for (const [fault, reason] of [
      ["retry-after-huge", "WaitTooLong"],
      ["retry-after-garbage", "BadRetryAfter"]
    ] as const) {
      const { sim, th } = await connect(fault)
      const { error } = await settled(th.executions.count())
      expect(error).toBeInstanceOf(RateLimitedError)
      expect((error as RateLimitedError).reason).toBe(reason)
      expect(sim.stats().requests).toBe(1)
    }
  })

  it("an echoed key is in no error", async () => {
    const { th } = await connect("echo-key")
    const { error } = await settled(th.executions.count())
    expect((error as Error).message).toContain("<redacted>")
    expectNoKey(error)
  })

  it("connection refused: ConnectionError within about 15 s", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer()
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
      })
    })
    const th = new TaskHistory({ apiKey: KEY, projectId: "p", baseUrl: `http://127.0.0.1:${port}` })
    clients.push(th)
    const { error, ms } = await settled(th.executions.count())
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as ConnectionError).reason).toBe("ConnectionRefused")
    expect((error as Error).message).toContain(`http://127.0.0.1:${port}`)
    expect(ms).toBeLessThan(45_000)
  })
})

describe("TaskHistory: inputs that cannot be sent", () => {
  it("a key with a newline inside is refused by the constructor, without the key", () => {
    expect(() => new TaskHistory({ apiKey: "abc-123\ndef-456", projectId: "p" })).toThrow(InvalidInputError)
    try {
      new TaskHistory({ apiKey: "abc-123\ndef-456", projectId: "p" })
    } catch (error) {
      expect((error as Error).message).toContain("apiKey contains a newline")
      expect((error as Error).message).not.toContain("abc-123")
    }
  })

  it("ids '', '.' and '..' reject with InvalidInputError, nothing sent", async () => {
    const { sim, th } = await connect("escape-errors")
    for (const id of ["", ".", ".."]) {
      const { error } = await settled(th.executions.get(id))
      expect(error).toBeInstanceOf(InvalidInputError)
      expect((error as Error).message).toContain(JSON.stringify(id))
    }
    expect(sim.stats().requests).toBe(0)
  })
})
