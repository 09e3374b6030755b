/**
 * F3-4 Task 2 steps 1–2 — resolve the consumer source, check the API's tag exists for the consumer
 * image in the registry, pin the consumer image to it, roll out.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, dirname, relative, resolve } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import type { V1Deployment } from '@kubernetes/client-node'
import { gate } from '../../helpers/gate.ts'
import { GateBlocked, GateFailure } from '../../helpers/classification.ts'
import { containerImage, imageTag, deploymentSummary, crashLooping, podSummary } from '../../helpers/kube-views.ts'
import { listTags, type TagList } from '../../helpers/registry.ts'
import { isoNow } from '../../helpers/evidence.ts'
import type { TargetProfile } from '../../helpers/profile.ts'

/** The Deployment the plan's bootstrap commands produce (create deployment --image, set env
 * --from=secret SERVICE_NAME=…, patch command), from the repository manifest: what --allow-mutations
 * creates and what an operator applies by hand — one document. */
function renderBootstrap(manifest: V1Deployment, c: TargetProfile['consumer'], bootstrap: NonNullable<TargetProfile['consumer']['bootstrap']>, ns: string, image: string): V1Deployment {
  const doc = JSON.parse(JSON.stringify(manifest)) as V1Deployment
  const containers = doc.spec?.template?.spec?.containers ?? []
  const container = containers.find((x) => x.name === c.container) ?? containers[0]
  if (!container) throw new GateBlocked(`the repository manifest has no containers (expected container ${c.container}); fix the manifest and rerun`)
  container.image = image
  container.command = bootstrap.command
  container.envFrom = [...(container.envFrom ?? []).filter((e) => e.secretRef?.name !== bootstrap.envFromSecret), { secretRef: { name: bootstrap.envFromSecret } }]
  container.env = [...(container.env ?? []).filter((e) => e.name !== 'SERVICE_NAME'), { name: 'SERVICE_NAME', value: bootstrap.serviceName }]
  doc.apiVersion = 'apps/v1'
  doc.kind = 'Deployment'
  doc.metadata = { ...doc.metadata, namespace: ns, name: c.deployment }
  return doc
}

/** `az acr repository show-tags -n <name>`: the registry name of an ACR login server, else the host */
const acrName = (url: string) => new URL(url).host.replace(/\.azurecr\.(io|cn|us)$/, '')

gate(
  {
    id: 'consumer-rollout',
    suite: 'closeout',
    classification: 'STARTUP_FAILED',
    needs: ['baseline'],
    evidence: '02_consumer_rollout.log',
    mutates: true,
    timeoutMs: 600_000,
    title: 'the consumer image with the API tag is in the registry, the consumer runs it and its rollout completes',
    description:
      'Resolve the consumer source (live deployment, else repository manifests, else ENVIRONMENT_BLOCKED); CONSUMER_IMAGE=<repo>:${API_TAG}; ' +
      'TAG_COUNT=$(az acr repository show-tags … --query "[?@==\'${API_TAG}\'] | length(@)") before any change, 0 or registry unreachable/401/403 → ENVIRONMENT_BLOCKED; ' +
      'kubectl set image deployment/txlookup-consumer consumer=${CONSUMER_IMAGE} (or kubectl apply -f 02_consumer_bootstrap.yaml) only with --allow-mutations; ' +
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

    // the plan's TAG_COUNT check, before anything changes: the image must exist to be rolled out
    const reg = c.registry
    if (!reg) {
      await evidence.note('image tag check (skipped)', { TAG_COUNT: 'not checked', reason: 'consumer.registry is not set in the target profile, so the registry was not asked whether the image exists' })
    } else {
      const cmd =
        reg.kind === 'acr'
          ? `TAG_COUNT=$(az acr repository show-tags -n ${acrName(reg.url)} --repository ${reg.repository} --query "[?@=='${apiTag}'] | length(@)" -o tsv); test "$TAG_COUNT" -ge 1`
          : `TAG_COUNT=$(curl -s ${reg.url}/v2/${reg.repository}/tags/list | jq '[.tags[] | select(. == "${apiTag}")] | length'); test "$TAG_COUNT" -ge 1`
      const targetLine = `${reg.url} repository ${reg.repository} (${reg.kind})`
      const startedAt = isoNow()
      let list: TagList
      try {
        list = await listTags({ ...reg, pageSize: reg.pageSize })
      } catch (err) {
        // unreachable / 401 / 403 / 404: could not check — classified ENVIRONMENT_BLOCKED by the harness
        const e = err as { message?: string; statusCode?: number }
        await evidence.record({ step: 'image tag in registry', kind: 'http', command: cmd, target: targetLine, startedAt, finishedAt: isoNow(), durationMs: Date.now() - Date.parse(startedAt), exitCode: 1, httpStatus: e.statusCode, result: 'fail', stderr: e.message ?? String(err), details: { TAG_COUNT: 'unknown (the registry could not be asked)' } })
        throw err
      }
      const count = list.tags.filter((t) => t === apiTag).length
      await evidence.record({
        step: 'image tag in registry',
        kind: 'http',
        command: cmd,
        target: targetLine,
        startedAt,
        finishedAt: isoNow(),
        durationMs: list.durationMs,
        exitCode: count >= 1 ? 0 : 1,
        httpStatus: list.calls.at(-1)?.status ?? undefined,
        result: count >= 1 ? 'pass' : 'fail',
        stdout: list.tags.slice(-50).join('\n') + (list.tags.length > 50 ? `\n(${list.tags.length - 50} earlier tags not shown)` : ''),
        details: {
          TAG_COUNT: String(count),
          API_TAG: apiTag,
          tags_total: String(list.tags.length),
          pages: String(list.pages),
          auth: list.auth,
          requests: list.calls.map((x) => `${x.method} ${x.url} → ${x.status ?? 'no answer'} (${x.durationMs} ms)`).join('\n'),
        },
      })
      if (count === 0) {
        throw new GateBlocked(
          `image ${wanted} is not in the registry: TAG_COUNT is 0 for tag ${apiTag} in ${reg.repository} at ${reg.url} (${list.tags.length} other tags); push the consumer image tagged ${apiTag} (docker push ${wanted}) or fix the API image tag, then rerun — nothing was changed`,
        )
      }
    }

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
      if (!c.bootstrap) {
        throw new GateFailure(
          `deployment ${c.deployment} is missing and consumer.bootstrap (envFromSecret, serviceName, command) is not set in the target profile, so no bootstrap Deployment can be rendered from ${relative(process.cwd(), manifest.file)}; set it and rerun`,
        )
      }
      const doc = renderBootstrap(manifest.doc, c, c.bootstrap, ns, wanted)
      const file = resolve(bundle, '02_consumer_bootstrap.yaml')
      writeFileSync(file, evidence.redactor.redact(toYaml(doc)))
      const cmd = `kubectl apply -f ${file}`
      await evidence.note('bootstrap deployment rendered', { file: '02_consumer_bootstrap.yaml', from: relative(process.cwd(), manifest.file), image: wanted, envFrom: `secret/${c.bootstrap.envFromSecret}`, SERVICE_NAME: c.bootstrap.serviceName, command: c.bootstrap.command.join(' '), apply: cmd })
      if (!run.allowMutations) {
        throw new GateFailure(`deployment ${c.deployment} is missing in ${ns}; bootstrap it with \`${cmd}\` — or rerun with --allow-mutations`)
      }
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
