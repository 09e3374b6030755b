// registry: the image-tag check of F3-4 Task 2 step 2 (`az acr repository show-tags … | length(@)`)
// without the az CLI. ACR: an Entra ID access token (DefaultAzureCredential, audience
// https://containerregistry.azure.net) → POST {url}/oauth2/exchange → ACR refresh token →
// POST {url}/oauth2/token → repository-scoped access token → GET {url}/v2/<repo>/tags/list, following
// the Link header. registry-v2: a bearer token as is (or the anonymous token of the 401 challenge).
// Every exchange goes through helpers/transport.ts (CA, deadline, error mapping, the registry retry
// budget for 429/503/dropped connections); failures are RegistryError (an AccessError, classified
// ENVIRONMENT_BLOCKED) naming the URL and what to do. Tokens never reach a message or a returned value.
import type { TokenCredential } from '@azure/identity'
import type { CallObserver } from './access.ts'
import { fixOf, ServiceAccessError, type ServiceAccessInit, type ServiceAccessKind } from './classification.ts'
import { getEntraToken } from './entra.ts'
import type { RegistryProfile } from './profile.ts'
import {
  type Attempt,
  DEFAULT_RETRY,
  type RetryBudget,
  type ServiceContext,
  safeUrl,
  send,
  type TransportResponse,
  agentFor as transportAgentFor,
} from './transport.ts'

/** the Entra ID audience ACR accepts at /oauth2/exchange (not ARM's) */
export const ACR_ENTRA_SCOPE = 'https://containerregistry.azure.net/.default'

export type RegistryErrorKind = ServiceAccessKind

export class RegistryError extends ServiceAccessError {
  constructor(init: ServiceAccessInit)
  constructor(kind: RegistryErrorKind, url: string, message: string, statusCode?: number)
  constructor(kindOrInit: RegistryErrorKind | ServiceAccessInit, url?: string, message?: string, statusCode?: number) {
    super(
      typeof kindOrInit === 'string'
        ? { kind: kindOrInit, where: url ?? '', url, message: message ?? '', fix: '', statusCode }
        : kindOrInit,
    )
    this.name = 'RegistryError'
  }
}

/** one HTTP exchange, for the evidence (no headers, no bodies: they carry tokens) */
export interface RegistryCall {
  method: 'GET' | 'POST'
  url: string
  status: number | null
  durationMs: number
  /** attempts when it was retried */
  attempts?: Attempt[]
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
  /** PEM file of a private CA to trust (default: CLOSEOUT_LOCAL_CA_FILE when set) */
  caFile?: string
  /** the Entra ID credential for kind acr without a static token (default DefaultAzureCredential) */
  entraCredential?: TokenCredential
  /** each exchange as it completes (kind registry, the URL without secrets, the status) */
  observer?: CallObserver
  /** the retry budget for transient answers (default DEFAULT_RETRY.registry) */
  retry?: RetryBudget
}

