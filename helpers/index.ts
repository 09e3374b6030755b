// The one harness entry for specs and specs/shared: gate(), the error types a body throws, the
// tool types, and the pure helpers a check needs. Specs import nothing else from helpers/.

export type { V1Container, V1Deployment, V1Pod } from '@kubernetes/client-node'
export { canonicalHash, canonicalJson, canonicalPayload, type Json, stripVolatile } from './canonical.ts'
export { GateBlocked, GateFailure } from './classification.ts'
export { renderEventTemplate } from './fixtures/events.ts'
export { MutationRefused } from './fixtures/mutate.ts'
export { findRepoManifest, type RepoManifest, toYaml } from './fixtures/repo.ts'
export { type GateBody, type GateDef, gate } from './gate.ts'
export type { GateContext, RunContext } from './harness.ts'
export type { ExecResult } from './kube.ts'
export { containerImage, crashLooping, deploymentSummary, imageTag, podSummary, unhealthyContainers } from './kube-views.ts'
export { maxMetricValue } from './monitor-values.ts'
export type { TargetProfile } from './profile.ts'
export { fillCommand } from './profile.ts'
export { hasMetric, parseExposition } from './prom-text.ts'
