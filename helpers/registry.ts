// registry: the image-tag check of F3-4 Task 2 step 2 (`az acr repository show-tags … | length(@)`)
// without the az CLI. ACR: an Entra ID access token (DefaultAzureCredential, audience
// https://containerregistry.azure.net) → POST {url}/oauth2/exchange → ACR refresh token →
// POST {url}/oauth2/token → repository-scoped access token → GET {url}/v2/<repo>/tags/list, following
// the Link header. registry-v2: a bearer token as is (or the anonymous token of the 401 challenge).
// Results are values; failures are RegistryError (unreachable / unauthorized / forbidden / not-found)
// naming the URL and what to do. Tokens never reach a message or a returned value.
import { request, Agent } from 'undici'
import type { TokenCredential } from '@azure/identity'
import { getEntraToken } from './entra.ts'
import { ServiceAccessError, type ServiceAccessKind } from './classification.ts'
import { rootCertificates } from 'node:tls'
import { readFileSync } from 'node:fs'
import type { RegistryProfile } from './profile.ts'

/** the Entra ID audience ACR accepts at /oauth2/exchange (not ARM's) */
export const ACR_ENTRA_SCOPE = 'https://containerregistry.azure.net/.default'

export type RegistryErrorKind = ServiceAccessKind

export class RegistryError extends ServiceAccessError {
  constructor(kind: RegistryErrorKind, url: string, message: string, statusCode?: number) {
    super(kind, url, message, statusCode)
    this.name = 'RegistryError'
  }
}

/** one HTTP exchange, for the evidence (no headers, no bodies: they carry tokens) */
export interface RegistryCall {
  method: 'GET' | 'POST'
  url: string
  status: number | null
  durationMs: number
}

export interface TagList {
  registry: string
  repository: string
  tags: string[]
  pages: number
  /** how the bearer token was obtained */
  auth: 'entra-id exchange' | 'static token exchange' | 'static bearer token' | 'anonymous token' | 'none'
  calls: RegistryCall[]
  durationMs: number
}

export interface ListTagsOptions extends Pick<RegistryProfile, 'kind' | 'url' | 'repository' | 'credential' | 'timeoutMs'> {
  pageSize?: number
  /** PEM file of a private CA to trust (default: CLOSEOUT_LOCAL_CA_FILE when set), like monitor.ts */
  caFile?: string
  /** the Entra ID credential for kind acr without a static token (default DefaultAzureCredential) */
  entraCredential?: TokenCredential
}

const agents = new Map<string, Agent>()

/** an undici Agent trusting the public roots plus a private CA, per CA file (arm.ts uses it too) */
export function agentFor(url: string, caFile?: string): Agent {
  const file = url.startsWith('https:') ? (caFile ?? process.env.CLOSEOUT_LOCAL_CA_FILE ?? '') : ''
  let a = agents.get(file)
  if (!a) {
    a = new Agent({
      connectTimeout: 5_000,
      keepAliveTimeout: 10,
      keepAliveMaxTimeout: 10,
      allowH2: false,
      ...(file ? { connect: { ca: [...rootCertificates, readFileSync(file, 'utf8')] } } : {}),
    })
    agents.set(file, a)
  }
  return a
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters (lower-case keys) */
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^\s*(\w+)\s+(.*)$/.exec(header ?? '')
  if (!m) return undefined
  const params: Record<string, string> = {}
  for (const p of m[2].matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) params[p[1].toLowerCase()] = p[2] ?? p[3] ?? ''
  return { scheme: m[1].toLowerCase(), params }
}

/** the rel="next" target of a Link header, resolved against the page it came with */
export function nextLink(header: string | undefined, base: string): string | undefined {
  for (const part of (header ?? '').split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim())
    if (m && /(^|;)\s*rel="?next"?\s*(;|$)/i.test(m[2])) return new URL(m[1], base).toString()
  }
  return undefined
}

interface Reply {
  status: number
  headers: Record<string, string>
  body: string
}

