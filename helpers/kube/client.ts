// Kube: KubeReads plus, for compatibility, the mutating methods the harness called before
// KubeMutations existed (deprecated: use kube.mutations(), and hand read-only gates kube.readOnly()).
import type * as k8s from '@kubernetes/client-node'
import { KubeMutations } from './mutations.ts'
import { KubeReads } from './reads.ts'

export class Kube extends KubeReads {
  /** the cluster-changing calls, over the same transport, caches and observer as this view */
  mutations(): KubeMutations {
    return new KubeMutations(this)
  }

  /** @deprecated use kube.mutations().patchDeployment */
  patchDeployment(name: string, patch: object): Promise<k8s.V1Deployment> {
    return this.mutations().patchDeployment(name, patch)
  }

  /** @deprecated use kube.mutations().setContainerImage */
  setContainerImage(deployment: string, container: string, image: string): Promise<k8s.V1Deployment> {
    return this.mutations().setContainerImage(deployment, container, image)
  }

  /** @deprecated use kube.mutations().createDeployment */
  createDeployment(doc: k8s.V1Deployment): Promise<k8s.V1Deployment> {
    return this.mutations().createDeployment(doc)
  }
}
