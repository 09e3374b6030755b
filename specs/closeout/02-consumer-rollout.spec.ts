/**
 * F3-4 Task 2 steps 1–2 — resolve the consumer source, check the API's tag exists for the consumer
 * image in the registry, pin the consumer image to it, roll out.
 */
import {
  containerImage,
  crashLooping,
  deploymentSummary,
  findRepoManifest,
  GateBlocked,
  type GateContext,
  GateFailure,
  gate,
  imageTag,
  podSummary,
  type RepoManifest,
  type TargetProfile,
  toYaml,
  type V1Deployment,
} from '../../helpers/index.ts'

type Source = { live: V1Deployment; manifest?: undefined } | { live?: undefined; manifest: RepoManifest }

/** The Deployment the plan's bootstrap commands produce (create deployment --image, set env
 * --from=secret SERVICE_NAME=…, patch command), from the repository manifest: what --allow-mutations
 * creates and what an operator applies by hand — one document. */
function renderBootstrap(
  manifest: V1Deployment,
  c: TargetProfile['consumer'],
  bootstrap: NonNullable<TargetProfile['consumer']['bootstrap']>,
  ns: string,
  image: string,
): V1Deployment {
  const doc = JSON.parse(JSON.stringify(manifest)) as V1Deployment
  const containers = doc.spec?.template?.spec?.containers ?? []
  const container = containers.find((x) => x.name === c.container) ?? containers[0]
  if (!container)
    throw new GateBlocked(`the repository manifest has no containers (expected container ${c.container}); fix the manifest and rerun`)
  container.image = image
  container.command = bootstrap.command
  container.envFrom = [
    ...(container.envFrom ?? []).filter((e) => e.secretRef?.name !== bootstrap.envFromSecret),
    { secretRef: { name: bootstrap.envFromSecret } },
  ]
  container.env = [
    ...(container.env ?? []).filter((e) => e.name !== 'SERVICE_NAME'),
    { name: 'SERVICE_NAME', value: bootstrap.serviceName },
  ]
  doc.apiVersion = 'apps/v1'
  doc.kind = 'Deployment'
  doc.metadata = { ...doc.metadata, namespace: ns, name: c.deployment }
  return doc
}

/** Step 1: the source, in the plan's fixed order (live deployment, repository manifests, else blocked). */
async function resolveSource({ target, kube, evidence }: GateContext): Promise<Source> {
  const c = target.consumer
  const live = await kube.findDeployment(c.deployment, {
    step: `live consumer deployment ${c.deployment}`,
    summarize: (d) => (d ? deploymentSummary(d) : { present: false }),
  })
  if (live) {
    await evidence.attach('02_consumer_source_live.yaml', toYaml(live))
    await evidence.note('consumer source', { source: 'live deployment', file: '02_consumer_source_live.yaml' })
    return { live }
  }
  const { listing, manifest } = findRepoManifest(c.manifests)
  await evidence.attach('02_consumer_source_repo.txt', listing)
  if (!manifest) {
    throw new GateBlocked(
      `no consumer source: deployment ${c.deployment} is not in ${target.kube.namespace} and none of the repository manifests exist (${c.manifests.join(', ') || 'none listed in consumer.manifests'}); add the manifest or deploy the consumer, then rerun`,
    )
  }
  await evidence.note('consumer source', { source: 'repository manifest', file: manifest.file })
  return { manifest }
}

/** Step 2: CONSUMER_IMAGE=<repo>:${API_TAG}, and the plan's TAG_COUNT check before anything changes. */
async function pinnedImage({ target, kube, evidence, registry }: GateContext): Promise<{ wanted: string; apiTag: string }> {
  const api = await kube.readDeployment(target.api.deployment, {
    step: 'API image',
    summarize: (d) => ({ image: containerImage(d, target.api.container) ?? containerImage(d) }),
  })
  const apiImage = containerImage(api, target.api.container) ?? containerImage(api)
  const apiTag = imageTag(apiImage)
  if (!apiTag)
    throw new GateBlocked(
      `the API image "${apiImage ?? 'none'}" has no tag to pin the consumer to (digest-only or untagged); tag the API image and rerun`,
    )
  const wanted = `${target.consumer.imageRepository}:${apiTag}`
  await evidence.note('pinned runtime contract', { API_IMAGE: apiImage ?? '-', API_TAG: apiTag, CONSUMER_IMAGE: wanted })
  const found = await registry.countTag(apiTag)
  if (found && found.count === 0) {
    const reg = target.consumer.registry!
    throw new GateBlocked(
      `image ${wanted} is not in the registry: TAG_COUNT is 0 for tag ${apiTag} in ${reg.repository} at ${reg.url} (${found.list.tags.length} other tags); push the consumer image tagged ${apiTag} (docker push ${wanted}) or fix the API image tag, then rerun — nothing was changed`,
    )
  }
  return { wanted, apiTag }
}

