/** Flags of `taskhistory-simulator`, parsed into `SimulatorOptions`. */
import { Either } from "effect"
import type { FaultOptions, LatencyOption, SimulatorOptions } from "./options.js"

export const usage = `Usage: taskhistory-simulator [flags]

Runs a local Paragon-compatible Task History API until SIGINT/SIGTERM and prints
export PARAGON_BASE_URL=... / PARAGON_PROJECT_ID=... / PARAGON_API_KEY=... lines.

  --port N                      port to listen on (default 4010; 0 = any free port)
  --host HOST                   interface (default 127.0.0.1)
  --records N                   executions to generate (default 2000)
  --seed N                      seed of the dataset and of the fault dice (default 1)
  --project-id ID               project id (default derived from the seed)
  --api-key KEY                 API key to accept (default derived from the seed)
  --now ISO                     end of the span of start dates (default now)
  --span DAYS                   days of start dates (default 60)
  --rate-limit N/DURATION       sliding-window limit per key, e.g. 1000/10m (default none)
  --retry-after-format F        seconds | date (default seconds)
  --page-shape S                workflowExecutions | data (default workflowExecutions)
  --no-total                    omit "total" from pages
  --no-next-link-sort-asc       do not add sortBy=ASC to nextLink when the request sent none
  --exclusive-dates             afterDate/beforeDate bounds are exclusive (default inclusive)
  --next-link-origin O          same | PORT | HOST:PORT: serve nextLink from a second origin
  --fault-rate P                probability of a 5xx answer
  --reset-rate P                probability of a connection reset mid-body
  --slow-rate P                 probability of a slow answer (--slow-ms, default 2000)
  --html-rate P                 probability of a 502 HTML page
  --slow-ms N                   delay of a slow answer
  --latency MS | MIN-MAX        delay of every answer, fixed or random
  --malformed N                 executions served malformed
  --late-arrivals N             old executions that appear while clients page
  --insert-per-second R         new executions per second
  --expire-per-second R         oldest executions expired per second
  --help                        this text
`

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const integer = (flag: string, value: string): Either.Either<number, string> =>
  /^\d+$/.test(value) && Number.isSafeInteger(Number(value))
    ? Either.right(Number(value))
    : Either.left(`invalid ${flag} ${JSON.stringify(value)}: expected a non-negative integer`)

const number = (flag: string, value: string): Either.Either<number, string> =>
  /^\d+(\.\d+)?$/.test(value)
    ? Either.right(Number(value))
    : Either.left(`invalid ${flag} ${JSON.stringify(value)}: expected a non-negative number`)

const probability = (flag: string, value: string): Either.Either<number, string> =>
  Either.flatMap(number(flag, value), (p) =>
    p <= 1 ? Either.right(p) : Either.left(`invalid ${flag} ${JSON.stringify(value)}: expected 0..1`)
  )

/** Parses argv (without node and the script) into options, `"help"`, or a one-line error. */
export const parseArgs = (argv: ReadonlyArray<string>): Either.Either<SimulatorOptions | "help", string> =>
  Either.gen(function* () {
    const options: Mutable<SimulatorOptions> = { port: 4010 }
    const faults: Mutable<FaultOptions> = {}
    const churn: { lateArrivals?: number; insertPerSecond?: number; expirePerSecond?: number } = {}
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!
      const eq = arg.indexOf("=")
      const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg
      const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined
      const value = (): Either.Either<string, string> => {
        if (inline !== undefined) return Either.right(inline)
        const next = argv[i + 1]
        if (next === undefined) return Either.left(`${flag} needs a value`)
        i++
        return Either.right(next)
      }
      switch (flag) {
        case "--help":
        case "-h":
          return "help" as const
        case "--port":
          options.port = yield* integer(flag, yield* value())
          break
        case "--host":
          options.host = yield* value()
          break
        case "--records":
          options.records = yield* integer(flag, yield* value())
          break
        case "--seed":
          options.seed = yield* integer(flag, yield* value())
          break
        case "--project-id":
          options.projectId = yield* value()
          break
        case "--api-key":
          options.apiKey = yield* value()
          break
        case "--now":
          options.now = yield* value()
          break
        case "--span":
          options.span = yield* number(flag, yield* value())
          break
        case "--rate-limit":
          options.rateLimit = yield* value()
          break
        case "--retry-after-format": {
          const v = yield* value()
          if (v !== "seconds" && v !== "date")
            return yield* Either.left(`invalid ${flag} "${v}": expected seconds or date`)
          options.retryAfterFormat = v
          break
        }
        case "--page-shape": {
          const v = yield* value()
          if (v !== "data" && v !== "workflowExecutions") {
            return yield* Either.left(`invalid ${flag} "${v}": expected workflowExecutions or data`)
          }
          options.pageShape = v
          break
        }
        case "--no-total":
          options.includeTotal = false
          break
        case "--no-next-link-sort-asc":
          options.nextLinkSortAsc = false
          break
        case "--exclusive-dates":
          options.inclusiveDates = false
          break
        case "--next-link-origin": {
          const v = yield* value()
          if (v === "same") options.nextLinkOrigin = "same"
          else {
            const m = /^(?:(.+):)?(\d+)$/.exec(v)
            if (m === null)
              return yield* Either.left(`invalid ${flag} "${v}": expected same, PORT or HOST:PORT`)
            options.nextLinkOrigin =
              m[1] === undefined ? { port: Number(m[2]) } : { host: m[1], port: Number(m[2]) }
          }
          break
        }
        case "--fault-rate":
          faults.errorRate = yield* probability(flag, yield* value())
          break
        case "--reset-rate":
          faults.resetRate = yield* probability(flag, yield* value())
          break
        case "--slow-rate":
          faults.slowRate = yield* probability(flag, yield* value())
          break
        case "--html-rate":
          faults.htmlRate = yield* probability(flag, yield* value())
          break
        case "--slow-ms":
          options.slowMs = yield* integer(flag, yield* value())
          break
        case "--latency": {
          const v = yield* value()
          const m = /^(\d+)(?:-(\d+))?$/.exec(v)
          if (m === null) return yield* Either.left(`invalid ${flag} "${v}": expected MS or MIN-MAX`)
          const latency: LatencyOption =
            m[2] === undefined ? Number(m[1]) : { minMs: Number(m[1]), maxMs: Number(m[2]) }
          options.latency = latency
          break
        }
        case "--malformed":
          options.malformed = yield* integer(flag, yield* value())
          break
        case "--late-arrivals":
          churn.lateArrivals = yield* integer(flag, yield* value())
          break
        case "--insert-per-second":
          churn.insertPerSecond = yield* number(flag, yield* value())
          break
        case "--expire-per-second":
          churn.expirePerSecond = yield* number(flag, yield* value())
          break
        default:
          return yield* Either.left(`unknown flag ${JSON.stringify(arg)}`)
      }
    }
    if (Object.keys(faults).length > 0) options.faults = faults
    if (Object.keys(churn).length > 0) options.churn = churn
    return options
  })
