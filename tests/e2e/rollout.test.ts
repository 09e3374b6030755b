// consumer-rollout's branches end to end, through `pnpm test` as an operator runs it (bin/test.ts),
// against the local environment: a drifted image tag (BLOCKED with the exact `kubectl set image`, or is
// pinned with --allow-mutations), a missing deployment (BLOCKED with a runnable `kubectl apply -f` of the
// rendered bootstrap, or is bootstrapped with --allow-mutations), no source at all, the image tag
// missing in the registry, and a registry that rejects the token. Each case is set up through the
// admin kubeconfig and the cluster is put back as the definition runs it afterwards (the simulator
// keeps deployments in memory), so later test files see an untouched environment.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { IMAGE_TAG } from '../../fixtures/local-env/cluster.ts'
import type { ClusterDefinition } from '../../fixtures/local-env/sim/types.ts'
import { deploymentRolloutStatus, Kube, loadKubeConfig } from '../../helpers/kube.ts'
import { containerImage } from '../../helpers/kube-views.ts'
import { envUp, outcome, ROOT, runGates, type SuiteRun } from './_run.ts'

const NS = 'txlookup'
const DEP = 'txlookup-consumer'
const REPO = 'nscacrdevw4mlu8.azurecr.io/txlookup/consumer'
const PINNED = `${REPO}:${IMAGE_TAG}`
const DRIFTED = `${REPO}:2026.10.1`
const KUBECONFIG = join(ROOT, 'reports/local-env/kubeconfig')

let kube: Kube
/** the consumer deployment as the cluster definition runs it (what every case is restored to) */
let original: V1Deployment
const envJson = () =>
  JSON.parse(readFileSync(join(ROOT, 'reports/local-env/env.json'), 'utf8')) as {
    ports: Record<string, number>
    tokens: Record<string, string>
  }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await fn().catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(250)
  }
}

const readConsumer = () =>
  kube.readDeployment(DEP).catch((e: unknown) => ((e as { code?: number })?.code === 404 ? undefined : Promise.reject(e)))
const templateOf = (d: V1Deployment) => JSON.stringify(d.spec?.template?.spec?.containers)

async function rolledOut(): Promise<void> {
  await until('consumer rollout complete', async () => {
    const d = await readConsumer()
    return Boolean(d && deploymentRolloutStatus(d).done)
  })
}

/** delete the consumer deployment and wait until its pods are gone (their host ports free) */
async function deleteConsumer(): Promise<void> {
  const d = await readConsumer()
  if (d) await kube.kc.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: DEP, namespace: NS })
  await until('consumer pods gone', async () => (await kube.listPods(`app=${DEP}`)).length === 0)
}

/** the cluster as the definition runs it: the original deployment (re-created, so it gets its own
 * host port back rather than a surge pod's), rolled out, its metrics port answering */
async function restoreConsumer(): Promise<void> {
  const d = await readConsumer()
  if (!d || templateOf(d) !== templateOf(original) || d.metadata?.annotations?.['deployment.kubernetes.io/revision'] !== '1') {
    await deleteConsumer()
    const { name, namespace, labels, annotations } = original.metadata ?? {}
    // the revision annotation belongs to the controller
    const kept = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => k !== 'deployment.kubernetes.io/revision'))
    await kube.createDeployment({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels, annotations: kept },
      spec: original.spec,
    })
  }
  await rolledOut()
  const port = envJson().ports.consumer
  await until(
    `consumer metrics on its own port ${port}`,
    async () => (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) })).ok,
  )
}

/** the run's closeout bundle directory */
function bundleOf(r: SuiteRun): string {
  const d = r.summary.bundles?.closeout ?? r.summary.evidenceDir
  if (!d) throw new Error(`run ${r.runId} has no closeout bundle`)
  return d
}

/** An earlier run of this file that was interrupted mid-case leaves the consumer deleted or drifted
 * (and `env up` waiting for it in vain): the simulator's SIGHUP reload puts the definition back. */
