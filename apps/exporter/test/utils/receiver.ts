/**
 * A local webhook receiver on 127.0.0.1:0 for the alert tests: records every request (headers
 * and body) and answers with the status codes queued by the test (200 once the queue is empty),
 * or runs a queued action instead of answering (kill the sender) and drops the connection.
 */
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The status it was answered with (0: not answered). */
  readonly status: number
}

export interface Receiver {
  readonly url: string
  /** Every request received, oldest first. */
  readonly requests: () => ReadonlyArray<Received>
  /** The bodies answered 2xx, parsed. */
  readonly accepted: () => ReadonlyArray<Record<string, unknown>>
  /** Answers the next requests with these statuses (and headers), in order. */
  readonly answer: (...responses: ReadonlyArray<number | Response>) => void
  readonly clear: () => void
  readonly close: () => Promise<void>
}

/** An answer, or `instead`: run it once the request is read, and answer nothing. */
export type Response =
  | { readonly status: number; readonly headers: Record<string, string> }
  | { readonly instead: () => void }

export const startReceiver = async (): Promise<Receiver> => {
  const requests: Array<Received> = []
  const queue: Array<Response> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const next = queue.shift() ?? { status: 200, headers: {} }
      const received = {
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8")
      }
      if ("instead" in next) {
        requests.push({ ...received, status: 0 })
        next.instead()
        res.destroy()
        return
      }
      requests.push({ ...received, status: next.status })
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
