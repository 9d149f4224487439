/**
 * The columns of an exported execution: the one place that says which fields of a record the
 * sinks write as typed columns, under which names, and how a record becomes their values.
 *
 * The SQL sinks (SQLite, Postgres) write {@link columns} then `raw` and `exported_at`; the CSV and
 * Parquet file sinks write {@link columns} then `exported_at` and `raw`; the CLI's `--format csv`
 * picks fields by their API names with {@link projection}. To add a column: add it here, and add
 * a numbered migration in `src/internal/sqlSchema.ts` for the SQL tables.
 *
 * @since 0.1.0
 */

/**
 * How a column's values are typed: text, a finite number, or an instant (ISO 8601 text, as the
 * API sent it; the file formats write it normalised to UTC).
 *
 * @since 0.1.0
 */
export type Kind = "text" | "number" | "timestamp"

/**
 * One column.
 *
 * @since 0.1.0
 */
export interface Column {
  /** The column's name in SQL tables, CSV headers and Parquet schemas (snake_case). */
  readonly name: string
  /** The record's field it holds (the API's name). */
  readonly field: string
  readonly kind: Kind
  /** Every valid execution has it (`id`, `status`, `dateStarted`). */
  readonly required: boolean
}

/**
 * The typed columns, in table order.
 *
 * @since 0.1.0
 */
export const columns = [
  { name: "id", field: "id", kind: "text", required: true },
  { name: "user_id", field: "userId", kind: "text", required: false },
  { name: "workflow_id", field: "workflowId", kind: "text", required: false },
  { name: "status", field: "status", kind: "text", required: true },
  { name: "task_count", field: "taskCount", kind: "number", required: false },
  { name: "run_duration_ms", field: "runDuration", kind: "number", required: false },
  { name: "date_started", field: "dateStarted", kind: "timestamp", required: true },
  { name: "date_ended", field: "dateEnded", kind: "timestamp", required: false }
] as const satisfies ReadonlyArray<Column>

/**
 * The name of a column.
 *
 * @since 0.1.0
 */
export type Name = (typeof columns)[number]["name"]

/**
 * The API field a column holds.
 *
 * @since 0.1.0
 */
export type Field = (typeof columns)[number]["field"]

/**
 * A column's value: text or a finite number, `null` when the record has none (or one of another
 * type).
 *
 * @since 0.1.0
 */
export type Value = string | number | null

/**
 * The column names, in table order.
 *
 * @since 0.1.0
 */
export const names: ReadonlyArray<Name> = columns.map((c) => c.name)

const byField = new Map<string, Column>(columns.map((c) => [c.field, c]))

const typed = (kind: Kind, value: unknown): Value =>
  kind === "number"
    ? typeof value === "number" && Number.isFinite(value)
      ? value
      : null
    : typeof value === "string"
      ? value
      : null

/**
 * The values of `record` for some columns, picked by their API field names, in the order given.
 *
 * @example
 * ```ts
 * import * as Columns from "@taskhistory/export/Columns"
 * const row = Columns.projection(["id", "status"])
 * row({ id: "e1", status: "FAILED", taskCount: 3 }) // ["e1", "FAILED"]
 * ```
 *
 * @since 0.1.0
 */
export const projection = (
  fields: ReadonlyArray<Field>
): ((record: Readonly<Record<string, unknown>>) => Array<Value>) => {
  const picked = fields.map((field) => byField.get(field)!)
  const n = picked.length
  return (record) => {
    const out = new Array<Value>(n)
    for (let k = 0; k < n; k++) {
      const column = picked[k]!
      out[k] = typed(column.kind, record[column.field])
    }
    return out
  }
}

/**
 * The values of every column of {@link columns} for `record`, in table order.
 *
 * @since 0.1.0
 */
export const values: (record: Readonly<Record<string, unknown>>) => Array<Value> = projection(
  columns.map((c) => c.field)
)
