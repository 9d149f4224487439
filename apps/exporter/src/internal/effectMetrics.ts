/**
 * Effect metrics (the core's and the export engine's, recorded with `effect`'s `Metric`) on a
 * prom-client registry. prom-client renders the text; this module only copies the current values
 * of the named Effect metrics into prom-client metrics at each scrape.
 *
 * Counters and gauges use prom-client's own `collect` hook. prom-client has no way to set a
 * histogram's buckets from outside (only `observe`), so a bridged histogram overrides the method
 * prom-client 15's registry renders a histogram from (`getForPromString`), returning
 * the Effect histogram's cumulative buckets, sum and count (a test checks the rendering and
 * `promtool check metrics` reads it).
 *
 * @internal
 */
import { Metric, type MetricPair, MetricState } from "effect"
import { Counter, Gauge, Histogram, type Registry } from "prom-client"

/** One Effect metric to show, with the label names it is tagged with. */
export interface Bridged {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge" | "histogram"
  /** The tags that become labels; a series without one of them gets it empty. */
  readonly labelNames: ReadonlyArray<string>
}

type Labels = Record<string, string>

const pairsNamed = (name: string): ReadonlyArray<MetricPair.MetricPair.Untyped> =>
  Metric.unsafeSnapshot().filter((pair) => pair.metricKey.name === name)

const labelsOf = (pair: MetricPair.MetricPair.Untyped, labelNames: ReadonlyArray<string>): Labels => {
  const labels: Labels = {}
  for (const label of pair.metricKey.tags) if (labelNames.includes(label.key)) labels[label.key] = label.value
  return labels
}

/** Whether a pair carries every label (an untagged parent of tagged series is left out). */
const complete = (pair: MetricPair.MetricPair.Untyped, labelNames: ReadonlyArray<string>) =>
  labelNames.every((name) => pair.metricKey.tags.some((t) => t.key === name))

const numberOf = (value: number | bigint): number => (typeof value === "bigint" ? Number(value) : value)

const formatBound = (bound: number): string => (bound === Number.POSITIVE_INFINITY ? "+Inf" : String(bound))

interface Sample {
  readonly value: number
  readonly labels: Labels
  readonly metricName: string
}

/** A prom-client histogram whose values are an Effect histogram's. */
class BridgedHistogram extends Histogram<string> {
  readonly #bridged: Bridged
  constructor(bridged: Bridged, registry: Registry) {
    super({
      name: bridged.name,
      help: bridged.help,
      labelNames: [...bridged.labelNames],
      registers: [registry]
    })
    this.#bridged = bridged
  }

  #values(): Array<Sample> {
    const { name, labelNames } = this.#bridged
    const out: Array<Sample> = []
    for (const pair of pairsNamed(name)) {
      const state = pair.metricState
      if (!MetricState.isHistogramState(state) || !complete(pair, labelNames)) continue
      const labels = labelsOf(pair, labelNames)
      let sawInf = false
      for (const [bound, cumulative] of state.buckets) {
        if (bound === Number.POSITIVE_INFINITY) sawInf = true
        out.push({
          metricName: `${name}_bucket`,
          labels: { ...labels, le: formatBound(bound) },
          value: bound === Number.POSITIVE_INFINITY ? state.count : cumulative
        })
      }
      if (!sawInf)
        out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: state.count })
      out.push({ metricName: `${name}_sum`, labels, value: state.sum })
      out.push({ metricName: `${name}_count`, labels, value: state.count })
    }
    return out
  }

  /**
   * What prom-client 15 renders a histogram from (its `get()`, used by `getMetricsAsJSON`, reads
   * it too): the values of the Effect histogram instead of those of `observe`.
   */
  async getForPromString() {
    return {
      name: this.#bridged.name,
      help: this.#bridged.help,
      type: "histogram",
      values: this.#values().map((v) => ({ ...v, sharedLabels: {} })),
      aggregator: "sum"
    }
  }
}

/** Registers the Effect metrics `bridged` on `registry`. */
export const register = (registry: Registry, bridged: ReadonlyArray<Bridged>): void => {
  for (const b of bridged) {
    const labelNames = [...b.labelNames]
    switch (b.type) {
      case "counter":
        new Counter({
          name: b.name,
          help: b.help,
          labelNames,
          registers: [registry],
          collect() {
            this.reset()
            for (const pair of pairsNamed(b.name)) {
              const state = pair.metricState
              if (!MetricState.isCounterState(state) || !complete(pair, b.labelNames)) continue
              this.inc(labelsOf(pair, b.labelNames), numberOf(state.count))
            }
          }
        })
        break
      case "gauge":
        new Gauge({
          name: b.name,
          help: b.help,
          labelNames,
          registers: [registry],
          collect() {
            for (const pair of pairsNamed(b.name)) {
              const state = pair.metricState
              if (!MetricState.isGaugeState(state) || !complete(pair, b.labelNames)) continue
              this.set(labelsOf(pair, b.labelNames), numberOf(state.value))
            }
          }
        })
        break
      case "histogram":
        new BridgedHistogram(b, registry)
        break
    }
  }
}
