// KubeConfig loading the way kubectl resolves it, never client-node's silent http://localhost:8080
// fallback; and the exec credential plugin's failures named with the plugin command.

import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import * as k8s from '@kubernetes/client-node'
import { cleanText, KubeAccessError, KubeConfigError } from './errors.ts'

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
const CREDENTIALS_HINT = 'run az aks get-credentials + kubelogin convert-kubeconfig, or set kube.kubeconfig in the target profile'

function readInto(target: k8s.KubeConfig, f: string): void {
  try {
    target.loadFromFile(f)
  } catch (e) {
    throw new KubeConfigError(
      `kubeconfig ${f} cannot be read: ${(e as Error).message.split('\n')[0]}`,
      f,
      'fix the YAML of that file, or point kube.kubeconfig / KUBECONFIG at a valid one',
    )
  }
}

/** KUBECONFIG set means only those files (missing ones skipped, the rest merged), never ~/.kube/config */
function loadFromEnvList(kc: k8s.KubeConfig, envFiles: string[], inCluster: boolean): string {
  const home = join(homedir(), '.kube', 'config')
  const present = envFiles.filter((f) => existsSync(f))
  if (!present.length) {
    throw new KubeConfigError(
      `no kubeconfig found; tried KUBECONFIG=${envFiles.join(delimiter)} (missing)${inCluster ? '' : `, in-cluster ServiceAccount ${SA_DIR} (absent)`}. Fix KUBECONFIG, or unset it to use ${home}; ${CREDENTIALS_HINT}`,
      `KUBECONFIG=${envFiles.join(delimiter)}`,
      `fix KUBECONFIG or unset it; ${CREDENTIALS_HINT}`,
    )
  }
  readInto(kc, present[0])
  for (const f of present.slice(1)) {
    const more = new k8s.KubeConfig()
    readInto(more, f)
    kc.mergeConfig(more, true)
  }
  return `KUBECONFIG=${present.join(delimiter)}`
}

/** the file (or files) read, or undefined when the in-cluster ServiceAccount was loaded */
function loadSource(kc: k8s.KubeConfig, kubeconfig: string | undefined): string | undefined {
  if (kubeconfig) {
    if (!existsSync(kubeconfig))
      throw new KubeConfigError(
        `kubeconfig ${kubeconfig} does not exist (set kube.kubeconfig in the target profile, or KUBECONFIG)`,
        kubeconfig,
        'set kube.kubeconfig in the target profile, or KUBECONFIG, to an existing file',
      )
    readInto(kc, kubeconfig)
    return kubeconfig
  }
  const envFiles = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean)
  const home = join(homedir(), '.kube', 'config')
  const inCluster = existsSync(join(SA_DIR, 'token')) && Boolean(process.env.KUBERNETES_SERVICE_HOST)
  if (envFiles.length) return loadFromEnvList(kc, envFiles, inCluster)
  if (existsSync(home)) {
    readInto(kc, home)
    return home
  }
  if (inCluster) {
    // in-cluster Job: the ServiceAccount is the identity; a profile's context name does not apply
    kc.loadFromCluster()
    return undefined
  }
  throw new KubeConfigError(
    `no kubeconfig found; tried KUBECONFIG (unset), ${home} (missing), in-cluster ServiceAccount ${SA_DIR} (absent). Run az aks get-credentials + kubelogin convert-kubeconfig, or set kube.kubeconfig in the target profile`,
    home,
    CREDENTIALS_HINT,
  )
}

function selectContext(kc: k8s.KubeConfig, context: string | undefined, source: string): void {
  const available = kc.getContexts().map((c) => c.name)
  if (context) {
    if (!kc.getContextObject(context))
      throw new KubeConfigError(
        `context "${context}" is not in the kubeconfig; available: ${available.join(', ') || 'none'} (read from ${source}); set kube.context in the target profile to one of them`,
        source,
        'set kube.context in the target profile to one of the available contexts',
      )
    kc.setCurrentContext(context)
  } else if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) {
    throw new KubeConfigError(
      `the kubeconfig (${source}) has no usable current-context; set kube.context in the target profile or run kubectl config use-context (available: ${available.join(', ') || 'none'})`,
      source,
      'set kube.context in the target profile or run kubectl config use-context',
    )
  }
  const cluster = kc.getCurrentCluster()
  if (!cluster?.server)
    throw new KubeConfigError(
      `context "${kc.getCurrentContext()}" in ${source} names no cluster with a server address`,
      source,
      'fix the cluster entry of that context in the kubeconfig',
    )
}

/** KubeConfig from an explicit file, KUBECONFIG (its existing files, merged like kubectl), ~/.kube/config
 * or the in-cluster ServiceAccount — never client-node's silent http://localhost:8080 fallback.
 * Exec credential plugins (kubelogin) stay in the config; they run on the first call. */
export function loadKubeConfig(opts: { kubeconfig?: string; context?: string } = {}): k8s.KubeConfig {
  const kc = new k8s.KubeConfig()
  const source = loadSource(kc, opts.kubeconfig)
  if (source !== undefined) selectContext(kc, opts.context, source)
  return kc
}

/** the exec plugin as an operator would type it (no env values: they may hold secrets) */
export function credentialPluginCommand(kc: k8s.KubeConfig): string | undefined {
  const user = kc.getCurrentUser()
  const exec = user?.exec ?? (user?.authProvider?.config as { exec?: { command?: string; args?: string[] } } | undefined)?.exec
  if (!exec?.command) return undefined
  return [exec.command, ...(exec.args ?? [])].join(' ')
}

/** A failure while building the request's credentials (client-node runs the exec plugin there):
 * name the plugin command and what it did, never what it printed (it may be a token). */
export function describeCredentialFailure(err: unknown, kc: k8s.KubeConfig, server: string): KubeAccessError | KubeConfigError {
  const plugin = credentialPluginCommand(kc)
  const user = kc.getCurrentUser()?.name ?? '?'
  const msg = (err as Error)?.message ?? String(err)
  if (!plugin)
    return new KubeConfigError(
      `the credentials of user "${user}" in context "${kc.getCurrentContext()}" cannot be used: ${cleanText(msg, 200)}`,
      'kubeconfig',
      'fix the user entry of the kubeconfig (certificate / key files, token)',
    )
  const code = (err as { code?: string })?.code
  let what: string
  if (code === 'ENOENT') what = 'is not installed (not found on PATH)'
  else if (err instanceof SyntaxError) what = 'printed something that is not an ExecCredential JSON document'
  else if (err instanceof TypeError) what = 'printed JSON without an ExecCredential status (no token or client certificate)'
  else what = `failed: ${cleanText(msg, 200) || 'non-zero exit, nothing on stderr'}`
  const fix = `run \`${plugin}\` yourself to see why; in CI convert the kubeconfig to a non-interactive login (kubelogin convert-kubeconfig -l azurecli | workloadidentity | spn | msi) and rerun`
  return new KubeAccessError(
    {
      kind: 'unauthorized',
      fix,
      message: `the kubeconfig's exec credential plugin \`${plugin}\` (user "${user}", context "${kc.getCurrentContext()}", for API server ${server}) ${what}; ${fix}`,
    },
    server,
    err,
  )
}
