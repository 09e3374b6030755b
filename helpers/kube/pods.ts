// Pod selection helpers shared by reads and port-forward (pure).
import type * as k8s from '@kubernetes/client-node'

export function selectorString(sel: Record<string, string> | undefined): string {
  return Object.entries(sel ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

export function isPodReady(p: k8s.V1Pod): boolean {
  return (
    p.status?.phase === 'Running' &&
    Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) &&
    !p.metadata?.deletionTimestamp
  )
}

export function newestFirst(a: k8s.V1Pod, b: k8s.V1Pod): number {
  return new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime()
}
