// Target profiles: declarative YAML in fixtures/targets/, validated at load.
// Unknown keys are rejected, every error names its key path, `${VAR}` / `${VAR:-default}` interpolate.
import { existsSync, readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { z } from 'zod'
import { PolicySchema } from './policy.ts'

const argv = z.array(z.string().min(1)).min(1)
const probe = z.strictObject({ command: argv, marker: z.string().min(1) })

/** The image registry the consumer image is checked in before any rollout (F3-4 Task 2 step 2's
 * `az acr repository show-tags … | length(@)`), through the Docker Registry HTTP API v2. */
export const RegistrySchema = z.strictObject({
  /** acr: Entra ID token exchanged at /oauth2/exchange + /oauth2/token; registry-v2: bearer token as is */
  kind: z.enum(['acr', 'registry-v2']),
  /** the login server, e.g. https://nscacrdevw4mlu8.azurecr.io */
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL'),
  /** e.g. txlookup/consumer */
  repository: z
    .string()
    .regex(
      /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/,
      'must be a lower-case repository path like txlookup/consumer',
    ),
  /** omitted / 'default' = DefaultAzureCredential (acr) or anonymous (registry-v2); a token = static
   * (acr: stands in for the Entra access token, e.g. the local double; registry-v2: the bearer token) */
  credential: z.union([z.literal('default'), z.strictObject({ token: z.string().min(1) })]).default('default'),
  timeoutMs: z.number().int().positive().default(15_000),
  /** tags per page (the `n` of /v2/<repo>/tags/list); the Link header is followed to the end */
  pageSize: z.number().int().positive().max(1000).default(100),
})
export type RegistryProfile = z.infer<typeof RegistrySchema>

/** The AKS resource whose provisioningState E2-3 §3 requires to be Succeeded (`az aks show -g … -n …
 * --query provisioningState -o tsv`), read from Azure Resource Manager (managedClusters GET). */
export const AksSchema = z.strictObject({
  subscriptionId: z
    .string()
    .regex(
      /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
      'must be a subscription id (a GUID like 00000000-0000-0000-0000-000000000000)',
    ),
  resourceGroup: z.string().regex(/^[-\w._()]{1,90}$/, 'must be a resource group name (letters, digits, - _ . ( ), at most 90)'),
  /** the managed cluster's name (AKS_CLUSTER) */
  name: z.string().regex(/^[a-zA-Z0-9][-_a-zA-Z0-9]{0,62}$/, 'must be an AKS cluster name (letters, digits, - and _, at most 63)'),
  /** the Resource Manager endpoint (sovereign clouds, the local double) */
  endpoint: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
    .default('https://management.azure.com'),
  /** omitted / 'default' = DefaultAzureCredential for https://management.azure.com/.default; a token = static bearer (local double only) */
  credential: z.union([z.literal('default'), z.strictObject({ token: z.string().min(1) })]).default('default'),
  timeoutMs: z.number().int().positive().default(15_000),
})
export type AksProfile = z.infer<typeof AksSchema>

/** A peer a NetworkPolicy may allow (AC review Infrastructure: "ingress from GC only, egress to PostgreSQL only"):
 * pods of this namespace with these labels, pods of namespaces with these labels, or a CIDR. */
const PeerSchema = z
  .strictObject({
    podLabels: z.record(z.string(), z.string()).optional(),
    namespaceLabels: z.record(z.string(), z.string()).optional(),
    cidr: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 CIDR like 10.0.0.0/8')
      .optional(),
  })
  .refine((p) => p.podLabels || p.namespaceLabels || p.cidr, 'name podLabels, namespaceLabels or cidr')
const NetworkPolicyRulesSchema = z.strictObject({
  /** the only sources ingress may come from; [] = no ingress at all */
  ingressFrom: z.array(PeerSchema),
  /** the only destinations egress may go to */
  egressTo: z.array(PeerSchema),
})
const quantity = z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'must be a Kubernetes quantity like 500m or 1Gi')
const resourceFloor = z.strictObject({ cpu: quantity, memory: quantity })
const metricType = z.enum(['counter', 'gauge', 'histogram', 'summary'])
/** Week 4 W4-001: the core throughput / error / duration signals of one service, and the type of each metric. */
const ServiceMetricsSchema = z.strictObject({
  /** metric family → type the exposition must declare (TYPE line) */
  types: z.record(z.string(), metricType),
  throughput: z.string().min(1),
  errors: z.string().min(1),
  duration: z.string().min(1),
})
export const ReadinessSchema = z.strictObject({
  healthPath: z.string().default('/health'),
  readyPath: z.string().default('/ready'),
  metricsPath: z.string().default('/metrics'),
  /** metric names the API's /metrics must expose (ADR-0011 style) */
  requiredMetrics: z.array(z.string()).default([]),
  /** the consumer's metrics port (dlq_backlog is read there through a port-forward) */
  consumerMetricsPort: z.number().int().positive().optional(),
  dlqMetric: z.string().default('dlq_backlog'),
  dlqBacklogMax: z.number().int().nonnegative().default(0),
  /** extra regexes (besides emails, card numbers and secrets) that must not appear in logs */
  piiPatterns: z.array(z.string()).default([]),
  logTailLines: z.number().int().positive().default(400),
  requireNetworkPolicy: z.boolean().default(true),
  /** Phase 7 §1: the dependencies each /health must report, every one ok (the consumer's is read on consumerMetricsPort) */
  dependencies: z
    .strictObject({
      api: z.array(z.string().min(1)).min(1),
      consumer: z.array(z.string().min(1)).optional(),
      /** the name under which /health reports the database (the ready gate reads it) */
      database: z.string().min(1).default('db'),
    })
    .optional(),
  /** AC review Phase 1–2 / ADR-0012: the workload floor of the API and the consumer */
  workload: z
    .strictObject({
      requests: resourceFloor,
      limits: resourceFloor,
      /** the graceful-shutdown drain (AC Phase 2: 30 s); terminationGracePeriodSeconds must be at least this */
      drainSeconds: z.number().int().positive().default(30),
      networkPolicy: z.strictObject({ api: NetworkPolicyRulesSchema, consumer: NetworkPolicyRulesSchema }).optional(),
    })
    .optional(),
  /** W4-001 signals and metric types; the consumer's is read on consumerMetricsPort */
  metrics: z.strictObject({ api: ServiceMetricsSchema, consumer: ServiceMetricsSchema.optional() }).optional(),
  /** Phase 7 §3: the DLQ tool's read-only commands (list, report), run in the consumer pod; each must exit 0 */
  dlqTool: z.strictObject({ commands: z.array(argv).min(1) }).optional(),
  /** Phase 7 §4: the event ledger, read with catalog queries through `command` in the database pod ({sql} is the query) */
  eventLedger: z
    .strictObject({
      command: argv.refine((a) => a.some((x) => x.includes('{sql}')), 'must contain a {sql} placeholder'),
      /** schema-qualified tables, e.g. identity.event_ledger */
      tables: z.array(z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'must be schema.table')).min(1),
      /** the CHECK constraint on processing_result, and the values it must admit */
      checkConstraint: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case constraint name')
        .default('event_ledger_result_check'),
      allowedResults: z
        .array(z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -'))
        .default(['success', 'failure', 'skipped']),
      /** index names that must exist, schema-qualified */
      indexes: z.array(z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'must be schema.index')).default([]),
    })
    .optional(),
})

