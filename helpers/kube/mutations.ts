// KubeMutations: every call that changes the cluster, apart from KubeReads, so a harness can hand a
// gate a client that has no mutating method at all and give this object only to a gate that may
// mutate (declared `mutates`, run with --allow-mutations). Each change forgets the exec pod cached
// for the deployment it touched.
import type * as k8s from '@kubernetes/client-node'
import { kubectlRestartLine, kubectlScaleLine } from './kubectl-line.ts'
import type { KubeReads } from './reads.ts'

const SMP = 'application/strategic-merge-patch+json'

export class KubeMutations {
  private readonly k: KubeReads

  constructor(reads: KubeReads) {
    this.k = reads
  }

  private get deployments(): string {
    return `/apis/apps/v1/namespaces/${encodeURIComponent(this.k.namespace)}/deployments`
  }

  /** A strategic merge patch, as `kubectl patch deploy x -p ...` / `kubectl set image` send
   * (containers merge by name, so a patch naming one container leaves the rest). */
  patchDeployment(name: string, patch: object): Promise<k8s.V1Deployment> {
    this.k.forgetExecPod(name)
    const req = {
      method: 'PATCH' as const,
      path: `${this.deployments}/${encodeURIComponent(name)}`,
      query: { fieldManager: 'closeout' },
      body: patch,
      contentType: SMP,
      expect: 'object' as const,
      type: 'V1Deployment',
      what: `patch deployment ${name} in ${this.k.namespace}`,
      access: { verb: 'patch', resource: 'deployments' },
    }
    return this.k.request(req, { verb: 'patch', resource: 'deployments', name, patch: { type: 'strategic', body: patch } })
  }

  /** `kubectl set image deployment/x c=img` (the strategic patch it sends) */
  setContainerImage(deployment: string, container: string, image: string): Promise<k8s.V1Deployment> {
    return this.patchDeployment(deployment, { spec: { template: { spec: { containers: [{ name: container, image }] } } } })
  }

  createDeployment(doc: k8s.V1Deployment): Promise<k8s.V1Deployment> {
    const name = doc.metadata?.name ?? '?'
    this.k.forgetExecPod(name)
    const req = {
      method: 'POST' as const,
      path: this.deployments,
      query: { fieldManager: 'closeout' },
      body: doc,
      expect: 'object' as const,
      type: 'V1Deployment',
      what: `create deployment ${name} in ${this.k.namespace}`,
      access: { verb: 'create', resource: 'deployments' },
    }
    return this.k.request(req, { verb: 'create', resource: 'deployments', body: doc })
  }

  async deleteDeployment(name: string): Promise<void> {
    this.k.forgetExecPod(name)
    const req = {
      method: 'DELETE' as const,
      path: `${this.deployments}/${encodeURIComponent(name)}`,
      expect: 'json' as const,
      what: `delete deployment ${name} in ${this.k.namespace}`,
      access: { verb: 'delete', resource: 'deployments' },
    }
    await this.k.request(req, { verb: 'delete', resource: 'deployments', name })
  }

  /** `kubectl scale deploy/x --replicas=N` (merge patch on the scale subresource) */
  async scaleDeployment(name: string, replicas: number): Promise<void> {
    this.k.forgetExecPod(name)
    const req = {
      method: 'PATCH' as const,
      path: `${this.deployments}/${encodeURIComponent(name)}/scale`,
      body: { spec: { replicas } },
      contentType: 'application/merge-patch+json',
      expect: 'object' as const,
      what: `scale deployment ${name} in ${this.k.namespace}`,
      access: { verb: 'patch', resource: 'deployments/scale' },
    }
    await this.k.request(req, {
      verb: 'patch',
      resource: 'deployments',
      name,
      command: kubectlScaleLine({ namespace: this.k.namespace, deployment: name, replicas }),
    })
  }

  /** `kubectl rollout restart deploy/x`: the restartedAt annotation patch kubectl sends */
  restartDeployment(name: string, at = new Date()): Promise<k8s.V1Deployment> {
    const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at.toISOString() } } } } }
    this.k.forgetExecPod(name)
    const req = {
      method: 'PATCH' as const,
      path: `${this.deployments}/${encodeURIComponent(name)}`,
      query: { fieldManager: 'kubectl-rollout' },
      body: patch,
      contentType: SMP,
      expect: 'object' as const,
      type: 'V1Deployment',
      what: `rollout restart deployment ${name} in ${this.k.namespace}`,
      access: { verb: 'patch', resource: 'deployments' },
    }
    return this.k.request(req, {
      verb: 'patch',
      resource: 'deployments',
      name,
      command: kubectlRestartLine({ namespace: this.k.namespace, deployment: name }),
    })
  }
}
