/** Flags of `taskhistory-simulator`, parsed into `SimulatorOptions`. */
import {
  type FaultMode,
  type FaultOptions,
  faultModes,
  type LatencyOption,
  type SimulatorOptions
} from "./options.js"

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
  --insert-per-request N        new executions per list request
  --expire-per-request N        oldest executions expired per list request
  --replay-fault F              apply-then-503 | apply-then-reset | 429-no-apply (every replay)
  --fault MODE                  a hostile server (repeat, or comma-separated): endless-body,
                                stalled-body, slow-headers, huge-page, ignore-offset, ignore-dates,
                                looping-nextlink, retry-after-garbage, retry-after-huge, echo-key,
                                escape-errors, hostile-records, dot-ids, malformed-steps
  --help                        this text
`

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A parse result (plain, so that parsing loads no library: `--help` and bad flags answer fast). */
export type Parsed<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly error: string }

const INTEGER = /^\d+$/
const NUMBER = /^\d+(\.\d+)?$/

/** Parses argv (without node and the script) into options, `"help"`, or a one-line error. */
export const parseArgs = (argv: ReadonlyArray<string>): Parsed<SimulatorOptions | "help"> => {
  const options: Mutable<SimulatorOptions> = { port: 4010 }
  const modes: Array<FaultMode> = []
  const faults: Mutable<FaultOptions> = {}
  const churn: {
    lateArrivals?: number
    insertPerSecond?: number
    expirePerSecond?: number
    insertPerRequest?: number
    expirePerRequest?: number
  } = {}
  const invalid = (flag: string, value: string, expected: string) =>
    `invalid ${flag} ${JSON.stringify(value)}: expected ${expected}`
  const int =
    (set: (n: number) => void) =>
    (flag: string, v: string): string | undefined => {
      if (!INTEGER.test(v) || !Number.isSafeInteger(Number(v)))
        return invalid(flag, v, "a non-negative integer")
      set(Number(v))
      return undefined
    }
  const num =
    (set: (n: number) => void, max = Number.POSITIVE_INFINITY) =>
    (flag: string, v: string): string | undefined => {
      if (!NUMBER.test(v) || Number(v) > max) {
        return invalid(flag, v, max === 1 ? "a probability between 0 and 1" : "a non-negative number")
      }
      set(Number(v))
      return undefined
    }
  const str =
    (set: (s: string) => void) =>
    (_flag: string, v: string): string | undefined => {
      set(v)
      return undefined
    }
  const valued: Record<string, (flag: string, value: string) => string | undefined> = {
    "--port": int((n) => {
      options.port = n
    }),
    "--host": str((v) => {
      options.host = v
    }),
    "--records": int((n) => {
      options.records = n
    }),
    "--seed": int((n) => {
      options.seed = n
    }),
    "--project-id": str((v) => {
      options.projectId = v
    }),
    "--api-key": str((v) => {
      options.apiKey = v
    }),
    "--now": str((v) => {
      options.now = v
    }),
    "--span": num((n) => {
      options.span = n
    }),
    "--rate-limit": str((v) => {
      options.rateLimit = v
    }),
    "--retry-after-format": (flag, v) => {
      if (v !== "seconds" && v !== "date") return invalid(flag, v, "seconds or date")
      options.retryAfterFormat = v
      return undefined
    },
    "--page-shape": (flag, v) => {
      if (v !== "data" && v !== "workflowExecutions") return invalid(flag, v, "workflowExecutions or data")
      options.pageShape = v
      return undefined
    },
    "--next-link-origin": (flag, v) => {
      if (v === "same") {
        options.nextLinkOrigin = "same"
        return undefined
      }
      const m = /^(?:(.+):)?(\d+)$/.exec(v)
      if (m === null) return invalid(flag, v, "same, PORT or HOST:PORT")
      options.nextLinkOrigin =
        m[1] === undefined ? { port: Number(m[2]) } : { host: m[1], port: Number(m[2]) }
      return undefined
    },
    "--fault-rate": num((n) => {
      faults.errorRate = n
    }, 1),
    "--reset-rate": num((n) => {
      faults.resetRate = n
    }, 1),
    "--slow-rate": num((n) => {
      faults.slowRate = n
    }, 1),
    "--html-rate": num((n) => {
      faults.htmlRate = n
    }, 1),
    "--slow-ms": int((n) => {
      options.slowMs = n
    }),
    "--latency": (flag, v) => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(v)
      if (m === null) return invalid(flag, v, "MS or MIN-MAX")
      const latency: LatencyOption =
        m[2] === undefined ? Number(m[1]) : { minMs: Number(m[1]), maxMs: Number(m[2]) }
      options.latency = latency
      return undefined
    },
    "--malformed": int((n) => {
      options.malformed = n
    }),
    "--late-arrivals": int((n) => {
      churn.lateArrivals = n
    }),
    "--insert-per-second": num((n) => {
      churn.insertPerSecond = n
    }),
    "--expire-per-second": num((n) => {
      churn.expirePerSecond = n
    }),
    "--insert-per-request": int((n) => {
      churn.insertPerRequest = n
    }),
    "--expire-per-request": int((n) => {
      churn.expirePerRequest = n
    }),
    "--fault": (flag, v) => {
      for (const mode of v.split(",").map((m) => m.trim())) {
        if (!(faultModes as ReadonlyArray<string>).includes(mode))
          return invalid(flag, mode, faultModes.join(", "))
        modes.push(mode as FaultMode)
      }
      return undefined
    },
    "--replay-fault": (flag, v) => {
      if (v !== "apply-then-503" && v !== "apply-then-reset" && v !== "429-no-apply") {
        return invalid(flag, v, "apply-then-503, apply-then-reset or 429-no-apply")
      }
      options.replayFault = v
      return undefined
    }
  }
  const switches: Record<string, () => void> = {
    "--no-total": () => {
      options.includeTotal = false
    },
    "--no-next-link-sort-asc": () => {
      options.nextLinkSortAsc = false
    },
    "--exclusive-dates": () => {
      options.inclusiveDates = false
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--help" || arg === "-h") return { ok: true, value: "help" }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const toggle = switches[flag]
    if (toggle !== undefined && eq < 0) {
      toggle()
      continue
    }
    const set = valued[flag]
    if (set === undefined) return { ok: false, error: `unknown flag ${JSON.stringify(arg)}` }
    let value: string
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      const next = argv[i + 1]
      if (next === undefined) return { ok: false, error: `${flag} needs a value` }
      value = next
      i++
    }
    const error = set(flag, value)
    if (error !== undefined) return { ok: false, error }
  }
  if (Object.keys(faults).length > 0) options.faults = faults
  if (modes.length > 0) options.fault = modes
  if (Object.keys(churn).length > 0) options.churn = churn
  return { ok: true, value: options }
}
