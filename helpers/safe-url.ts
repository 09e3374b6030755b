// A URL as messages, errors and evidence show it (helpers/transport.ts re-exports it). No imports: the
// error classes use it, and the gate catalogue loads those without the project's dependencies.

/** Query parameters whose values are safe to show (paging, api-version, PromQL ranges, token scope). */
const SAFE_QUERY = new Set(['api-version', 'n', 'last', 'step', 'start', 'end', 'service', 'scope', 'query', 'timeout'])

/** A URL as messages and evidence show it: no user:password, no query value that could be a key. */
export function safeUrl(url: string | URL): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return String(url).replace(/\?.*$/, '?…')
  }
  u.username = ''
  u.password = ''
  for (const k of [...u.searchParams.keys()]) if (!SAFE_QUERY.has(k.toLowerCase())) u.searchParams.set(k, 'REDACTED')
  return u.toString()
}
