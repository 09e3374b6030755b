/**
 * F3-4 Task 2 steps 1–2 — resolve the consumer source, pin its image to the API's tag, roll out.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, dirname, relative } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import type { V1Deployment } from '@kubernetes/client-node'
import { gate } from '../../helpers/gate.ts'
import { GateBlocked, GateFailure } from '../../helpers/classification.ts'
import { containerImage, imageTag, deploymentSummary, crashLooping, podSummary } from '../../helpers/kube-views.ts'

gate(
  {
    id: 'consumer-rollout',
    suite: 'closeout',
    classification: 'STARTUP_FAILED',
    needs: ['baseline'],
    evidence: '02_consumer_rollout.log',
    mutates: true,
    timeoutMs: 600_000,
    title: 'the consumer runs the API image tag and its rollout completes',
    description:
      'Resolve the consumer source (live deployment, else repository manifests, else ENVIRONMENT_BLOCKED); CONSUMER_IMAGE=<repo>:${API_TAG}; ' +
      'kubectl set image deployment/txlookup-consumer consumer=${CONSUMER_IMAGE} (or bootstrap the deployment) only with --allow-mutations; ' +
      'kubectl rollout status deploy/txlookup-consumer --timeout=180s',
  },
  async ({ target, run, k8s, evidence, kube, touched }) => {
    const ns = target.kube.namespace
    const c = target.consumer
    touched.add(`deploy/${c.deployment}`)
    const bundle = dirname(evidence.file)

    // step 1: the source, in the plan's fixed order
    const live = await k8s(
      `live consumer deployment ${c.deployment}`,
      `kubectl -n ${ns} get deploy ${c.deployment} -o yaml`,
      (k) => k.readDeployment(c.deployment).catch((e: unknown) => ((e as { code?: number })?.code === 404 ? null : Promise.reject(e))),
      (d) => (d ? deploymentSummary(d) : { present: false }),
    )
    let manifest: { file: string; doc: V1Deployment } | undefined
    if (live) {
      writeFileSync(join(bundle, '02_consumer_source_live.yaml'), evidence.redactor.redact(toYaml(JSON.parse(JSON.stringify(live)))))
      await evidence.note('consumer source', { source: 'live deployment', file: '02_consumer_source_live.yaml' })
    } else {
      const found = c.manifests.find((m) => existsSync(m))
      writeFileSync(join(bundle, '02_consumer_source_repo.txt'), c.manifests.map((m) => `${existsSync(m) ? 'found' : 'missing'} ${m}`).join('\n') + '\n')
      if (!found) {
        throw new GateBlocked(
          `no consumer source: deployment ${c.deployment} is not in ${ns} and none of the repository manifests exist (${c.manifests.join(', ') || 'none listed in consumer.manifests'}); add the manifest or deploy the consumer, then rerun`,
        )
      }
      manifest = { file: found, doc: parseYaml(readFileSync(found, 'utf8')) as V1Deployment }
      await evidence.note('consumer source', { source: 'repository manifest', file: relative(process.cwd(), found) })
    }

    // step 2: pin the consumer image to the API's tag
    const api = await k8s(`API image`, `kubectl -n ${ns} get deploy ${target.api.deployment} -o jsonpath='{.spec.template.spec.containers[0].image}'`, (k) => k.readDeployment(target.api.deployment), (d) => ({ image: containerImage(d, target.api.container) ?? containerImage(d) }))
    const apiImage = containerImage(api, target.api.container) ?? containerImage(api)
    const apiTag = imageTag(apiImage)
    if (!apiTag) throw new GateBlocked(`the API image "${apiImage ?? 'none'}" has no tag to pin the consumer to (digest-only or untagged); tag the API image and rerun`)
    const wanted = `${c.imageRepository}:${apiTag}`
    await evidence.note('pinned runtime contract', { API_IMAGE: apiImage ?? '-', API_TAG: apiTag, CONSUMER_IMAGE: wanted })

    if (live) {
      const current = containerImage(live, c.container)
      if (current !== wanted) {
        const cmd = `kubectl -n ${ns} set image deployment/${c.deployment} ${c.container}=${wanted}`
        if (!run.allowMutations) {
          throw new GateFailure(`consumer image ${current ?? '(none)'} is not pinned to the API tag ${apiTag}; run \`${cmd}\` or rerun with --allow-mutations`)
        }
        await k8s(`set image (mutation)`, cmd, (k) => k.setContainerImage(c.deployment, c.container, wanted), (d) => deploymentSummary(d))
      } else {
        await evidence.note('consumer image already pinned', { image: current }, 'pass')
      }
    } else if (manifest) {
      const cmd = `kubectl -n ${ns} apply -f ${relative(process.cwd(), manifest.file)} (image ${wanted}, env from secret ${c.bootstrap?.envFromSecret ?? '-'})`
      if (!run.allowMutations || !c.bootstrap) {
        throw new GateFailure(`deployment ${c.deployment} is missing; bootstrap it: ${cmd}${c.bootstrap ? ' — or rerun with --allow-mutations' : ' (consumer.bootstrap is not set in the profile)'}`)
      }
      const doc = manifest.doc
      const container = doc.spec?.template?.spec?.containers?.find((x) => x.name === c.container) ?? doc.spec?.template?.spec?.containers?.[0]
      if (!container) throw new GateBlocked(`manifest ${manifest.file} has no container ${c.container}`)
      container.image = wanted
      container.command = c.bootstrap.command
      container.envFrom = [{ secretRef: { name: c.bootstrap.envFromSecret } }]
      container.env = [...(container.env ?? []).filter((e) => e.name !== 'SERVICE_NAME'), { name: 'SERVICE_NAME', value: c.bootstrap.serviceName }]
      doc.metadata = { ...doc.metadata, namespace: ns, name: c.deployment }
      await k8s(`bootstrap deployment (mutation)`, cmd, (k) => k.createDeployment(doc), (d) => deploymentSummary(d))
    }

    // wait for the rollout like `kubectl rollout status --timeout=180s` (on a watch)
    const t0 = Date.now()
    const statuses: string[] = []
    const result = await kube().waitForRollout(c.deployment, { timeoutMs: c.rolloutTimeoutSeconds * 1000, onStatus: (s: string) => statuses.push(s) })
    await evidence.record({
      step: 'rollout status',
      kind: 'k8s',
      command: `kubectl -n ${ns} rollout status deploy/${c.deployment} --timeout=${c.rolloutTimeoutSeconds}s`,
      target: `namespace=${ns} deployment=${c.deployment}`,
      startedAt: new Date(t0).toISOString(),
      finishedAt: new Date().toISOString(),
      durationMs: Date.now() - t0,
      exitCode: result.done ? 0 : 1,
      result: result.done ? 'pass' : 'fail',
      stdout: [...new Set(statuses)].join('\n'),
      stderr: result.error,
    })
    if (!result.done) throw new GateFailure(`rollout of deploy/${c.deployment} did not complete: ${result.error ?? 'unknown'}`)

    const pods = await k8s(`consumer pods`, `kubectl -n ${ns} get pods -l app=${c.deployment}`, (k) => k.podsOfDeployment(c.deployment), (ps) => ps.map(podSummary))
    const looping = pods.filter((p) => crashLooping(p).length)
    if (looping.length) throw new GateFailure(`consumer pod(s) in CrashLoopBackOff after the rollout: ${looping.map((p) => p.metadata?.name).join(', ')}`)
  },
)
