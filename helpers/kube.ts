// kube: the Kubernetes side of the harness (barrel; the pieces live in helpers/kube/ by concern).
// Results are values, every call has a deadline, every failure to ask the API server is an
// AccessError (helpers/access.ts) naming the server, what came back and what to do.
// Wire details it relies on: ../shared/facts/k8s-wire-protocol.md (§1 exec v5, §3 port-forward, §5 watch).

export { Kube } from './kube/client.ts'
export { credentialPluginCommand, loadKubeConfig } from './kube/config.ts'
export {
  classifyKubeError,
  KubeAccessError,
  type KubeAccessKind,
  KubeConfigError,
  type KubeErrorClass,
  type KubeErrorContext,
  type KubeErrorKind,
  KubeExecError,
  KubeTimeoutError,
  toKubeAccessError,
} from './kube/errors.ts'
export { type ExecOptions, type ExecResult, exitCodeFromStatus, parseStatusFrame } from './kube/exec.ts'
export { type KubeCallSpec, kubectlExecLine, kubectlLine, shellLine, shellQuote } from './kube/kubectl-line.ts'
export { KubeMutations } from './kube/mutations.ts'
export type { ForwardTarget, PortForwardHandle } from './kube/port-forward.ts'
export { type ProbeResult, probeApiServer } from './kube/probe.ts'
export { isPodReady, KubeReads, selectorString } from './kube/reads.ts'
export { deploymentRolloutStatus, type RolloutResult } from './kube/rollout.ts'
export { KubeApiError } from './kube/transport.ts'