export const TargetProfileSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  /** who owns a retry; written into retry metadata of every non-GO summary */
  owner: z.string().min(1),
  retryAfterHours: z.number().positive().default(24),
  kube: z.strictObject({
    /** kubeconfig file; empty = KUBECONFIG, ~/.kube/config, then in-cluster ServiceAccount */
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    namespace: z.string().min(1),
    requestTimeoutMs: z.number().int().positive().default(15_000),
    execTimeoutMs: z.number().int().positive().default(60_000),
    /** pods whose logs are attached on failure (chainsaw's catch) */
    diagnosticsTailLines: z.number().int().positive().default(400),
    /** F3-4 Task 1: `kubectl get pods -A | grep -Ei PATTERN` — the related pods in every namespace */
    relatedPodsPattern: z.string().min(1).default('txlookup|tx-lookup|consumer|langfuse'),
    /** precheck's "not in crashloop": a container restarted more often than this is unhealthy too */
    maxRestarts: z.number().int().nonnegative().default(5),
  }),
  api: z.strictObject({
    deployment: z.string().min(1),
    container: z.string().min(1),
    service: z.string().min(1),
    port: z.number().int().positive(),
    /** port-forward from the runner (jumpbox/CI) or direct URL (in-cluster Job) */
    access: z.enum(['port-forward', 'direct']).default('port-forward'),
    baseUrl: z.string().url().optional(),
    txPath: z.string().includes('{tx_id}').default('/admin/tx/{tx_id}'),
    missingTxIdPrefix: z.string().min(1).default('tx-missing-'),
    /** F3-4 Task 3 step 1: the tx id the 404 smoke asks for (it must not exist) */
    missingTxId: z.string().min(1).default('missing-tx-id'),
    timeoutMs: z.number().int().positive().default(10_000),
    /** removed before the canonical hash (DESIGN: event_time, data_lag_sec) */
    volatileFields: z.array(z.string()).default(['event_time', 'data_lag_sec']),
    bodyExcerptBytes: z.number().int().positive().default(2048),
  }),
  consumer: z.strictObject({
    deployment: z.string().min(1),
    container: z.string().min(1),
    /** repository manifests tried when the live deployment is missing (plan Task 2 step 1, in order) */
    manifests: z.array(z.string()).default([]),
    /** image repository the consumer tag is pinned under (the API's tag) */
    imageRepository: z.string().min(1),
    rolloutTimeoutSeconds: z.number().int().positive().default(180),
    /** omitted = no registry check (recorded in the evidence as skipped) */
    registry: RegistrySchema.optional(),
    bootstrap: z
      .strictObject({
        envFromSecret: z.string().min(1),
        serviceName: z.string().min(1),
        command: argv,
      })
      .optional(),
    dbProbe: probe,
    eventhubsProbe: probe,
  }),
  /** omitted = no AKS provisioningState check in precheck (recorded in the evidence as skipped) */
  aks: AksSchema.optional(),
  eventhubs: z.strictObject({ host: z.string().min(1), port: z.number().int().positive().default(9093) }),
  database: z.strictObject({
    deployment: z.string().min(1),
    container: z.string().min(1),
    /** argv run in the DB pod; its first non-empty stdout line is the known tx id */
    knownTxCommand: argv,
  }),
  monitoring: z.strictObject({
    source: z.enum(['azure-monitor', 'prometheus']),
    windowMinutes: z.number().int().positive().default(30),
    freshnessSloSeconds: z.number().positive().default(5),
    timeoutMs: z.number().int().positive().default(30_000),
    azureMonitor: z
      .strictObject({
        workspaceId: z.string().min(1),
        /** e.g. https://api.loganalytics.io/v1 (used verbatim) */
        endpoint: z.string().url().optional(),
        /** 'default' = DefaultAzureCredential; a token = static bearer (local double only) */
        credential: z.union([z.literal('default'), z.strictObject({ token: z.string().min(1) })]).default('default'),
        lagQuery: z.string().min(1),
        freshnessQuery: z.string().min(1),
      })
      .optional(),
    prometheus: z
      .strictObject({
        url: z.string().url(),
        bearerToken: z.string().optional(),
        stepSeconds: z.number().int().positive().default(60),
        lagQuery: z.string().min(1),
        freshnessQuery: z.string().min(1),
      })
      .optional(),
  }),
  rehearsal: z
    .strictObject({
      /** UTC ISO8601 cut line; empty = the run's start, rounded to the second */
      cutover: z.string().optional(),
      /** the E2-3 operator guard: the rehearsal starts within ±bufferMinutes of T_cutover (the runbook fixes 5; a stricter 1–4 is allowed) */
      bufferMinutes: z.number().int().min(1).max(5).default(5),
      migrateCommand: argv,
      /** placeholders: {ledgerFile} {paymentFile} {since} {until} */
      backfillCommand: argv,
      /** placeholders: {scenario} {runId} */
      publishCommand: argv,
      /** placeholders: {maxMessages} */
      consumeCommand: argv,
      uploadDir: z.string().default('/tmp'),
      happyMaxMessages: z.number().int().positive().default(3),
      duplicateMaxMessages: z.number().int().positive().default(6),
      /** the tx id the happy scenario makes visible; placeholders {runId} */
      syncTxId: z.string().default('tx-sync-pay-{runId}'),
      syncTimeoutSeconds: z.number().int().positive().default(30),
    })
    .optional(),
  readiness: ReadinessSchema.optional(),
  /** names of env vars whose values must never reach a report (besides token/password patterns) */
  secretEnv: z.array(z.string()).default([]),
  /** decision policy: waivers (owned, ticketed, expiring) and advisory gates; see helpers/policy.ts */
  policy: PolicySchema.default({ waivers: [], advisory: [] }),
})

