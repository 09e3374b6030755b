// arm: the AKS precondition of E2-3 §3 (`az aks show -g RG -n NAME --query provisioningState -o tsv`)
// without the az CLI. An Entra ID token for Azure Resource Manager (DefaultAzureCredential, scope
// https://management.azure.com/.default) or a static token (the local double) → GET
// {endpoint}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}
// ?api-version=2025-08-01, through helpers/transport.ts (CA, deadline, the ARM retry budget for
// 429/503/dropped connections). The result is a value; failures are ArmError (an AccessError,
// ENVIRONMENT_BLOCKED) naming the URL and what to do. Tokens never reach a message or a returned value.
import type { TokenCredential } from '@azure/identity'
import type { CallObserver } from './access.ts'
import { fixOf, ServiceAccessError, type ServiceAccessInit, type ServiceAccessKind } from './classification.ts'
import { getEntraToken } from './entra.ts'
import type { AksProfile } from './profile.ts'
import { type Attempt, accessErrorOf, DEFAULT_RETRY, type RetryBudget, type ServiceContext, send } from './transport.ts'

/** the Entra ID scope of Azure Resource Manager */
export const ARM_SCOPE = 'https://management.azure.com/.default'
/** a stable Microsoft.ContainerService api-version (azure-rest-api-specs aks/stable/2025-08-01) */
export const AKS_API_VERSION = '2025-08-01'

export type ArmErrorKind = ServiceAccessKind

export class ArmError extends ServiceAccessError {
  /** the ARM error code of the body ({"error":{"code",…}}), when there was one */
  readonly armCode?: string
  constructor(init: ServiceAccessInit & { armCode?: string })
  constructor(kind: ArmErrorKind, url: string, message: string, statusCode?: number, armCode?: string)
  constructor(
    kindOrInit: ArmErrorKind | (ServiceAccessInit & { armCode?: string }),
    url?: string,
    message?: string,
    statusCode?: number,
    armCode?: string,
  ) {
    const init =
      typeof kindOrInit === 'string'
        ? { kind: kindOrInit, where: url ?? '', url, message: message ?? '', fix: '', statusCode, armCode }
        : kindOrInit
    super(init)
    this.name = 'ArmError'
    this.armCode = init.armCode
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
  /** every attempt (more than one when a transient answer was retried) */
  attempts: Attempt[]
}

export interface GetManagedClusterOptions
  extends Pick<AksProfile, 'subscriptionId' | 'resourceGroup' | 'name' | 'endpoint' | 'credential' | 'timeoutMs'> {
  /** PEM file of a private CA to trust (default: CLOSEOUT_LOCAL_CA_FILE when set), like registry.ts */
  caFile?: string
  /** the Entra ID credential without a static token (default DefaultAzureCredential) */
  entraCredential?: TokenCredential
  /** the GET as it completes (kind arm, the URL, the status) */
  observer?: CallObserver
  /** the retry budget for transient answers (default DEFAULT_RETRY.arm) */
  retry?: RetryBudget
}

/** the managedClusters resource URL (no secrets in it: ARM takes the token in a header) */
export function managedClusterUrl(o: Pick<AksProfile, 'subscriptionId' | 'resourceGroup' | 'name' | 'endpoint'>): string {
  const seg = encodeURIComponent
  return `${o.endpoint.replace(/\/+$/, '')}/subscriptions/${seg(o.subscriptionId)}/resourceGroups/${seg(o.resourceGroup)}/providers/Microsoft.ContainerService/managedClusters/${seg(o.name)}?api-version=${AKS_API_VERSION}`
}

/** `{"error":{"code","message"}}` → its code (ARM's common error body) */
function armCodeOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code
  } catch {
    return undefined
  }
}

function armContext(o: GetManagedClusterOptions, where: string): ServiceContext {
  return {
    where,
    urlKey: 'aks.endpoint',
    timeoutKey: 'aks.timeoutMs',
    fixes: {
      unauthorized:
        o.credential === 'default'
          ? 'sign in with an identity Azure accepts (az login, workload identity or a managed identity via DefaultAzureCredential) and rerun'
          : 'the static aks.credential.token was not accepted; set a valid one and rerun',
      forbidden: `grant the identity Reader on the AKS resource ${o.name} (or its resource group) and rerun`,
      'not-found':
        'check aks.subscriptionId (AZURE_SUBSCRIPTION_ID), aks.resourceGroup and aks.name; the identity also needs Reader to see the cluster',
      'rate-limited': 'Azure Resource Manager is throttling this identity and the retry budget is used up; wait a few minutes and rerun',
      'server-error': 'Azure Resource Manager is not answering normally; check the Azure status page and retry later',
    },
  }
}

async function armToken(
  o: GetManagedClusterOptions,
  url: string,
  where: string,
): Promise<{ token: string; auth: ManagedClusterState['auth'] }> {
  if (o.credential !== 'default') return { token: o.credential.token, auth: 'static token' }
  const token = await getEntraToken(ARM_SCOPE, { credential: o.entraCredential, timeoutMs: o.timeoutMs }).catch((e: unknown) => {
    const msg = (e as Error).message
    throw new ArmError({ kind: 'unauthorized', where, url, message: `${where}: ${msg}`, fix: fixOf(msg) })
  })
  return { token, auth: 'entra-id' }
}

type ClusterDoc = {
  id?: string
  name?: string
  location?: string
  properties?: {
    provisioningState?: string
    powerState?: { code?: string }
    kubernetesVersion?: string
    currentKubernetesVersion?: string
    fqdn?: string
    privateFQDN?: string
  }
}

export async function getManagedCluster(o: GetManagedClusterOptions): Promise<ManagedClusterState> {
  const url = managedClusterUrl(o)
  const where = `AKS cluster ${o.name} (resource group ${o.resourceGroup}, subscription ${o.subscriptionId})`
  const t0 = performance.now()
  const { token, auth } = await armToken(o, url, where)
  const r = await send({
    url,
    timeoutMs: o.timeoutMs,
    caFile: o.caFile,
    headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    service: armContext(o, where),
    makeError: (init) => new ArmError(init),
    call: { kind: 'arm', target: where },
    observer: o.observer,
    retry: o.retry ?? DEFAULT_RETRY.arm,
  })
  if (r.status !== 200) {
    const e = accessErrorOf(
      {
        url,
        service: armContext(o, where),
        timeoutMs: o.timeoutMs,
        makeError: (init) => new ArmError({ ...init, armCode: armCodeOf(r.text), attempts: r.attempts }),
      },
      { status: r.status, body: r.text },
    )
    throw e
  }
  let doc: ClusterDoc | undefined
  try {
    doc = JSON.parse(r.text) as ClusterDoc
  } catch {
    doc = undefined
  }
  const p = doc?.properties
  if (!doc || !p?.provisioningState) {
    const fix = `check that aks.endpoint (${o.endpoint}) is the Azure Resource Manager endpoint, not a proxy or login page`
    throw new ArmError({
      kind: 'server-error',
      where,
      url,
      statusCode: r.status,
      message: `${where}: GET ${url} answered 200 ${doc ? 'without properties.provisioningState' : 'with a body that is not JSON'} — ${fix}`,
      fix,
    })
  }
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
    status: r.status,
    auth,
    durationMs: Math.round(performance.now() - t0),
    attempts: r.attempts,
  }
}