/** an undici Agent trusting the public roots plus a private CA, per CA file (helpers/transport.ts) */
export function agentFor(url: string, caFile?: string) {
  return transportAgentFor(url, caFile)
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

interface Session {
  o: ListTagsOptions
  base: string
  origin: string
  service: string
  repo: string
  where: string
  calls: RegistryCall[]
}

/** The registry's fixes, one per cause, naming the profile keys. */
function fixesFor(s: Session): ServiceContext['fixes'] {
  const unauthorized =
    s.o.kind === 'acr'
      ? s.o.credential === 'default'
        ? 'sign in with an identity the registry accepts (az login, workload identity or a managed identity via DefaultAzureCredential) and rerun'
        : 'the static consumer.registry.credential.token was not accepted; set a valid one and rerun'
      : 'set consumer.registry.credential.token to a valid bearer token for this registry and rerun'
  return {
    unauthorized,
    forbidden: `the identity may not read ${s.repo}; grant it AcrPull (or a token scope map with content/read and metadata/read) on the registry`,
    'not-found': `check consumer.registry.url and consumer.registry.repository, or push the image to ${s.repo}`,
    'rate-limited': 'the registry is throttling this identity and the retry budget is used up; wait a few minutes and rerun',
    'server-error': "the registry is not answering normally; retry later or check the registry's health",
  }
}

function contextFor(s: Session, step: string): ServiceContext {
  return { where: `${s.where}: ${step}`, urlKey: 'consumer.registry.url', timeoutKey: 'consumer.registry.timeoutMs', fixes: fixesFor(s) }
}

const makeRegistryError = (init: ServiceAccessInit) => new RegistryError(init)

/** One exchange through the transport; the call is listed for the evidence (URL without secrets). */
async function registryCall(
  s: Session,
  step: string,
  method: 'GET' | 'POST',
  url: string,
  opts: { bearer?: string; form?: Record<string, string>; allow401?: boolean } = {},
): Promise<TransportResponse> {
  const rec: RegistryCall = { method, url: safeUrl(url), status: null, durationMs: 0 }
  s.calls.push(rec)
  const t0 = performance.now()
  const ctx = contextFor(s, step)
  try {
    const r = await send({
      url,
      method,
      timeoutMs: s.o.timeoutMs,
      caFile: s.o.caFile,
      headers: {
        accept: 'application/json',
        ...(opts.bearer ? { authorization: `Bearer ${opts.bearer}` } : {}),
        ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: opts.form ? new URLSearchParams(opts.form).toString() : undefined,
      service: ctx,
      makeError: makeRegistryError,
      call: { kind: 'registry', target: s.where },
      observer: s.o.observer,
      retry: s.o.retry ?? DEFAULT_RETRY.registry,
      failOn: (status) => status !== 200 && !(status === 401 && opts.allow401),
    })
    rec.status = r.status
    if (r.attempts.length > 1) rec.attempts = r.attempts
    return r
  } catch (err) {
    const a = (err as { attempts?: Attempt[] }).attempts
    rec.status = (err as { statusCode?: number }).statusCode ?? null
    if (a && a.length > 1) rec.attempts = a
    throw err
  } finally {
    rec.durationMs = Math.round(performance.now() - t0)
  }
}

/** A JSON body, or a RegistryError saying the service answered something that is not its API. */
function jsonOf<T>(s: Session, r: TransportResponse, url: string, step: string): T {
  try {
    const v = JSON.parse(r.text) as unknown
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as T
  } catch {
    /* below */
  }
  const fix = `check that consumer.registry.url (${s.base}) is a Docker Registry HTTP API v2 endpoint, not a proxy or login page`
  throw new RegistryError({
    kind: 'server-error',
    where: `${s.where}: ${step}`,
    url,
    statusCode: r.status,
    message: `${s.where}: ${step}: ${safeUrl(url)} answered ${r.status} with a body that is not a JSON object — ${fix}`,
    fix,
  })
}

/** ACR: the Entra ID (or static) token → refresh token → repository-scoped access token. */
async function acrBearer(s: Session): Promise<{ bearer: string; auth: TagList['auth'] }> {
  const o = s.o
  let entraToken: string
  let auth: TagList['auth']
  if (o.credential !== 'default') {
    entraToken = o.credential.token
    auth = 'static token exchange'
  } else {
    entraToken = await getEntraToken(ACR_ENTRA_SCOPE, { credential: o.entraCredential, timeoutMs: o.timeoutMs }).catch((e: unknown) => {
      const msg = (e as Error).message
      throw new RegistryError({ kind: 'unauthorized', where: s.where, url: s.base, message: `${s.where}: ${msg}`, fix: fixOf(msg) })
    })
    auth = 'entra-id exchange'
  }
  const exchangeUrl = `${s.origin}/oauth2/exchange`
  const ex = await registryCall(s, 'token exchange', 'POST', exchangeUrl, {
    form: { grant_type: 'access_token', service: s.service, access_token: entraToken },
  })
  const refresh = jsonOf<{ refresh_token?: string }>(s, ex, exchangeUrl, 'token exchange').refresh_token
  if (!refresh) {
    const fix = 'the registry did not accept the identity; check its sign-in and rerun'
    throw new RegistryError({
      kind: 'unauthorized',
      where: s.where,
      url: exchangeUrl,
      statusCode: ex.status,
      message: `${s.where}: POST ${exchangeUrl} returned no refresh_token — ${fix}`,
      fix,
    })
  }
  const tokenUrl = `${s.origin}/oauth2/token`
  const tk = await registryCall(s, 'access token', 'POST', tokenUrl, {
    form: { grant_type: 'refresh_token', service: s.service, scope: `repository:${s.repo}:pull`, refresh_token: refresh },
  })
  const bearer = jsonOf<{ access_token?: string }>(s, tk, tokenUrl, 'access token').access_token
  if (!bearer) {
    const fix = 'grant the identity AcrPull on the registry'
    throw new RegistryError({
      kind: 'forbidden',
      where: s.where,
      url: tokenUrl,
      statusCode: tk.status,
      message: `${s.where}: POST ${tokenUrl} returned no access_token for repository:${s.repo}:pull — ${fix}`,
      fix,
    })
  }
  return { bearer, auth }
}

/** registry-v2 without a token: the anonymous token the 401 challenge's realm hands out, if any. */
async function anonymousBearer(s: Session, challenge: string | undefined): Promise<string | undefined> {
  const ch = parseChallenge(challenge)
  if (ch?.scheme !== 'bearer' || !ch.params.realm) return undefined
  const realm = new URL(ch.params.realm)
  if (ch.params.service) realm.searchParams.set('service', ch.params.service)
  realm.searchParams.set('scope', ch.params.scope || `repository:${s.repo}:pull`)
  const tr = await registryCall(s, 'anonymous token', 'GET', realm.toString())
  const tj = jsonOf<{ token?: string; access_token?: string }>(s, tr, realm.toString(), 'anonymous token')
  return tj.token ?? tj.access_token
}

export async function listTags(o: ListTagsOptions): Promise<TagList> {
  const base = o.url.replace(/\/+$/, '')
  const s: Session = {
    o,
    base,
    origin: new URL(base).origin,
    service: new URL(base).host,
    repo: o.repository,
    where: `registry ${base} (repository ${o.repository})`,
    calls: [],
  }
  const t0 = performance.now()
  let bearer: string | undefined
  let auth: TagList['auth'] = 'none'
  if (o.kind === 'acr') ({ bearer, auth } = await acrBearer(s))
  else if (o.credential !== 'default') {
    bearer = o.credential.token
    auth = 'static bearer token'
  }
  const tags: string[] = []
  let url: string | undefined = `${base}/v2/${s.repo}/tags/list?n=${o.pageSize ?? 100}`
  let pages = 0
  let triedAnonymous = false
  while (url) {
    const mayChallenge = o.kind === 'registry-v2' && !bearer && !triedAnonymous
    const r = await registryCall(s, 'tag list', 'GET', url, { bearer, allow401: mayChallenge })
    if (r.status === 401) {
      triedAnonymous = true
      bearer = await anonymousBearer(s, r.headers['www-authenticate'])
      if (bearer) auth = 'anonymous token'
      continue
    }
    pages++
    tags.push(...(jsonOf<{ tags?: string[] | null }>(s, r, url, 'tag list').tags ?? []))
    url = nextPage(s, r, url, pages)
  }
  return { registry: base, repository: s.repo, tags, pages, auth, calls: s.calls, durationMs: Math.round(performance.now() - t0) }
}

/** The next page of the tag list; the token goes to the registry only, so a Link elsewhere stops. */
function nextPage(s: Session, r: TransportResponse, url: string, pages: number): string | undefined {
  const next = nextLink(r.headers.link, url)
  if (next && new URL(next).origin !== s.origin) {
    const fix = 'refusing to send the registry token there; check the registry or a proxy in front of it'
    throw new RegistryError({
      kind: 'server-error',
      where: s.where,
      url,
      message: `${s.where}: the tag list's next page points to another host (${new URL(next).origin}) — ${fix}`,
      fix,
    })
  }
  if (next && pages >= 1000) {
    const fix = 'raise consumer.registry.pageSize'
    throw new RegistryError({ kind: 'server-error', where: s.where, url, message: `${s.where}: more than 1000 tag pages — ${fix}`, fix })
  }
  return next
}