/** Set the image on the live deployment, or bootstrap it from the manifest — only through `mutate`. */
async function applyPin(ctx: GateContext, source: Source, wanted: string, apiTag: string): Promise<void> {
  const { target, evidence, mutate } = ctx
  const c = target.consumer
  const ns = target.kube.namespace
  if (source.live) {
    const current = containerImage(source.live, c.container)
    if (current === wanted) return void (await evidence.note('consumer image already pinned', { image: current }, 'pass'))
    // a step this run may not perform is "could not check", not a failure to start: nothing failed
    if (!mutate.allowed)
      throw new GateBlocked(
        `consumer image ${current ?? '(none)'} is not pinned to the API tag ${apiTag}, and this run may not change it (no --allow-mutations); nothing was changed: run \`kubectl -n ${ns} set image deployment/${c.deployment} ${c.container}=${wanted}\` and rerun, or rerun with --allow-mutations`,
      )
    await mutate.setContainerImage(c.deployment, c.container, wanted)
    return
  }
  if (!c.bootstrap) {
    throw new GateFailure(
      `deployment ${c.deployment} is missing and consumer.bootstrap (envFromSecret, serviceName, command) is not set in the target profile, so no bootstrap Deployment can be rendered from ${source.manifest.file}; set it and rerun`,
    )
  }
  const doc = renderBootstrap(source.manifest.doc, c, c.bootstrap, ns, wanted)
  const file = await evidence.attach('02_consumer_bootstrap.yaml', toYaml(doc))
  const apply = `kubectl apply -f ${file}`
  await evidence.note('bootstrap deployment rendered', {
    file: '02_consumer_bootstrap.yaml',
    from: source.manifest.file,
    image: wanted,
    envFrom: `secret/${c.bootstrap.envFromSecret}`,
    SERVICE_NAME: c.bootstrap.serviceName,
    command: c.bootstrap.command.join(' '),
    apply,
  })
  if (!mutate.allowed)
    throw new GateBlocked(
      `deployment ${c.deployment} is missing in ${ns}, and this run may not create it (no --allow-mutations); nothing was changed: bootstrap it with \`${apply}\` and rerun — or rerun with --allow-mutations`,
    )
  await mutate.createDeployment(doc, file)
}

/** `kubectl rollout status --timeout=180s` on a watch, then no pod of the consumer crash-looping. */
async function waitForRollout({ target, kube }: GateContext): Promise<void> {
  const c = target.consumer
  const result = await kube.rolloutStatus(c.deployment, c.rolloutTimeoutSeconds)
  if (!result.done) throw new GateFailure(`rollout of deploy/${c.deployment} did not complete: ${result.error ?? 'unknown'}`)
  const pods = await kube.podsOfDeployment(c.deployment, { step: 'consumer pods', summarize: (ps) => ps.map(podSummary) })
  const looping = pods.filter((p) => crashLooping(p).length)
  if (looping.length)
    throw new GateFailure(`consumer pod(s) in CrashLoopBackOff after the rollout: ${looping.map((p) => p.metadata?.name).join(', ')}`)
}

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
      'kubectl set image deployment/txlookup-consumer consumer=${CONSUMER_IMAGE} (or kubectl apply -f 02_consumer_bootstrap.yaml) only with --allow-mutations, else ENVIRONMENT_BLOCKED naming that command; ' +
      'kubectl rollout status deploy/txlookup-consumer --timeout=180s',
  },
  async (ctx) => {
    const source = await resolveSource(ctx)
    const { wanted, apiTag } = await pinnedImage(ctx)
    await applyPin(ctx, source, wanted, apiTag)
    await waitForRollout(ctx)
  },
)
