/**
 * A local webhook receiver on 127.0.0.1:0 for the alert tests: records every request (headers
 * and body) and answers with the status codes queued by the test (200 once the queue is empty).
 */
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The status it was answered with. */
  readonly status: number
}

export interface Receiver {
  readonly url: string
  /** Every request received, oldest first. */
  readonly requests: () => ReadonlyArray<Received>
  /** The bodies answered 2xx, parsed. */
  readonly accepted: () => ReadonlyArray<Record<string, unknown>>
  /** Answers the next requests with these statuses (and headers), in order. */
  readonly answer: (
    ...responses: ReadonlyArray<number | { status: number; headers: Record<string, string> }>
  ) => void
  readonly clear: () => void
  readonly close: () => Promise<void>
}

export const startReceiver = async (): Promise<Receiver> => {
  const requests: Array<Received> = []
  const queue: Array<{ status: number; headers: Record<string, string> }> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const next = queue.shift() ?? { status: 200, headers: {} }
      requests.push({
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        status: next.status
      })
      res.writeHead(next.status, { "content-type": "text/plain", ...next.headers })
      res.end(next.status < 300 ? "ok" : "no")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => [...requests],
    accepted: () =>
      requests
        .filter((r) => r.status >= 200 && r.status < 300)
        .map((r) => JSON.parse(r.body) as Record<string, unknown>),
    answer: (...responses) => {
      for (const r of responses) queue.push(typeof r === "number" ? { status: r, headers: {} } : r)
    },
    clear: () => {
      requests.length = 0
      queue.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
