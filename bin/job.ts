// ./closeout job render --target FILE [--target FILE]... --tag TAG [--tag TAG2] [--image IMG] [--namespace NS] [--pvc NAME] [--allow-mutations]
//                       [--workload-identity CLIENT_ID] [--env NAME[=VALUE]]... [--env-from-secret SECRET]
// Prints a ConfigMap (the target profile), with --allow-mutations the mutations Role + RoleBinding, with
// --workload-identity the ServiceAccount annotated for Microsoft Entra Workload ID, and a
// Job (deploy/k8s/job.yaml filled in) for an in-cluster run: `./closeout job render … | kubectl apply -f -`.
// Several --target: one ConfigMap + Job per target (renderJobs), each writing its own reports directory.
// The profile is interpolated inside the pod: each ${VAR} it needs without a default is passed in the
// Job's env from the rendering shell (secret-looking ones only through --env-from-secret, never inlined).
// Exit 3 (usage) when the target file is missing, no --tag is given, an option is unknown, or a
// variable the profile needs is not set.
import { existsSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml'
import { profileVariables } from '../helpers/profile.ts'
import { defineCommand, listSubcommands, runMain, UsageError } from './_cli.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

export class JobUsageError extends Error {}

export interface RenderJobOptions {
  target: string
  tags: string[]
  image?: string
  namespace?: string
  pvc?: string
  allowMutations?: boolean
  /** append to an earlier run (pnpm test --run-id): the CI templates' run-id input */
  runId?: string
  /** client id of the managed identity whose federated credential names system:serviceaccount:<ns>:closeout-runner */
  workloadIdentityClientId?: string
  /** variables with a default that the Job should get too: NAME (value from env) or NAME=VALUE */
  passEnv?: string[]
  /** a Secret whose keys become the pod's environment (envFrom): where secret variables come from */
  envFromSecret?: string
  /** the rendering shell's environment (default process.env) */
  env?: NodeJS.ProcessEnv
  now?: Date
  /** this Job's place in a multi-target render (renderJobs): its name gets `-<n>-<profile>`, its reports
   * their own directory on the volume (/app/reports/<job name>), and the Job the label closeout/fleet */
  fleet?: { index: number; id: string }
}

const SECRET_LOOKING = /SECRET|TOKEN|PASSWORD|PASSWD|CONNECTION_STRING|(^|_)KEY$|DATABASE_URL/i

/** The Job's env for the profile's ${VAR}s: required ones from the shell, secrets never inline. */
function profileEnv(o: RenderJobOptions, profileText: string, already: Set<string>): { name: string; value: string }[] {
  let doc: unknown
  try {
    doc = parseYaml(profileText)
  } catch (e) {
    throw new JobUsageError(`target profile ${o.target} is not valid YAML: ${(e as Error).message.split('\n')[0]}`)
  }
  const env = o.env ?? process.env
  const secretEnv = new Set(((doc as { secretEnv?: unknown })?.secretEnv as string[] | undefined) ?? [])
  const isSecret = (n: string) => secretEnv.has(n) || SECRET_LOOKING.test(n)
  const out = new Map<string, string>()
  const missing: string[] = []
  for (const v of profileVariables(doc)) {
    if (v.hasDefault || already.has(v.name)) continue
    if (isSecret(v.name)) {
      if (!o.envFromSecret) missing.push(`${v.name} (a secret: put it in a Secret and pass --env-from-secret NAME)`)
      continue
    }
    const value = env[v.name]
    if (value) out.set(v.name, value)
    else if (!o.envFromSecret) missing.push(`${v.name} (export it before rendering, or pass --env ${v.name}=VALUE)`)
  }
  for (const spec of o.passEnv ?? []) {
    const [name, ...rest] = spec.split('=')
    const value = rest.length ? rest.join('=') : env[name]
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new JobUsageError(`--env "${spec}": use NAME or NAME=VALUE`)
    if (isSecret(name))
      throw new JobUsageError(
        `--env ${name}: a secret is never written into the manifest; put it in a Secret and pass --env-from-secret NAME`,
      )
    if (!value) throw new JobUsageError(`--env ${name}: not set in this shell; export it or write --env ${name}=VALUE`)
    out.set(name, value)
  }
  if (missing.length) throw new JobUsageError(`target profile ${o.target} needs ${missing.join('; ')}`)
  return [...out].map(([name, value]) => ({ name, value }))
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are open YAML, walked by key path
type Obj = Record<string, any>

/** `<base>-<n>-<profile>` within the 63 characters of a Job name; the index keeps two Jobs apart when the
 * profile part is cut or a profile is listed twice. */
export function fleetJobName(base: string, index: number, profileFile: string): string {
  const slug = profileFile
    .replace(/\.ya?ml$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
  return `${base}-${index + 1}-${slug}`.slice(0, 63).replace(/-+$/, '')
}

/** One Job of a fleet: its own reports directory on the shared volume (its bundle, summary and
 * reports/latest never meet another target's) and the label that selects the fleet's Jobs. */
function placeInFleet(job: Obj, c: Obj, name: string, fleetId: string): void {
  const env = (c.env ?? []) as { name: string; value: string }[]
  c.env = [...env.filter((e) => e.name !== 'CLOSEOUT_REPORTS_DIR'), { name: 'CLOSEOUT_REPORTS_DIR', value: `/app/reports/${name}` }]
  for (const m of [job.metadata, job.spec.template.metadata]) m.labels = { ...m.labels, 'closeout/fleet': fleetId }
}

/** Several targets: one ConfigMap + Job per target (distinct names, one reports directory each), the
 * Role / ServiceAccount once. `--run-id` is refused: each Job is a new run of its own target. */
export function renderJobs(o: Omit<RenderJobOptions, 'target' | 'fleet'> & { targets: string[] }): string {
  if (o.targets.length === 1) return renderJob({ ...o, target: o.targets[0] })
  if (o.runId !== undefined) throw new JobUsageError('--run-id is for one target: each Job of a multi-target render is a new run')
  const now = o.now ?? new Date()
  const id = `closeout-${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`
  const seen = new Set<string>()
  const out: string[] = []
  o.targets.forEach((target, index) => {
    // the shared documents (ServiceAccount, mutations Role) come once, before the first Job that needs them
    for (const doc of renderJob({ ...o, target, now, fleet: { index, id } }).split('---\n')) {
      const m = parseYaml(doc) as Obj
      const key = m.kind === 'Job' || m.kind === 'ConfigMap' ? doc : `${m.kind}/${m.metadata?.name}`
      if (!seen.has(key)) out.push(doc)
      seen.add(key)
    }
  })
  return out.join('---\n')
}

export function renderJob(o: RenderJobOptions): string {
  if (!o.tags.length) throw new JobUsageError('at least one --tag is required (e.g. --tag closeout)')
  const target = resolve(o.target)
  if (!existsSync(target)) throw new JobUsageError(`target profile ${o.target} does not exist (profiles live in fixtures/targets/)`)
  const ns = o.namespace ?? 'txlookup'
  const stamp = (o.now ?? new Date()).toISOString().replace(/[-:T]/g, '').slice(0, 14)
  const base = `closeout-${o.tags[0].toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${stamp}`.slice(0, 63)
  const profileName = basename(target)
  const name = o.fleet ? fleetJobName(base, o.fleet.index, profileName) : base
  const job = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'k8s', 'job.yaml'), 'utf8'))[0].toJS() as Obj
  job.metadata.name = name
  job.metadata.namespace = ns
  const pod = job.spec.template.spec
  const c = pod.containers[0]
  c.image = o.image ?? 'closeout:latest'
  const given = (c.env ?? []) as { name: string; value: string }[]
  const fromProfile = profileEnv(o, readFileSync(target, 'utf8'), new Set(given.map((e) => e.name)))
  c.env = [...given.filter((e) => !fromProfile.some((p) => p.name === e.name)), ...fromProfile]
  if (o.envFromSecret) c.envFrom = [{ secretRef: { name: o.envFromSecret } }]
  if (o.fleet) placeInFleet(job, c, name, o.fleet.id)
  if (o.runId !== undefined && !/^[\w.-]+$/.test(o.runId))
    throw new JobUsageError(`--run-id "${o.runId}": use letters, digits, "_", "-" or "." only`)
  c.args = [
    ...o.tags.flatMap((t) => ['--tag', t]),
    '--target',
    `/app/fixtures/targets/in-cluster/${profileName}`,
    ...(o.runId ? ['--run-id', o.runId] : []),
    ...(o.allowMutations ? ['--allow-mutations'] : []),
  ]
  for (const v of pod.volumes as Obj[]) {
    if (v.name === 'target') v.configMap.name = `${name}-target`
    if (v.name === 'reports' && o.pvc) v.persistentVolumeClaim.claimName = o.pvc
  }
  const docs: Obj[] = []
  if (o.workloadIdentityClientId) {
    // Azure Monitor (DefaultAzureCredential) and the registry check sign in from the pod: the
    // workload identity webhook injects AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE
    // into pods labelled azure.workload.identity/use whose ServiceAccount names the identity
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(o.workloadIdentityClientId)) {
      throw new JobUsageError(
        `--workload-identity "${o.workloadIdentityClientId}" is not a client id (a GUID: az identity show -g RG -n NAME --query clientId -o tsv)`,
      )
    }
    const sa = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'k8s', 'serviceaccount.yaml'), 'utf8'))[0].toJS() as Obj
    sa.metadata.namespace = ns
    sa.metadata.annotations = { ...sa.metadata.annotations, 'azure.workload.identity/client-id': o.workloadIdentityClientId }
    docs.push(sa)
    const meta = job.spec.template.metadata
    meta.labels = { ...meta.labels, 'azure.workload.identity/use': 'true' }
  }
  if (o.allowMutations) {
    // the separate mutations Role is bound only for runs that may set the consumer image / bootstrap it
    for (const d of parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'k8s', 'mutations', 'role-mutations.yaml'), 'utf8'))) {
      const m = d.toJS() as Obj | null
      if (!m) continue
      m.metadata.namespace = ns
      for (const sub of (m.subjects ?? []) as Obj[]) sub.namespace = ns
      docs.push(m)
    }
  }
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${name}-target`, namespace: ns, labels: { 'app.kubernetes.io/name': 'closeout' } },
    data: { [profileName]: readFileSync(target, 'utf8') },
  }
  return [
    stringify(cm, { blockQuote: 'literal', lineWidth: 0 }),
    ...docs.map((d) => stringify(d, { lineWidth: 0 })),
    stringify(job, { lineWidth: 0 }),
  ].join('---\n')
}

const JOB_RENDER_USAGE = `usage: ./closeout job render --target FILE --tag TAG [--tag TAG]... [--image IMG] [--namespace NS] [--pvc NAME]
                           [--run-id ID] [--allow-mutations] [--workload-identity CLIENT_ID] [--env NAME[=VALUE]]... [--env-from-secret SECRET]

  --target FILE                the target profile, shipped to the pod in a ConfigMap; repeat it for one Job per
                               target (names <job>-<n>-<profile>, each Job's reports in /app/reports/<its name>,
                               all labelled closeout/fleet=<id>)
  --tag TAG                    the gates to run (repeat for a union)
  --image IMG                  the closeout image (default closeout:latest)
  --namespace NS               where the Job runs (default txlookup)
  --pvc NAME                   a PersistentVolumeClaim for reports/ (default: the template's)
  --run-id ID                  append to an earlier run (pnpm test --run-id; one target only)
  --allow-mutations            also bind the mutations Role and pass --allow-mutations
  --workload-identity ID       the managed identity's client id (Microsoft Entra Workload ID)
  --env NAME[=VALUE]           pass a variable with a default too (value from this shell, or VALUE)
  --env-from-secret SECRET     the Secret whose keys become the pod's environment (secret variables)
exit 0 printed, 3 usage (a missing target file or --tag, an unset variable the profile needs)`

const renderCommand = defineCommand({
  name: 'job render',
  summary: 'print the ConfigMap, Role/ServiceAccount when asked, and the Job for an in-cluster run',
  usage: JOB_RENDER_USAGE,
  options: {
    target: { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true },
    image: { type: 'string' },
    namespace: { type: 'string' },
    pvc: { type: 'string' },
    'allow-mutations': { type: 'boolean' },
    'run-id': { type: 'string' },
    'workload-identity': { type: 'string' },
    env: { type: 'string', multiple: true },
    'env-from-secret': { type: 'string' },
  },
  run: ({ values: v }) => {
    if (!v.target?.length) throw new UsageError('--target FILE is required')
    try {
      process.stdout.write(
        renderJobs({
          targets: v.target,
          tags: v.tag ?? [],
          image: v.image,
          namespace: v.namespace,
          pvc: v.pvc,
          allowMutations: v['allow-mutations'],
          runId: v['run-id'],
          workloadIdentityClientId: v['workload-identity'],
          passEnv: v.env,
          envFromSecret: v['env-from-secret'],
        }),
      )
    } catch (e) {
      // what renderJob refuses is a usage error of this command: print it with the usage
      if (e instanceof JobUsageError) throw new UsageError(e.message)
      throw e
    }
    return 0
  },
})

export const jobCommand = defineCommand({
  name: 'job',
  summary: 'job render --target FILE --tag TAG …: a Kubernetes Job manifest for an in-cluster run',
  usage: `usage: ./closeout job render --target FILE --tag TAG [OPTIONS]   (./closeout job render --help)

${listSubcommands({ render: renderCommand })}`,
  subcommands: { render: renderCommand },
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runMain(jobCommand)
