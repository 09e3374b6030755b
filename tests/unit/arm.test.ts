// helpers/arm.ts against the ARM double (in process, HTTPS with a throw-away local CA): the
// managedClusters GET with the verified api-version, the ARM scope for DefaultAzureCredential,
// Succeeded / Updating as values, 401 / 404 with ARM error bodies as classified errors that name the
// URL and never carry a token, unreachable and hung hosts within the deadline.

import { mkdtempSync, readFileSync } from 'node:fs'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TokenCredential } from '@azure/identity'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type ArmDoubleConfig, LOCAL_AKS, startArmDouble } from '../../fixtures/local-env/arm-double.ts'
import { ensurePki } from '../../fixtures/local-env/sim/pki.ts'
import { AKS_API_VERSION, ARM_SCOPE, ArmError, getManagedCluster, managedClusterUrl } from '../../helpers/arm.ts'

const TOKEN = 'arm-entra-stand-in-0123456789abcdef'
const pki = ensurePki(join(mkdtempSync(join(tmpdir(), 'arm-pki-')), 'pki'))
const doubles: ReturnType<typeof startArmDouble>[] = []

async function startDouble(provisioningState: string): Promise<string> {
  const cfg: ArmDoubleConfig = {
    port: 0,
    token: TOKEN,
    cluster: { ...LOCAL_AKS, provisioningState, powerState: 'Running' },
    tlsKey: pki.serverKey,
    tlsCert: pki.serverCert,
  }
  const d = startArmDouble(cfg)
  doubles.push(d)
  await new Promise((r) => d.server.once('listening', r))
  return `https://127.0.0.1:${(d.server.address() as AddressInfo).port}`
}

let endpoint: string
let updating: string
const base = () => ({
  subscriptionId: LOCAL_AKS.subscriptionId,
  resourceGroup: LOCAL_AKS.resourceGroup,
  name: LOCAL_AKS.name,
  endpoint,
  credential: { token: TOKEN },
  timeoutMs: 5_000,
  caFile: pki.caCert,
})

async function rejection(p: Promise<unknown>): Promise<ArmError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ArmError)
    return e as ArmError
  }
  throw new Error('expected an ArmError')
}

beforeAll(async () => {
  endpoint = await startDouble('Succeeded')
  updating = await startDouble('Updating')
})
afterAll(() => Promise.all(doubles.map((d) => d.stop())))