async function recoverInterruptedRun(): Promise<void> {
  const pidFile = join(ROOT, 'reports/local-env/pids/simulator.pid')
  if (!existsSync(pidFile) || !existsSync(KUBECONFIG)) return
  const k = new Kube(loadKubeConfig({ kubeconfig: KUBECONFIG }), { namespace: NS, timeoutMs: 5_000 })
  const live = await k.readDeployment(DEP).catch(() => undefined)
  const def = (
    JSON.parse(readFileSync(join(ROOT, 'reports/local-env/cluster.json'), 'utf8')) as ClusterDefinition
  ).namespaces[0]?.deployments.find((d) => d.name === DEP)
  const c = live?.spec?.template?.spec?.containers?.[0]
  if (
    !def ||
    (c?.image === def.containers[0].image &&
      c.ports?.[0]?.hostPort === def.containers[0].ports?.[0]?.hostPort &&
      live?.metadata?.annotations?.['deployment.kubernetes.io/revision'] === '1')
  )
    return
  process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGHUP')
  await sleep(1000)
}

/** every file of the run's bundle and run state, and the summary (for secrets that must not be there) */
function writtenText(r: SuiteRun): string {
  const files: string[] = []
  const walk = (d: string) => {
    if (!existsSync(d)) return
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else files.push(p)
    }
  }
  walk(bundleOf(r))
  walk(join(ROOT, 'reports/runs', r.runId))
  walk(join(ROOT, 'reports/allure-results'))
  files.push(join(ROOT, 'reports/latest/summary.json'))
  return files.map((f) => readFileSync(f, 'utf8')).join('\n') + r.stdout + r.stderr
}

const rolloutLog = (r: SuiteRun) => readFileSync(join(bundleOf(r), '02_consumer_rollout.log'), 'utf8')
const gateOf = (r: SuiteRun, id = 'consumer-rollout') => r.summary.gates.find((g) => g.id === id && g.suite === 'closeout')

