/**
 * What the exported data says, as metrics: executions that reached a final status in the sink,
 * their tasks and their durations, per workflow. Counted from the sink's own transitions
 * (`BatchResult.finished`, decided in the write transaction), never from reads: an execution read
 * again by the look-back, by a resumed run or after a restart is not counted again.
 *
 * Base units (seconds), `_total` counters, bounded tags only (`workflow_id`, `status`: never a
 * user id). The exporter serves them on `/metrics`; any Effect metrics exporter can read them.
 *
 * @since 0.2.0
 */
import { Effect, Metric, MetricBoundaries } from "effect"
import type { Finished } from "./Sink.js"

/**
 * Counter `taskhistory_executions_total{workflow_id,status}`: executions that reached a final
 * status (`SUCCEEDED`, `FAILED`) in the export. `workflow_id` is `none` for a record without one.
 *
 * @since 0.2.0
 */
export const executions = Metric.counter("taskhistory_executions_total", {
  description: "Executions that reached a final status in the export, each counted once",
  incremental: true
})

/**
 * Counter `taskhistory_tasks_total{workflow_id}`: tasks of the executions counted by
 * {@link executions}.
 *
 * @since 0.2.0
 */
export const tasks = Metric.counter("taskhistory_tasks_total", {
  description: "Tasks used by the executions that reached a final status in the export",
  incremental: true
})

/**
 * The bucket boundaries of {@link executionDuration}, in seconds (100 ms to 6 h).
 *
 * @since 0.2.0
 */
export const durationBoundaries: ReadonlyArray<number> = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600
]

/**
 * Histogram `taskhistory_execution_duration_seconds{workflow_id}`: run durations of the
 * executions counted by {@link executions}, in seconds (those with a `runDuration`).
 *
 * @since 0.2.0
 */
export const executionDuration = Metric.histogram(
  "taskhistory_execution_duration_seconds",
  MetricBoundaries.fromIterable(durationBoundaries),
  "Run duration of the executions that reached a final status in the export, in seconds"
)

/**
 * The `workflow_id` tag of an execution without one.
 *
 * @since 0.2.0
 */
export const noWorkflow = "none"

interface PerWorkflow {
  readonly succeeded: Metric.Metric.Counter<number>
  readonly failed: Metric.Metric.Counter<number>
  readonly tasks: Metric.Metric.Counter<number>
  readonly duration: Metric.Metric.Histogram<number>
}

// The tagged metrics of each workflow, built once (a project has a bounded number of workflows).
const byWorkflow = new Map<string, PerWorkflow>()

const metricsOf = (workflowId: string): PerWorkflow => {
  let m = byWorkflow.get(workflowId)
  if (m === undefined) {
    const tagged = executions.pipe(Metric.tagged("workflow_id", workflowId))
    m = {
      succeeded: tagged.pipe(Metric.tagged("status", "SUCCEEDED")),
      failed: tagged.pipe(Metric.tagged("status", "FAILED")),
      tasks: tasks.pipe(Metric.tagged("workflow_id", workflowId)),
      duration: executionDuration.pipe(Metric.tagged("workflow_id", workflowId))
    }
    byWorkflow.set(workflowId, m)
  }
  return m
}

/**
 * Records the transitions of one committed write (`BatchResult.finished`). The export engine
 * calls it after each batch.
 *
 * @since 0.2.0
 */
export const recordFinished = (finished: ReadonlyArray<Finished>): Effect.Effect<void> =>
  finished.length === 0
    ? Effect.void
    : Effect.forEach(
        finished,
        (f) => {
          const m = metricsOf(f.workflowId ?? noWorkflow)
          const counted = Metric.increment(f.status === "FAILED" ? m.failed : m.succeeded)
          const withTasks =
            f.taskCount === undefined || f.taskCount <= 0
              ? counted
              : Effect.zipRight(counted, Metric.incrementBy(m.tasks, f.taskCount))
          return f.runDurationMs === undefined || f.runDurationMs < 0
            ? withTasks
            : Effect.zipRight(withTasks, Metric.update(m.duration, f.runDurationMs / 1000))
        },
        { discard: true }
      )
