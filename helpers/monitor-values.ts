// Reading metric values out of query rows (KQL tables or PromQL matrices flattened to rows).

const TIME_KEYS = /^(timegenerated|timestamp|time|t)$/i

/** The value columns of the rows: PromQL rows carry `value`, the plan's KQL aliases its aggregate
 * `max_*`; without either, every non-time column whose values are numbers. Label columns (strings
 * such as code="500" or partition="7") never count, or a label would pass for a measurement. */
function valueColumns(rows: ReadonlyArray<Record<string, unknown>>): { columns: string[]; named: boolean } {
  const all = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !TIME_KEYS.test(k))
  const named = all.filter((k) => k === 'value' || /^max_/i.test(k))
  return named.length ? { columns: named, named: true } : { columns: all, named: false }
}

/** The largest value in the rows (see valueColumns). NaN when there is none. */
export function maxMetricValue(rows: ReadonlyArray<Record<string, unknown>>): number {
  const { columns, named } = valueColumns(rows)
  let max = Number.NaN
  for (const row of rows) {
    for (const k of columns) {
      const v = row[k]
      // a named value column may arrive as a decimal string (Log Analytics `decimal`); others must be numbers
      const n = typeof v === 'number' ? v : named && typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
      if (Number.isFinite(n) && !(n <= max)) max = n
    }
  }
  return max
}
