// Changing the cluster is only possible through `mutate`, and only for a gate that declares
// `mutates` in a run with --allow-mutations. A gate without it cannot change a deployment even when
// it tries: the mutate handle refuses before anything is sent, and the kube tool has no write method.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, test } from 'vitest'
import { GateEvidence } from '../../helpers/evidence.ts'
import { createKubeReads } from '../../helpers/fixtures/kube-reads.ts'
import { createMutate, MutationRefused } from '../../helpers/fixtures/mutate.ts'
import type { Kube } from '../../helpers/kube.ts'
import { Redactor } from '../../helpers/redact.ts'
import { startTinyKube, type TinyKube } from './tiny-kube.ts'

/** a tiny API server behind a real Kube client; `writes` are the requests that were not reads */
async function fakeKube() {
  const dep = { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'txlookup-consumer', generation: 1 }, spec: {}, status: {} }
  const api = await startTinyKube(() => dep)
  opened.push(api)
  return {
    kube: api.kube,
    get writes() {
      return api.seen.filter((r) => !r.startsWith('GET '))
    },
  }
}
const opened: TinyKube[] = []
afterAll(async () => {
  for (const a of opened) await a.close()
})

describe('mutate', () => {
  let evidence: GateEvidence
  beforeEach(() => {
    evidence = new GateEvidence({
      gateId: 'g',
      suite: 'closeout',
      file: join(mkdtempSync(join(tmpdir(), 'mutate-')), 'g.log'),
      owner: 'ops',
      redactor: new Redactor(),
    })
  })
  const handle = (mutates: boolean | undefined, allowMutations: boolean, kube: Kube) =>
    createMutate({ gate: { id: 'g', mutates }, allowMutations, kube: () => kube, evidence, namespace: 'txlookup' })

  test('a gate without `mutates` cannot change a deployment, even with --allow-mutations and even when it tries', async () => {
    const k = await fakeKube()
    const { kube } = k
    const m = handle(undefined, true, kube)
    expect(m.allowed).toBe(false)
    await expect(m.setContainerImage('txlookup-consumer', 'consumer', 'repo:evil')).rejects.toBeInstanceOf(MutationRefused)
    await expect(m.createDeployment({}, '/tmp/x.yaml')).rejects.toThrow(/does not declare mutates/)
    // the read tool offers no way to the client's write methods
    const reads = createKubeReads({
      kube: () => kube.readOnly(),
      evidence,
      namespace: 'txlookup',
      touched: new Set(),
      forwards: [],
    }) as unknown as Record<string, unknown>
    for (const name of ['setContainerImage', 'createDeployment', 'patchDeployment', 'deleteDeployment', 'execInPod'])
      expect(reads[name]).toBeUndefined()
    expect(Object.values(reads).some((v) => v === kube)).toBe(false)
    expect(k.writes).toEqual([])
    expect(evidence.records.map((r) => r.result)).toEqual(['skipped', 'skipped'])
  })

  test('a gate with `mutates` cannot change it without --allow-mutations: refused, nothing sent, the command named', async () => {
    const k = await fakeKube()
    const { kube } = k
    const m = handle(true, false, kube)
    expect(m.allowed).toBe(false)
    const err = await m.setContainerImage('txlookup-consumer', 'consumer', 'repo:1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MutationRefused)
    expect((err as MutationRefused).message).toContain('kubectl -n txlookup set image deployment/txlookup-consumer consumer=repo:1')
    expect((err as MutationRefused).message).toContain('--allow-mutations')
    expect(k.writes).toEqual([])
  })

  test('with `mutates` and --allow-mutations the change is sent and recorded as a mutation step', async () => {
    const k = await fakeKube()
    const { kube } = k
    const m = handle(true, true, kube)
    expect(m.allowed).toBe(true)
    await m.setContainerImage('txlookup-consumer', 'consumer', 'repo:1')
    expect(k.writes).toEqual(['PATCH /apis/apps/v1/namespaces/txlookup/deployments/txlookup-consumer?fieldManager=closeout'])
    // the record's command is the line of the request the client really sent
    expect(evidence.records[0].step).toBe('set image (mutation)')
    expect(evidence.records[0].command).toMatch(/^kubectl -n txlookup (set image|patch) deploy(ment)?\/?\s?txlookup-consumer /m)
  })
})