const errorText = (body: string): string => {
  try {
    const j = JSON.parse(body) as { errors?: { code?: string; message?: string }[]; error?: string; error_description?: string }
    const e = j.errors?.[0]
    if (e) return `${e.code ?? ''}${e.message ? ` ${e.message}` : ''}`.trim()
    if (j.error) return `${j.error}${j.error_description ? ` ${j.error_description}` : ''}`
  } catch {
    /* not JSON */
  }
  return body.replace(/\s+/g, ' ').slice(0, 120)
}

export async function listTags(o: ListTagsOptions): Promise<TagList> {
  const base = o.url.replace(/\/+$/, '')
  const origin = new URL(base).origin
  const service = new URL(base).host
  const repo = o.repository
  const calls: RegistryCall[] = []
  const dispatcher = agentFor(base, o.caFile)
  const t0 = performance.now()
  const where = `registry ${base} (repository ${repo})`

  const call = async (method: 'GET' | 'POST', url: string, opts: { bearer?: string; form?: Record<string, string> } = {}): Promise<Reply> => {
    const c0 = performance.now()
    const rec: RegistryCall = { method, url, status: null, durationMs: 0 }
    calls.push(rec)
    const signal = AbortSignal.timeout(o.timeoutMs)
    // undici does not abort a TLS handshake in progress (it waits for connectTimeout): the race
    // keeps the deadline; the abandoned socket is closed by the signal / the connect timeout
    const expired = new Promise<never>((_, rej) => signal.addEventListener('abort', () => rej(signal.reason), { once: true }))
    try {
      const r = await Promise.race([expired, request(url, {
        method,
        dispatcher,
        signal,
        headers: {
          accept: 'application/json',
          ...(opts.bearer ? { authorization: `Bearer ${opts.bearer}` } : {}),
          ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: opts.form ? new URLSearchParams(opts.form).toString() : undefined,
      })])
      const body = await Promise.race([expired, r.body.text()])
      rec.status = r.statusCode
      rec.durationMs = Math.round(performance.now() - c0)
      const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]))
      return { status: r.statusCode, headers, body }
    } catch (err) {
      rec.durationMs = Math.round(performance.now() - c0)
      const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } }
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        throw new RegistryError('unreachable', url, `${method} ${url}: no answer within ${o.timeoutMs} ms — check consumer.registry.url and the network path from the runner (private endpoint, firewall), or raise consumer.registry.timeoutMs`)
      }
      const code = e.code ?? e.cause?.code ?? 'request failed'
      throw new RegistryError('unreachable', url, `${method} ${url}: ${code}: ${(e.cause?.message ?? e.message ?? '').split('\n')[0]} — check consumer.registry.url, the network path from the runner and (for a private CA) CLOSEOUT_LOCAL_CA_FILE`)
    }
  }

  /** a non-2xx answer → the classified error, naming the URL and what to do */
  const fail = (r: Reply, method: string, url: string, step: string): never => {
    const why = `${method} ${url} answered ${r.status}${errorText(r.body) ? ` (${errorText(r.body)})` : ''}`
    if (r.status === 401) {
      const fix =
        o.kind === 'acr'
          ? o.credential === 'default'
            ? 'sign in with an identity the registry accepts (az login, workload identity or a managed identity via DefaultAzureCredential) and rerun'
            : 'the static consumer.registry.credential.token was not accepted; set a valid one and rerun'
          : 'set consumer.registry.credential.token to a valid bearer token for this registry and rerun'
      throw new RegistryError('unauthorized', url, `${where}: ${step}: ${why} — ${fix}`, 401)
    }
    if (r.status === 403) throw new RegistryError('forbidden', url, `${where}: ${step}: ${why} — the identity may not read ${repo}; grant it AcrPull (or a token scope map with content/read and metadata/read) on the registry`, 403)
    if (r.status === 404) throw new RegistryError('not-found', url, `${where}: ${step}: ${why} — check consumer.registry.url and consumer.registry.repository, or push the image to ${repo}`, 404)
    throw new RegistryError('unreachable', url, `${where}: ${step}: ${why} — the registry is not answering normally; retry later or check the registry's health`, r.status)
  }

  const json = <T>(r: Reply, url: string, step: string): T => {
    try {
      return JSON.parse(r.body) as T
    } catch {
      throw new RegistryError('unreachable', url, `${where}: ${step}: ${r.status} with a non-JSON body — is ${base} a Docker Registry HTTP API v2 endpoint?`, r.status)
    }
  }

  // the bearer token for the tag list
  let bearer: string | undefined
  let auth: TagList['auth'] = 'none'
  if (o.kind === 'acr') {
    let entraToken: string
    if (o.credential !== 'default') {
      entraToken = o.credential.token
      auth = 'static token exchange'
    } else {
      entraToken = await getEntraToken(ACR_ENTRA_SCOPE, { credential: o.entraCredential, timeoutMs: o.timeoutMs }).catch((e: unknown) => {
        throw new RegistryError('unauthorized', base, `${where}: ${(e as Error).message}`)
      })
      auth = 'entra-id exchange'
    }
    const exchangeUrl = `${origin}/oauth2/exchange`
    const ex = await call('POST', exchangeUrl, { form: { grant_type: 'access_token', service, access_token: entraToken } })
    if (ex.status !== 200) fail(ex, 'POST', exchangeUrl, 'token exchange')
    const refresh = json<{ refresh_token?: string }>(ex, exchangeUrl, 'token exchange').refresh_token
    if (!refresh) throw new RegistryError('unauthorized', exchangeUrl, `${where}: POST ${exchangeUrl} returned no refresh_token — the registry did not accept the identity; check its sign-in and rerun`, ex.status)
    const tokenUrl = `${origin}/oauth2/token`
    const tk = await call('POST', tokenUrl, { form: { grant_type: 'refresh_token', service, scope: `repository:${repo}:pull`, refresh_token: refresh } })
    if (tk.status !== 200) fail(tk, 'POST', tokenUrl, 'access token')
    bearer = json<{ access_token?: string }>(tk, tokenUrl, 'access token').access_token
    if (!bearer) throw new RegistryError('forbidden', tokenUrl, `${where}: POST ${tokenUrl} returned no access_token for repository:${repo}:pull — grant the identity AcrPull on the registry`, tk.status)
  } else if (o.credential !== 'default') {
    bearer = o.credential.token
    auth = 'static bearer token'
  }

  const tags: string[] = []
  let url: string | undefined = `${base}/v2/${repo}/tags/list?n=${o.pageSize ?? 100}`
  let pages = 0
  let triedAnonymous = false
  while (url) {
    const r = await call('GET', url, { bearer })
    if (r.status === 401 && o.kind === 'registry-v2' && !bearer && !triedAnonymous) {
      // the standard challenge: an anonymous token from the realm for the scope it names
      triedAnonymous = true
      const ch = parseChallenge(r.headers['www-authenticate'])
      if (ch?.scheme === 'bearer' && ch.params.realm) {
        const realm = new URL(ch.params.realm)
        if (ch.params.service) realm.searchParams.set('service', ch.params.service)
        realm.searchParams.set('scope', ch.params.scope || `repository:${repo}:pull`)
        const tr = await call('GET', realm.toString())
        if (tr.status !== 200) fail(tr, 'GET', realm.origin + realm.pathname, 'anonymous token')
        const tj = json<{ token?: string; access_token?: string }>(tr, realm.toString(), 'anonymous token')
        bearer = tj.token ?? tj.access_token
        auth = 'anonymous token'
        continue
      }
    }
    if (r.status !== 200) fail(r, 'GET', url, 'tag list')
    pages++
    tags.push(...(json<{ tags?: string[] | null }>(r, url, 'tag list').tags ?? []))
    const next = nextLink(r.headers.link, url)
    // the token goes to the registry only: a Link elsewhere is not followed
    if (next && new URL(next).origin !== origin) throw new RegistryError('unreachable', url, `${where}: the tag list's next page points to another host (${new URL(next).origin}); refusing to send the registry token there`)
    if (pages >= 1000) throw new RegistryError('unreachable', url, `${where}: more than 1000 tag pages; raise consumer.registry.pageSize`)
    url = next
  }
  return { registry: base, repository: repo, tags, pages, auth, calls, durationMs: Math.round(performance.now() - t0) }
}
