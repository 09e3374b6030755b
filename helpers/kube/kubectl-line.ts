// The kubectl command an operator would type for the call the kube layer really made: built from
// the request (verb, resource, name, selectors, options), never typed by hand in a spec.

/** POSIX shell quoting: bare when safe, else single quotes with ' written as '\'' */
export function shellQuote(arg: string): string {
  if (arg === '') return "''"
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ')
}

/** kubectl's short names for the resources this layer reads */
const SHORT: Record<string, string> = {
  namespaces: 'namespace',
  deployments: 'deploy',
  services: 'svc',
  pods: 'pods',
  secrets: 'secrets',
  events: 'events',
  networkpolicies: 'networkpolicy',
}

export interface KubeCallSpec {
  verb: 'get' | 'list' | 'watch' | 'patch' | 'create' | 'delete' | 'logs' | 'raw'
  resource: string
  namespace?: string
  /** all namespaces (-A) */
  allNamespaces?: boolean
  name?: string
  labelSelector?: string
  fieldSelector?: string
  /** `-o` for get/list (json unless said) */
  output?: string
  /** patch: the body and its kubectl --type */
  patch?: { type: 'strategic' | 'merge' | 'json'; body: unknown }
  /** create: the manifest sent */
  body?: unknown
  /** logs: container, tail, previous, since */
  logs?: { container: string; tailLines?: number; previous?: boolean; sinceSeconds?: number }
  /** raw: the path (kubectl get --raw) */
  path?: string
  /** the kubectl command that sends exactly this request when it is not a get/patch (scale, rollout restart) */
  command?: string
}

function nsArgs(s: KubeCallSpec): string[] {
  if (s.allNamespaces) return []
  return s.namespace && s.resource !== 'namespaces' ? ['-n', s.namespace] : []
}

/** `kubectl -n txlookup get deploy txlookup-consumer -o json`, `kubectl -n ns logs pod -c c --tail=50`, … */
export function kubectlLine(s: KubeCallSpec): string {
  if (s.command) return s.command
  const kind = SHORT[s.resource] ?? s.resource
  const argv = ['kubectl', ...nsArgs(s)]
  switch (s.verb) {
    case 'raw':
      argv.push('get', '--raw', s.path ?? '/')
      break
    case 'get':
    case 'list':
    case 'watch':
      argv.push('get', kind)
      if (s.name) argv.push(s.name)
      if (s.allNamespaces) argv.push('-A')
      if (s.labelSelector) argv.push('-l', s.labelSelector)
      if (s.fieldSelector) argv.push(`--field-selector=${s.fieldSelector}`)
      if (s.verb === 'watch') argv.push('--watch')
      argv.push('-o', s.output ?? 'json')
      break
    case 'patch':
      argv.push('patch', kind, s.name ?? '?', '--type', s.patch?.type ?? 'strategic', '-p', JSON.stringify(s.patch?.body ?? {}))
      break
    case 'create':
      return `${shellLine(['echo', JSON.stringify(s.body ?? {})])} | ${shellLine([...argv, 'create', '-f', '-'])}`
    case 'delete':
      argv.push('delete', kind, s.name ?? '?')
      break
    case 'logs':
      argv.push('logs', s.name ?? '?', '-c', s.logs?.container ?? '?')
      if (s.logs?.tailLines !== undefined) argv.push(`--tail=${s.logs.tailLines}`)
      if (s.logs?.previous) argv.push('--previous')
      if (s.logs?.sinceSeconds !== undefined) argv.push(`--since=${s.logs.sinceSeconds}s`)
      break
  }
  return shellLine(argv)
}

/** `kubectl -n ns exec pod/x -c c -- python -c '…'`; `-i` when stdin is sent */
export function kubectlExecLine(o: {
  namespace: string
  pod: string
  container: string
  command: readonly string[]
  stdin?: boolean
}): string {
  return shellLine([
    'kubectl',
    '-n',
    o.namespace,
    'exec',
    ...(o.stdin ? ['-i'] : []),
    `pod/${o.pod}`,
    '-c',
    o.container,
    '--',
    ...o.command,
  ])
}

export function kubectlRolloutLine(o: { namespace: string; deployment: string; timeoutMs: number }): string {
  return shellLine([
    'kubectl',
    '-n',
    o.namespace,
    'rollout',
    'status',
    `deploy/${o.deployment}`,
    `--timeout=${Math.round(o.timeoutMs / 1000)}s`,
  ])
}

export function kubectlPortForwardLine(o: { namespace: string; pod: string; localPort: number | string; podPort: number }): string {
  return shellLine(['kubectl', '-n', o.namespace, 'port-forward', `pod/${o.pod}`, `${o.localPort}:${o.podPort}`])
}

export function kubectlScaleLine(o: { namespace: string; deployment: string; replicas: number }): string {
  return shellLine(['kubectl', '-n', o.namespace, 'scale', `deploy/${o.deployment}`, `--replicas=${o.replicas}`])
}

export function kubectlRestartLine(o: { namespace: string; deployment: string }): string {
  return shellLine(['kubectl', '-n', o.namespace, 'rollout', 'restart', `deploy/${o.deployment}`])
}