describe('consumer-rollout branches (local environment)', { timeout: 300_000 }, () => {
  beforeAll(async () => {
    await recoverInterruptedRun()
    envUp([])
    kube = new Kube(loadKubeConfig({ kubeconfig: KUBECONFIG }), { namespace: NS, timeoutMs: 10_000 })
    original = (await readConsumer()) as V1Deployment
    expect(containerImage(original, 'consumer')).toBe(PINNED)
    expect(original.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('1')
  })
  afterEach(async () => {
    // the deployment first: env up waits for the consumer on its own port
    await restoreConsumer()
    envUp([])
  })
  afterAll(async () => {
    const d = (await readConsumer()) as V1Deployment
    // what later test files get: the definition's deployment, revision 1, on its own port
    expect(templateOf(d)).toBe(templateOf(original))
  })

  test('a: drifted image tag — BLOCKED (nothing failed to start) with the exact set image command and changes nothing; --allow-mutations pins it and the rollout completes', async () => {
    await kube.setContainerImage(DEP, 'consumer', DRIFTED)
    await rolledOut()
    const before = (await readConsumer()) as V1Deployment

    const r = runGates(['--tag', 'consumer-rollout'])
    expect(outcome(r.summary)).toEqual({ 'consumer-rollout': 'blocked:ENVIRONMENT_BLOCKED' })
    expect(r.code).toBe(2)
    expect(gateOf(r)?.reason).toContain(`\`kubectl -n ${NS} set image deployment/${DEP} consumer=${PINNED}\``)
    const after = (await readConsumer()) as V1Deployment
    expect(containerImage(after, 'consumer')).toBe(DRIFTED)
    expect(after.metadata?.generation).toBe(before.metadata?.generation)
    expect(rolloutLog(r)).not.toContain('set image (mutation)')

    const m = runGates(['--tag', 'consumer-rollout', '--allow-mutations'])
    expect(outcome(m.summary)).toEqual({ 'consumer-rollout': 'passed' })
    expect(m.code).toBe(0)
    const pinned = (await readConsumer()) as V1Deployment
    expect(containerImage(pinned, 'consumer')).toBe(PINNED)
    expect(deploymentRolloutStatus(pinned).done).toBe(true)
    const log = rolloutLog(m)
    expect(log).toContain('--- step: set image (mutation)')
    expect(log).toMatch(/--- step: rollout status[\s\S]*?exit_code: 0/)
  })

  test('b: deployment missing, manifest present — BLOCKED with a runnable kubectl apply -f of 02_consumer_bootstrap.yaml; --allow-mutations creates that document', async () => {
    await deleteConsumer()
    const r = runGates(['--tag', 'consumer-rollout'])
    expect(outcome(r.summary)).toEqual({ 'consumer-rollout': 'blocked:ENVIRONMENT_BLOCKED' })
    expect(r.code).toBe(2)
    const file = join(bundleOf(r), '02_consumer_bootstrap.yaml')
    expect(gateOf(r)?.reason).toContain(`\`kubectl apply -f ${file}\``)
    expect(gateOf(r)?.reason).toContain('or rerun with --allow-mutations')
    expect(await readConsumer()).toBeUndefined()
    const doc = parseYaml(readFileSync(file, 'utf8')) as V1Deployment
    const c = doc.spec?.template?.spec?.containers?.[0]
    expect(doc.metadata).toMatchObject({ name: DEP, namespace: NS })
    expect(c).toMatchObject({
      name: 'consumer',
      image: PINNED,
      command: ['txlookup-consumer', 'run'],
      envFrom: [{ secretRef: { name: 'txlookup-api-env' } }],
    })
    expect(c?.env).toContainEqual({ name: 'SERVICE_NAME', value: 'txlookup-consumer' })
    expect(readFileSync(join(bundleOf(r), '02_consumer_source_repo.txt'), 'utf8')).toMatch(
      /^found .*fixtures\/local-env\/manifests\/txlookup-consumer\.yaml$/m,
    )

    // the message is a command an operator can run as written (--validate=false only because the
    // simulator serves no OpenAPI document to validate against; a real API server does)
    const applied = spawnSync('kubectl', ['--kubeconfig', KUBECONFIG, 'apply', '--validate=false', '-f', file], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(applied.status, applied.stderr).toBe(0)
    expect(applied.stdout).toMatch(/deployment\.apps\/txlookup-consumer created/)
    await rolledOut()
    expect(containerImage((await readConsumer()) as V1Deployment, 'consumer')).toBe(PINNED)
    await deleteConsumer()

    const m = runGates(['--tag', 'consumer-rollout', '--allow-mutations'])
    expect(outcome(m.summary)).toEqual({ 'consumer-rollout': 'passed' })
    expect(m.code).toBe(0)
    const live = (await readConsumer()) as V1Deployment
    const lc = live.spec?.template?.spec?.containers?.[0]
    const rendered = (parseYaml(readFileSync(join(bundleOf(m), '02_consumer_bootstrap.yaml'), 'utf8')) as V1Deployment).spec?.template?.spec
      ?.containers?.[0]
    expect(lc).toMatchObject({
      image: PINNED,
      command: ['txlookup-consumer', 'run'],
      envFrom: [{ secretRef: { name: 'txlookup-api-env' } }],
    })
    expect(lc?.env).toContainEqual({ name: 'SERVICE_NAME', value: 'txlookup-consumer' })
    // one code path: what was created is the rendered document
    expect({ image: lc?.image, command: lc?.command, env: lc?.env, envFrom: lc?.envFrom }).toEqual({
      image: rendered?.image,
      command: rendered?.command,
      env: rendered?.env,
      envFrom: rendered?.envFrom,
    })
    expect(deploymentRolloutStatus(live).done).toBe(true)
    expect(existsSync(join(bundleOf(m), '02_consumer_source_repo.txt'))).toBe(true)
    // the operator's command for the rendered file, and the line of the request the client really sent
    expect(rolloutLog(m)).toContain(`apply: kubectl apply -f ${join(bundleOf(m), '02_consumer_bootstrap.yaml')}`)
    expect(rolloutLog(m)).toMatch(
      /--- step: bootstrap deployment \(mutation\)\ncommand: echo '\{"apiVersion":"apps\/v1".*' \| kubectl -n txlookup create -f -\n/,
    )
  })

  test('c: deployment missing and no manifest — ENVIRONMENT_BLOCKED, consumer-db and consumer-eventhubs blocked by consumer-rollout', async () => {
    await deleteConsumer()
    const dir = mkdtempSync(join(tmpdir(), 'rollout-'))
    const profile = join(dir, 'no-manifest.yaml')
    const text = readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace(/^ {2}manifests: .*$/m, '  manifests: []')
    expect(text).toContain('  manifests: []')
    writeFileSync(profile, text)
    const r = runGates([
      '--tag',
      'consumer-rollout',
      '--tag',
      'consumer-db',
      '--tag',
      'consumer-eventhubs',
      '--target',
      profile,
      '--allow-mutations',
    ])
    expect(outcome(r.summary)).toEqual({
      'consumer-rollout': 'blocked:ENVIRONMENT_BLOCKED',
      'consumer-db': 'blocked',
      'consumer-eventhubs': 'blocked',
    })
    expect(r.code).toBe(2)
    expect(gateOf(r)?.reason).toMatch(/no consumer source: deployment txlookup-consumer is not in txlookup/)
    for (const id of ['consumer-db', 'consumer-eventhubs']) expect(gateOf(r, id)?.reason).toMatch(/^blocked by consumer-rollout/)
    expect(await readConsumer()).toBeUndefined()
  })

  test('d: fault image-tag-missing — ENVIRONMENT_BLOCKED with TAG_COUNT 0, no mutation even with --allow-mutations, exit 2', async () => {
    envUp(['image-tag-missing'])
    // drifted, so a mutation would follow if the tag check did not stop the gate first
    await kube.setContainerImage(DEP, 'consumer', DRIFTED)
    await rolledOut()
    const before = (await readConsumer()) as V1Deployment
    const r = runGates(['--tag', 'consumer-rollout', '--allow-mutations'])
    expect(outcome(r.summary)).toEqual({ 'consumer-rollout': 'blocked:ENVIRONMENT_BLOCKED' })
    expect(r.code).toBe(2)
    expect(gateOf(r)?.reason).toContain(`image ${PINNED} is not in the registry`)
    expect(gateOf(r)?.reason).toMatch(/push the consumer image tagged 2026\.11\.1 .* or fix the API image tag/)
    const log = rolloutLog(r)
    expect(log).toMatch(
      /--- step: image tag in registry\ncommand: TAG_COUNT=\$\(az acr repository show-tags -n 127\.0\.0\.1:\d+ --repository txlookup\/consumer --query "\[\?@=='2026\.11\.1'\] \| length\(@\)" -o tsv\); test "\$TAG_COUNT" -ge 1/,
    )
    expect(log).toContain('TAG_COUNT: 0')
    expect(log).not.toContain('(mutation)')
    const after = (await readConsumer()) as V1Deployment
    expect(containerImage(after, 'consumer')).toBe(DRIFTED)
    expect(after.metadata?.generation).toBe(before.metadata?.generation)
  })

  test('e: the registry rejects the token — ENVIRONMENT_BLOCKED, the token appears nowhere in the bundle or the summary', async () => {
    const token = `wrong-registry-token-${Date.now().toString(36)}`
    const r = runGates(['--tag', 'consumer-rollout'], { CLOSEOUT_LOCAL_REGISTRY_TOKEN: token })
    expect(outcome(r.summary)).toEqual({ 'consumer-rollout': 'blocked:ENVIRONMENT_BLOCKED' })
    expect(r.code).toBe(2)
    expect(gateOf(r)?.reason).toMatch(/POST https:\/\/127\.0\.0\.1:\d+\/oauth2\/exchange answered 401/)
    expect(rolloutLog(r)).toContain('TAG_COUNT: unknown')
    expect(writtenText(r)).not.toContain(token)
    // and the real token is not there either
    expect(writtenText(r)).not.toContain(envJson().tokens.registry)
  })
})
