// helpers/registry.ts against the registry double (in process, HTTPS with a throw-away local CA):
// the ACR exchange → token → tag list flow, the Entra ID audience, Link pagination, the 401
// challenge, classified errors that name the URL and never carry a token, unreachable and hung hosts.

import { mkdtempSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TokenCredential } from '@azure/identity'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startRegistryDouble } from '../../fixtures/local-env/registry-double.ts'
import { ensurePki } from '../../fixtures/local-env/sim/pki.ts'
import { ACR_ENTRA_SCOPE, listTags, nextLink, parseChallenge, RegistryError } from '../../helpers/registry.ts'

const ENTRA = 'entra-stand-in-token-0123456789abcdef'
const TAGS = ['2026.09.2', '2026.10.0', '2026.10.1', '2026.11.0', '2026.11.1', 'latest']
const pki = ensurePki(join(mkdtempSync(join(tmpdir(), 'registry-pki-')), 'pki'))
let double: ReturnType<typeof startRegistryDouble>
let url: string

const base = { kind: 'acr' as const, repository: 'txlookup/consumer', timeoutMs: 5_000, caFile: pki.caCert }

async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError)
    return e as RegistryError
  }
  throw new Error('expected a RegistryError')
}

beforeAll(async () => {
  double = startRegistryDouble({
    port: 0,
    token: ENTRA,
    repositories: { 'txlookup/consumer': TAGS, 'txlookup/api': ['2026.11.1'] },
    tlsKey: pki.serverKey,
    tlsCert: pki.serverCert,
  })
  await new Promise((r) => double.server.once('listening', r))
  url = `https://127.0.0.1:${(double.server.address() as AddressInfo).port}`
})
afterAll(() => double.stop())