export type TargetProfile = z.infer<typeof TargetProfileSchema>

export class ProfileError extends Error {
  readonly file: string
  readonly problems: string[]
  constructor(file: string, problems: string[]) {
    super(`target profile ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ProfileError'
    this.file = file
    this.problems = problems
  }
}

export const DEFAULT_TARGET = 'fixtures/targets/local.yaml'

export function resolveTargetPath(explicit: string | undefined, root = process.cwd()): string {
  const p = explicit || process.env.CLOSEOUT_TARGET || DEFAULT_TARGET
  return isAbsolute(p) ? p : resolve(root, p)
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** The ${VAR} references of a parsed profile (comments never count): name, and whether it has a default. */
export function profileVariables(doc: unknown): { name: string; hasDefault: boolean }[] {
  const out = new Map<string, boolean>()
  const walk = (v: unknown) => {
    if (typeof v === 'string') for (const m of v.matchAll(VAR)) out.set(m[1], (out.get(m[1]) ?? true) && m[2] !== undefined)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(doc)
  return [...out].map(([name, hasDefault]) => ({ name, hasDefault }))
}

/** Replace ${VAR} / ${VAR:-default} in every string; collect the names of missing variables. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: string, missing: string[]): unknown {
  if (typeof value === 'string') {
    const out = value.replace(VAR, (_m, name: string, fallback: string | undefined) => {
      const v = env[name]
      if (v !== undefined && v !== '') return v
      if (fallback !== undefined) return fallback
      missing.push(`${path}: environment variable ${name} is not set (export it, or write \${${name}:-default})`)
      return ''
    })
    // a value that is one whole ${…} takes the YAML type its text would have (port: ${PORT:-9093})
    if (out !== value && /^\$\{[^}]+\}$/.test(value)) {
      if (/^-?\d+(\.\d+)?$/.test(out)) return Number(out)
      if (out === 'true' || out === 'false') return out === 'true'
      if (out === '') return undefined
    }
    return out
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`, missing))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, path ? `${path}.${k}` : k, missing)]))
  }
  return value
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path =
    issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '[') || '(root)'
  if (issue.code === 'unrecognized_keys') {
    return `${path === '(root)' ? '' : path + ': '}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; allowed keys are listed in fixtures/targets/README.md)`
  }
  return `${path}: ${issue.message}`
}

