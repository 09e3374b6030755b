// Reading metric values out of query rows (KQL tables or PromQL matrices flattened to rows).

const TIME_KEYS = /^(timegenerated|timestamp|time|t)$/i

/** The largest numeric value in the rows, ignoring time columns. NaN when there is none. */
export function maxMetricValue(rows: ReadonlyArray<Record<string, unknown>>): number {
  let max = Number.NaN
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      if (TIME_KEYS.test(k)) continue
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
      if (Number.isFinite(n) && !(n <= max)) max = n
    }
  }
  return max
}