describe('registry tag list (ACR flow against the double)', () => {
  test('a static token is exchanged (/oauth2/exchange → /oauth2/token) and the tags are listed', async () => {
    const r = await listTags({ ...base, url, credential: { token: ENTRA } })
    expect(r.tags).toEqual(TAGS)
    expect(r.auth).toBe('static token exchange')
    expect(r.calls.map((c) => `${c.method} ${new URL(c.url).pathname} ${c.status}`)).toEqual([
      'POST /oauth2/exchange 200',
      'POST /oauth2/token 200',
      'GET /v2/txlookup/consumer/tags/list 200',
    ])
    expect(JSON.stringify(r)).not.toContain(ENTRA)
  })

  test('without a static token the Entra ID token is requested for the ACR audience', async () => {
    const scopes: string[] = []
    const entraCredential: TokenCredential = {
      getToken: async (s) => (scopes.push(...[s].flat()), { token: ENTRA, expiresOnTimestamp: Date.now() + 60_000 }),
    }
    const r = await listTags({ ...base, url, credential: 'default', entraCredential })
    expect(scopes).toEqual([ACR_ENTRA_SCOPE])
    expect(ACR_ENTRA_SCOPE).toBe('https://containerregistry.azure.net/.default')
    expect(r).toMatchObject({ auth: 'entra-id exchange', tags: TAGS })
  })

  test('an Entra ID credential that cannot sign in is unauthorized, with what to do', async () => {
    const entraCredential: TokenCredential = { getToken: async () => Promise.reject(new Error('CredentialUnavailableError: no az login')) }
    const e = await rejection(listTags({ ...base, url, credential: 'default', entraCredential }))
    expect(e.kind).toBe('unauthorized')
    expect(e.message).toMatch(/az login/)
  })

  test('the Link header is followed page by page to the end', async () => {
    const r = await listTags({ ...base, url, credential: { token: ENTRA }, pageSize: 2 })
    expect(r.tags).toEqual(TAGS)
    expect(r.pages).toBe(3)
    const gets = r.calls.filter((c) => c.method === 'GET').map((c) => new URL(c.url).search)
    expect(gets).toEqual(['?n=2', '?n=2&last=2026.10.0', '?n=2&last=2026.11.0'])
  })

  test('no or a wrong bearer token: 401 with the Bearer challenge naming realm, service and scope', async () => {
    const agent = new Agent({ connect: { ca: readFileSync(pki.caCert, 'utf8') } })
    try {
      const r = await request(`${url}/v2/txlookup/consumer/tags/list`, { dispatcher: agent, signal: AbortSignal.timeout(5000) })
      expect(r.statusCode).toBe(401)
      expect(((await r.body.json()) as { errors: { code: string }[] }).errors[0].code).toBe('UNAUTHORIZED')
      expect(parseChallenge(String(r.headers['www-authenticate']))).toEqual({
        scheme: 'bearer',
        params: { realm: `${url}/oauth2/token`, service: new URL(url).host, scope: 'repository:txlookup/consumer:pull' },
      })
    } finally {
      await agent.close()
    }
    const e = await rejection(listTags({ ...base, kind: 'registry-v2', url, credential: { token: 'not-a-registry-token-42' } }))
    expect(e).toMatchObject({ kind: 'unauthorized', statusCode: 401 })
    expect(e.message).toContain(`${url}/v2/txlookup/consumer/tags/list`)
    expect(e.message).not.toContain('not-a-registry-token-42')
  })

  test('a token the exchange does not accept: unauthorized, naming /oauth2/exchange, token not in the message', async () => {
    const e = await rejection(listTags({ ...base, url, credential: { token: 'wrong-entra-token-987654321' } }))
    expect(e).toMatchObject({ kind: 'unauthorized', statusCode: 401, url: `${url}/oauth2/exchange` })
    expect(e.message).toMatch(/credential\.token was not accepted/)
    expect(e.message).not.toContain('wrong-entra-token-987654321')
  })

  test('an unknown repository is not-found, naming it', async () => {
    const e = await rejection(listTags({ ...base, url, repository: 'txlookup/nope', credential: { token: ENTRA } }))
    expect(e.kind).toBe('not-found')
    expect(e.message).toMatch(/txlookup\/nope/)
  })

  test('nothing listening: unreachable, naming the URL', async () => {
    const s = createServer()
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
    const port = (s.address() as AddressInfo).port
    await new Promise((r) => s.close(r))
    const e = await rejection(listTags({ ...base, url: `https://127.0.0.1:${port}`, credential: { token: ENTRA } }))
    expect(e.kind).toBe('unreachable')
    expect(e.message).toContain(`https://127.0.0.1:${port}/oauth2/exchange`)
    expect(e.message).toMatch(/ECONNREFUSED/)
  })

  test('a host that accepts and never answers: unreachable at the deadline, not a hang', async () => {
    const held: import('node:net').Socket[] = []
    const s: Server = createServer((c) => held.push(c))
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
    const t0 = Date.now()
    const e = await rejection(
      listTags({ ...base, url: `https://127.0.0.1:${(s.address() as AddressInfo).port}`, credential: { token: ENTRA }, timeoutMs: 400 }),
    )
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(e.kind).toBe('unreachable')
    expect(e.message).toMatch(/no answer within 400 ms/)
    for (const c of held) c.destroy()
    await new Promise((r) => s.close(r))
  })
})

describe('registry header parsing', () => {
  test('nextLink resolves rel="next" against the page and ignores other relations', () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"', 'https://r.example/v2/a/tags/list?n=2')).toBe(
      'https://r.example/v2/a/tags/list?n=2&last=b',
    )
    expect(nextLink('<https://r.example/x>; rel="prev"', 'https://r.example/')).toBeUndefined()
    expect(nextLink(undefined, 'https://r.example/')).toBeUndefined()
  })
  test('parseChallenge reads quoted parameters with commas and colons', () => {
    expect(
      parseChallenge('Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:a/b:pull,push"')?.params,
    ).toEqual({
      realm: 'https://r.azurecr.io/oauth2/token',
      service: 'r.azurecr.io',
      scope: 'repository:a/b:pull,push',
    })
  })
})
