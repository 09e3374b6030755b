// Compact, reviewable views of Kubernetes objects for evidence (what `kubectl get -o wide` shows).
import type { V1Deployment, V1Pod } from '@kubernetes/client-node'

export function containerImage(d: V1Deployment, container?: string): string | undefined {
  const cs = d.spec?.template?.spec?.containers ?? []
  return (container ? cs.find((c) => c.name === container) : cs[0])?.image
}

/** The tag of an image reference (registry/repo:tag[@digest]); undefined when untagged. */
export function imageTag(image: string | undefined): string | undefined {
  if (!image) return undefined
  const noDigest = image.split('@')[0]
  const lastSlash = noDigest.lastIndexOf('/')
  const colon = noDigest.lastIndexOf(':')
  return colon > lastSlash ? noDigest.slice(colon + 1) : undefined
}

export function deploymentSummary(d: V1Deployment): Record<string, unknown> {
  return {
    name: d.metadata?.name,
    generation: d.metadata?.generation,
    revision: d.metadata?.annotations?.['deployment.kubernetes.io/revision'],
    images: (d.spec?.template?.spec?.containers ?? []).map((c) => `${c.name}=${c.image}`),
    replicas: d.spec?.replicas,
    status: {
      observedGeneration: d.status?.observedGeneration,
      replicas: d.status?.replicas,
      updatedReplicas: d.status?.updatedReplicas,
      readyReplicas: d.status?.readyReplicas,
      availableReplicas: d.status?.availableReplicas,
      conditions: (d.status?.conditions ?? []).map((c) => `${c.type}=${c.status} (${c.reason ?? ''})`),
    },
  }
}

export function crashLooping(p: V1Pod): string[] {
  return (p.status?.containerStatuses ?? []).filter((c) => c.state?.waiting?.reason === 'CrashLoopBackOff').map((c) => c.name)
}

/** waiting / terminated reasons that mean a container is not healthy (kubectl's STATUS column) */
const UNHEALTHY_REASONS = new Set([
  'CrashLoopBackOff',
  'Error',
  'ImagePullBackOff',
  'ErrImagePull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'RunContainerError',
  'OOMKilled',
])

/** Every unhealthy container of a pod, each as `name: reason` (CrashLoopBackOff, Error,
 * ImagePullBackOff / ErrImagePull, …, or `restarts N > limit` when `maxRestarts` is given). */
export function unhealthyContainers(p: V1Pod, opts: { maxRestarts?: number } = {}): string[] {
  const out: string[] = []
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const reason = c.state?.waiting?.reason ?? c.state?.terminated?.reason
    if (reason && UNHEALTHY_REASONS.has(reason)) out.push(`${c.name}: ${reason}`)
    else if (opts.maxRestarts !== undefined && (c.restartCount ?? 0) > opts.maxRestarts)
      out.push(`${c.name}: restarts ${c.restartCount} > ${opts.maxRestarts}`)
  }
  return out
}

export function podSummary(p: V1Pod): Record<string, unknown> {
  const cs = p.status?.containerStatuses ?? []
  return {
    name: p.metadata?.name,
    phase: p.status?.phase,
    ready: `${cs.filter((c) => c.ready).length}/${cs.length || p.spec?.containers?.length || 0}`,
    restarts: cs.reduce((n, c) => n + (c.restartCount ?? 0), 0),
    waiting: cs.map((c) => c.state?.waiting?.reason).filter(Boolean),
    images: cs.map((c) => c.image),
  }
}