/** Load, interpolate and validate a profile. Throws ProfileError (never a stack trace for bad input). */
export function loadProfile(file: string, env: NodeJS.ProcessEnv = process.env): TargetProfile {
  if (!existsSync(file)) {
    throw new ProfileError(file, [`file not found (pass --target FILE or set CLOSEOUT_TARGET; profiles live in fixtures/targets/)`])
  }
  let raw: unknown
  try {
    raw = parseYaml(readFileSync(file, 'utf8'))
  } catch (err) {
    const msg = err instanceof YAMLParseError ? `${err.message.split('\n')[0]}` : String(err)
    throw new ProfileError(file, [`YAML syntax: ${msg}`])
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProfileError(file, ['(root): expected a mapping of keys (name, owner, kube, api, …)'])
  }
  const missing: string[] = []
  const interpolated = interpolate(raw, env, '', missing)
  const result = TargetProfileSchema.safeParse(interpolated)
  const problems = [...missing, ...(result.success ? [] : result.error.issues.map(formatIssue))]
  if (result.success && result.data.monitoring.source === 'azure-monitor' && !result.data.monitoring.azureMonitor) {
    problems.push('monitoring.azureMonitor: required when monitoring.source is "azure-monitor"')
  }
  if (result.success && result.data.monitoring.source === 'prometheus' && !result.data.monitoring.prometheus) {
    problems.push('monitoring.prometheus: required when monitoring.source is "prometheus"')
  }
  if (result.success && result.data.api.access === 'direct' && !result.data.api.baseUrl) {
    problems.push('api.baseUrl: required when api.access is "direct" (e.g. http://tx-lookup-api.txlookup.svc.cluster.local:8000)')
  }
  if (problems.length || !result.success) throw new ProfileError(file, problems)
  const profile = result.data
  // relative kubeconfig / manifest paths are relative to the repository root, wherever the profile is
  const root = fileURLToPath(new URL('..', import.meta.url))
  if (profile.kube.kubeconfig && !isAbsolute(profile.kube.kubeconfig)) profile.kube.kubeconfig = resolve(root, profile.kube.kubeconfig)
  profile.consumer.manifests = profile.consumer.manifests.map((m) => (isAbsolute(m) ? m : resolve(root, m)))
  return profile
}

/** Every value in the profile that must be redacted: tokens and the values of secretEnv variables. */
export function profileSecrets(profile: TargetProfile, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = []
  const cred = profile.monitoring.azureMonitor?.credential
  if (cred && cred !== 'default') out.push(cred.token)
  if (profile.monitoring.prometheus?.bearerToken) out.push(profile.monitoring.prometheus.bearerToken)
  const reg = profile.consumer.registry?.credential
  if (reg && reg !== 'default') out.push(reg.token)
  const aks = profile.aks?.credential
  if (aks && aks !== 'default') out.push(aks.token)
  for (const name of profile.secretEnv) {
    const v = env[name]
    if (v) out.push(v)
  }
  return out.filter((s) => s.length >= 4)
}

/** Substitute {placeholders} in each argv element (no shell: values never need quoting). */
export function fillCommand(command: readonly string[], values: Record<string, string>): string[] {
  return command.map((part) => part.replace(/\{([A-Za-z]+)\}/g, (m, key: string) => (key in values ? values[key] : m)))
}
