// arm: the AKS precondition of E2-3 §3 (`az aks show -g RG -n NAME --query provisioningState -o tsv`)
// without the az CLI. An Entra ID token for Azure Resource Manager (DefaultAzureCredential, scope
// https://management.azure.com/.default) or a static token (the local double) → GET
// {endpoint}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}
// ?api-version=2025-08-01. The result is a value; failures are ArmError (unreachable / unauthorized /
// forbidden / not-found) naming the URL and what to do. Tokens never reach a message or a returned value.
import { request } from 'undici'
import type { TokenCredential } from '@azure/identity'
import { getEntraToken } from './entra.ts'
import { agentFor } from './registry.ts'
import { ServiceAccessError, type ServiceAccessKind } from './classification.ts'
import type { AksProfile } from './profile.ts'

/** the Entra ID scope of Azure Resource Manager */
export const ARM_SCOPE = 'https://management.azure.com/.default'
/** a stable Microsoft.ContainerService api-version (azure-rest-api-specs aks/stable/2025-08-01) */
export const AKS_API_VERSION = '2025-08-01'

export type ArmErrorKind = ServiceAccessKind

export class ArmError extends ServiceAccessError {
  /** the ARM error code of the body ({"error":{"code",…}}), when there was one */
  readonly armCode?: string
  constructor(kind: ArmErrorKind, url: string, message: string, statusCode?: number, armCode?: string) {
    super(kind, url, message, statusCode)
    this.name = 'ArmError'
    this.armCode = armCode
  }
}

export interface ManagedClusterState {
  /** the resource id ARM returned */
  id: string
  name: string
  location?: string
  /** properties.provisioningState: Succeeded, Updating, Upgrading, Creating, Deleting, Failed, Canceled, … */
  provisioningState: string
  /** properties.powerState.code: Running or Stopped */
  powerState?: string
  kubernetesVersion?: string
  currentKubernetesVersion?: string
  fqdn?: string
  privateFqdn?: string
  /** the request, without secrets (the URL carries none) */
  url: string
  status: number
  auth: 'entra-id' | 'static token'
  durationMs: number
}

export interface GetManagedClusterOptions extends Pick<AksProfile, 'subscriptionId' | 'resourceGroup' | 'name' | 'endpoint' | 'credential' | 'timeoutMs'> {
  /** PEM file of a private CA to trust (default: CLOSEOUT_LOCAL_CA_FILE when set), like registry.ts */
  caFile?: string
  /** the Entra ID credential without a static token (default DefaultAzureCredential) */
  entraCredential?: TokenCredential
}

/** the managedClusters resource URL (no secrets in it: ARM takes the token in a header) */
export function managedClusterUrl(o: Pick<AksProfile, 'subscriptionId' | 'resourceGroup' | 'name' | 'endpoint'>): string {
  const seg = encodeURIComponent
  return `${o.endpoint.replace(/\/+$/, '')}/subscriptions/${seg(o.subscriptionId)}/resourceGroups/${seg(o.resourceGroup)}/providers/Microsoft.ContainerService/managedClusters/${seg(o.name)}?api-version=${AKS_API_VERSION}`
}

/** `{"error":{"code","message"}}` → "code: message" (ARM's common error body), else a body excerpt */
function armErrorOf(body: string): { code?: string; text: string } {
  try {
    const e = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error
    if (e?.code || e?.message) return { code: e.code, text: `${e.code ?? ''}${e.message ? `: ${e.message}` : ''}` }
  } catch {
    /* not JSON */
  }
  return { text: body.replace(/\s+/g, ' ').slice(0, 160) }
}