describe('AKS managed cluster state (ARM managedClusters GET against the double)', () => {
  test('a Succeeded cluster: provisioningState, powerState and version as a value, the URL without secrets', async () => {
    const s = await getManagedCluster(base())
    expect(s).toMatchObject({
      provisioningState: 'Succeeded',
      powerState: 'Running',
      kubernetesVersion: LOCAL_AKS.kubernetesVersion,
      status: 200,
      auth: 'static token',
      name: 'nsc-aks-dev',
    })
    expect(s.url).toBe(
      `${endpoint}/subscriptions/${LOCAL_AKS.subscriptionId}/resourceGroups/2dt-final-team4/providers/Microsoft.ContainerService/managedClusters/nsc-aks-dev?api-version=2025-08-01`,
    )
    expect(s.id.toLowerCase()).toBe(
      `/subscriptions/${LOCAL_AKS.subscriptionId}/resourcegroups/2dt-final-team4/providers/microsoft.containerservice/managedclusters/nsc-aks-dev`,
    )
    expect(JSON.stringify(s)).not.toContain(TOKEN)
  })

  test('an Updating cluster is a value too (the gate decides), not an error', async () => {
    const s = await getManagedCluster({ ...base(), endpoint: updating })
    expect(s.provisioningState).toBe('Updating')
    expect(s.powerState).toBe('Running')
  })

  test('without a static token the Entra ID token is requested for the ARM scope; the default endpoint is ARM', async () => {
    const scopes: string[] = []
    const entraCredential: TokenCredential = {
      getToken: async (sc) => (scopes.push(...[sc].flat()), { token: TOKEN, expiresOnTimestamp: Date.now() + 60_000 }),
    }
    const s = await getManagedCluster({ ...base(), credential: 'default', entraCredential })
    expect(scopes).toEqual([ARM_SCOPE])
    expect(ARM_SCOPE).toBe('https://management.azure.com/.default')
    expect(s.auth).toBe('entra-id')
    expect(managedClusterUrl({ ...base(), endpoint: 'https://management.azure.com/' })).toBe(
      `https://management.azure.com/subscriptions/${LOCAL_AKS.subscriptionId}/resourceGroups/2dt-final-team4/providers/Microsoft.ContainerService/managedClusters/nsc-aks-dev?api-version=${AKS_API_VERSION}`,
    )
  })

  test('an Entra ID credential that cannot sign in is unauthorized, with what to do', async () => {
    const entraCredential: TokenCredential = { getToken: async () => Promise.reject(new Error('CredentialUnavailableError: no az login')) }
    const e = await rejection(getManagedCluster({ ...base(), credential: 'default', entraCredential }))
    expect(e.kind).toBe('unauthorized')
    expect(e.message).toMatch(/az login/)
    expect(e.message).toMatch(/workload identity/)
  })

  test('a wrong token: 401 with an ARM error body (InvalidAuthenticationToken), named in the error, the token not', async () => {
    const agent = new Agent({ connect: { ca: readFileSync(pki.caCert, 'utf8') } })
    try {
      const r = await request(managedClusterUrl(base()), {
        dispatcher: agent,
        headers: { authorization: 'Bearer nope-nope-nope' },
        signal: AbortSignal.timeout(5000),
      })
      expect(r.statusCode).toBe(401)
      expect(((await r.body.json()) as { error: { code: string; message: string } }).error.code).toBe('InvalidAuthenticationToken')
      expect(String(r.headers['www-authenticate'])).toMatch(/^Bearer /)
    } finally {
      await agent.close()
    }
    const e = await rejection(getManagedCluster({ ...base(), credential: { token: 'wrong-arm-token-987654321' } }))
    expect(e).toMatchObject({
      kind: 'unauthorized',
      statusCode: 401,
      armCode: 'InvalidAuthenticationToken',
      url: managedClusterUrl(base()),
    })
    expect(e.message).toContain(managedClusterUrl(base()))
    expect(e.message).toMatch(/aks\.credential\.token was not accepted/)
    expect(e.message).not.toContain('wrong-arm-token-987654321')
  })

  test('another cluster name: 404 ResourceNotFound, not-found naming what to check and the Reader role', async () => {
    const e = await rejection(getManagedCluster({ ...base(), name: 'nsc-aks-prod' }))
    expect(e).toMatchObject({ kind: 'not-found', statusCode: 404, armCode: 'ResourceNotFound' })
    expect(e.message).toContain('managedClusters/nsc-aks-prod')
    expect(e.message).toMatch(/aks\.name/)
    expect(e.message).toMatch(/Reader/)
  })

  test('nothing listening: unreachable, naming the URL', async () => {
    const s = createServer()
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
    const port = (s.address() as AddressInfo).port
    await new Promise((r) => s.close(r))
    const e = await rejection(getManagedCluster({ ...base(), endpoint: `https://127.0.0.1:${port}` }))
    expect(e.kind).toBe('unreachable')
    expect(e.message).toContain(`https://127.0.0.1:${port}/subscriptions/`)
    expect(e.message).toMatch(/ECONNREFUSED/)
  })

  test('a host that accepts and never answers (TLS handshake hangs): unreachable at the deadline, not a hang', async () => {
    const held: Socket[] = []
    const s: Server = createServer((c) => held.push(c))
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
    const t0 = Date.now()
    const e = await rejection(
      getManagedCluster({ ...base(), endpoint: `https://127.0.0.1:${(s.address() as AddressInfo).port}`, timeoutMs: 400 }),
    )
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(e.kind).toBe('unreachable')
    expect(e.message).toMatch(/no answer within 400 ms/)
    for (const c of held) c.destroy()
    await new Promise((r) => s.close(r))
  })
})
