/**
 * A password gate in front of the real Postgres of the tests (which trusts every local
 * connection): a TCP server on 127.0.0.1 that speaks the start of the Postgres protocol, asks
 * each client for a cleartext password, and either answers like Postgres does to a wrong one
 * (FATAL 28P01) or hands the connection to the real server, byte for byte. So a test sees the
 * password that reached "the server", and the driver's own authentication path runs for real.
 */
import * as net from "node:net"

export interface Gate {
  readonly port: number
  /** Every (user, database, password) a client sent, in order (password `undefined`: none sent). */
  readonly attempts: Array<{ readonly user: string; readonly database: string; readonly password: string }>
  readonly close: () => Promise<void>
}

const SSL_REQUEST = 80877103

const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

const message = (type: string, body: Buffer) =>
  Buffer.concat([Buffer.from(type), int32(body.length + 4), body])

const errorResponse = (code: string, text: string) =>
  message("E", Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0`, "utf8"), Buffer.from([0])]))

/** Starts a gate accepting `password` for `user`, forwarding to `upstream` (host, port). */
export const startGate = (options: {
  readonly user: string
  readonly password: string
  readonly upstream: { readonly host: string; readonly port: number }
}): Promise<Gate> =>
  new Promise((resolve, reject) => {
    const attempts: Array<{ user: string; database: string; password: string }> = []
    const sockets = new Set<net.Socket>()
    const server = net.createServer((client) => {
      sockets.add(client)
      client.on("close", () => sockets.delete(client))
      client.on("error", () => client.destroy())
      let buffer = Buffer.alloc(0)
      let startup: Buffer | undefined
      let params: Record<string, string> = {}
      const onData = (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk])
        if (startup === undefined) {
          if (buffer.length < 8) return
          const length = buffer.readInt32BE(0)
          if (buffer.length < length) return
          const code = buffer.readInt32BE(4)
          if (code === SSL_REQUEST) {
            buffer = buffer.subarray(length)
            client.write("N")
            if (buffer.length > 0) onData(Buffer.alloc(0))
            return
          }
          startup = buffer.subarray(0, length)
          const fields = startup
            .subarray(8, length - 1)
            .toString("utf8")
            .split("\0")
          params = {}
          for (let i = 0; i + 1 < fields.length; i += 2) params[fields[i]!] = fields[i + 1]!
          buffer = buffer.subarray(length)
          // AuthenticationCleartextPassword
          client.write(Buffer.concat([Buffer.from("R"), int32(8), int32(3)]))
        }
        if (buffer.length < 5) return
        const type = String.fromCharCode(buffer[0]!)
        const length = buffer.readInt32BE(1)
        if (buffer.length < length + 1) return
        const body = buffer.subarray(5, length + 1)
        const rest = buffer.subarray(length + 1)
        client.off("data", onData)
        const user = params.user ?? ""
        const database = params.database ?? user
        const password = type === "p" ? body.toString("utf8").replace(/\0$/, "") : ""
        attempts.push({ user, database, password })
        if (type !== "p" || user !== options.user || password !== options.password) {
          client.end(errorResponse("28P01", `password authentication failed for user "${user}"`))
          return
        }
        const server = net.connect(options.upstream.port, options.upstream.host)
        sockets.add(server)
        server.on("close", () => sockets.delete(server))
        server.on("error", () => client.destroy())
        client.on("error", () => server.destroy())
        server.on("connect", () => {
          server.write(startup!)
          if (rest.length > 0) server.write(rest)
          client.pipe(server)
          server.pipe(client)
        })
      }
      client.on("data", onData)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        attempts,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
