// kube: the Kubernetes side of the harness (barrel; the pieces live in helpers/kube/ by concern).
// Results are values, every call has a deadline, every failure to ask the API server is an
// AccessError (helpers/access.ts) naming the server, what came back and what to do.
// Wire details it relies on: ../shared/facts/k8s-wire-protocol.md (§1 exec v5, §3 port-forward, §5 watch).
export { loadKubeConfig, credentialPluginCommand } from './kube/config.ts'
export { KubeConfigError, KubeAccessError, KubeTimeoutError, KubeExecError, classifyKubeError, toKubeAccessError, type KubeAccessKind, type KubeErrorKind, type KubeErrorClass, type KubeErrorContext } from './kube/errors.ts'
export { KubeApiError } from './kube/transport.ts'
export { KubeReads, isPodReady, selectorString } from './kube/reads.ts'
export { Kube } from './kube/client.ts'
export { KubeMutations } from './kube/mutations.ts'
export { exitCodeFromStatus, parseStatusFrame, type ExecOptions, type ExecResult } from './kube/exec.ts'
export { deploymentRolloutStatus, type RolloutResult } from './kube/rollout.ts'
export { type ForwardTarget, type PortForwardHandle } from './kube/port-forward.ts'
export { probeApiServer, type ProbeResult } from './kube/probe.ts'
export { kubectlLine, kubectlExecLine, shellQuote, shellLine, type KubeCallSpec } from './kube/kubectl-line.ts'