export async function getManagedCluster(o: GetManagedClusterOptions): Promise<ManagedClusterState> {
  const url = managedClusterUrl(o)
  const where = `AKS cluster ${o.name} (resource group ${o.resourceGroup}, subscription ${o.subscriptionId})`
  const t0 = performance.now()
  let token: string
  let auth: ManagedClusterState['auth']
  if (o.credential !== 'default') {
    token = o.credential.token
    auth = 'static token'
  } else {
    token = await getEntraToken(ARM_SCOPE, { credential: o.entraCredential, timeoutMs: o.timeoutMs }).catch((e: unknown) => {
      throw new ArmError('unauthorized', url, `${where}: ${(e as Error).message}`)
    })
    auth = 'entra-id'
  }

  const signal = AbortSignal.timeout(o.timeoutMs)
  // undici does not abort a TLS handshake in progress (it waits for connectTimeout): the race keeps
  // the deadline, as in registry.ts; the abandoned socket is closed by the signal / the connect timeout
  const expired = new Promise<never>((_, rej) => signal.addEventListener('abort', () => rej(signal.reason), { once: true }))
  let status: number
  let body: string
  try {
    const r = await Promise.race([expired, request(url, { method: 'GET', dispatcher: agentFor(url, o.caFile), signal, headers: { accept: 'application/json', authorization: `Bearer ${token}` } })])
    body = await Promise.race([expired, r.body.text()])
    status = r.statusCode
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } }
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new ArmError('unreachable', url, `${where}: GET ${url}: no answer within ${o.timeoutMs} ms — check aks.endpoint and the network path from the runner to Azure Resource Manager (proxy, firewall), or raise aks.timeoutMs`)
    }
    const code = e.code ?? e.cause?.code ?? 'request failed'
    throw new ArmError('unreachable', url, `${where}: GET ${url}: ${code}: ${(e.cause?.message ?? e.message ?? '').split('\n')[0]} — check aks.endpoint, the network path from the runner and (for a private CA) CLOSEOUT_LOCAL_CA_FILE`)
  }

  if (status !== 200) {
    const err = armErrorOf(body)
    const why = `GET ${url} answered ${status}${err.text ? ` (${err.text})` : ''}`
    if (status === 401) {
      const fix = o.credential === 'default' ? 'sign in with an identity Azure accepts (az login, workload identity or a managed identity via DefaultAzureCredential) and rerun' : 'the static aks.credential.token was not accepted; set a valid one and rerun'
      throw new ArmError('unauthorized', url, `${where}: ${why} — ${fix}`, 401, err.code)
    }
    if (status === 403) throw new ArmError('forbidden', url, `${where}: ${why} — grant the identity Reader on the AKS resource ${o.name} (or its resource group) and rerun`, 403, err.code)
    if (status === 404) throw new ArmError('not-found', url, `${where}: ${why} — check aks.subscriptionId (AZURE_SUBSCRIPTION_ID), aks.resourceGroup and aks.name; the identity also needs Reader to see the cluster`, 404, err.code)
    throw new ArmError('unreachable', url, `${where}: ${why} — Azure Resource Manager is not answering normally; retry later`, status, err.code)
  }
  let doc: { id?: string; name?: string; location?: string; properties?: { provisioningState?: string; powerState?: { code?: string }; kubernetesVersion?: string; currentKubernetesVersion?: string; fqdn?: string; privateFQDN?: string } }
  try {
    doc = JSON.parse(body) as typeof doc
  } catch {
    throw new ArmError('unreachable', url, `${where}: GET ${url} answered 200 with a non-JSON body — is ${o.endpoint} the Azure Resource Manager endpoint?`, status)
  }
  const p = doc.properties
  if (!p?.provisioningState) throw new ArmError('unreachable', url, `${where}: GET ${url} answered 200 without properties.provisioningState — is ${o.endpoint} the Azure Resource Manager endpoint?`, status)
  return {
    id: doc.id ?? '',
    name: doc.name ?? o.name,
    location: doc.location,
    provisioningState: p.provisioningState,
    powerState: p.powerState?.code,
    kubernetesVersion: p.kubernetesVersion,
    currentKubernetesVersion: p.currentKubernetesVersion,
    fqdn: p.fqdn,
    privateFqdn: p.privateFQDN,
    url,
    status,
    auth,
    durationMs: Math.round(performance.now() - t0),
  }
}
