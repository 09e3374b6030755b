// Changing the cluster is only possible through `mutate`, and only for a gate that declares
// `mutates` in a run with --allow-mutations. A gate without it cannot change a deployment even when
// it tries: the mutate handle refuses before anything is sent, and the kube tool has no write method.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { GateEvidence } from '../../helpers/evidence.ts'
import { createKubeReads } from '../../helpers/fixtures/kube-reads.ts'
import { createMutate, MutationRefused } from '../../helpers/fixtures/mutate.ts'
import type { Kube } from '../../helpers/kube.ts'
import { Redactor } from '../../helpers/redact.ts'

/** a Kube stand-in that counts every write it receives */
function fakeKube() {
  const writes: string[] = []
  const dep = { metadata: { name: 'txlookup-consumer', generation: 1 }, spec: {}, status: {} }
  const kube = {
    contextName: 'unit',
    server: 'https://unit',
    setContainerImage: async (d: string, c: string, i: string) => (writes.push(`set image ${d} ${c}=${i}`), dep),
    createDeployment: async () => (writes.push('create'), dep),
    patchDeployment: async () => (writes.push('patch'), dep),
    readDeployment: async () => dep,
  } as unknown as Kube
  return { kube, writes }
}

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
    const { kube, writes } = fakeKube()
    const m = handle(undefined, true, kube)
    expect(m.allowed).toBe(false)
    await expect(m.setContainerImage('txlookup-consumer', 'consumer', 'repo:evil')).rejects.toBeInstanceOf(MutationRefused)
    await expect(m.createDeployment({}, '/tmp/x.yaml')).rejects.toThrow(/does not declare mutates/)
    // the read tool offers no way to the client's write methods
    const reads = createKubeReads({
      kube: () => kube,
      evidence,
      namespace: 'txlookup',
      touched: new Set(),
      forwards: [],
    }) as unknown as Record<string, unknown>
    for (const name of ['setContainerImage', 'createDeployment', 'patchDeployment', 'deleteDeployment', 'execInPod'])
      expect(reads[name]).toBeUndefined()
    expect(Object.values(reads).some((v) => v === kube)).toBe(false)
    expect(writes).toEqual([])
    expect(evidence.records.map((r) => r.result)).toEqual(['skipped', 'skipped'])
  })

  test('a gate with `mutates` cannot change it without --allow-mutations: refused, nothing sent, the command named', async () => {
    const { kube, writes } = fakeKube()
    const m = handle(true, false, kube)
    expect(m.allowed).toBe(false)
    const err = await m.setContainerImage('txlookup-consumer', 'consumer', 'repo:1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MutationRefused)
    expect((err as MutationRefused).message).toContain('kubectl -n txlookup set image deployment/txlookup-consumer consumer=repo:1')
    expect((err as MutationRefused).message).toContain('--allow-mutations')
    expect(writes).toEqual([])
  })

  test('with `mutates` and --allow-mutations the change is sent and recorded as a mutation step', async () => {
    const { kube, writes } = fakeKube()
    const m = handle(true, true, kube)
    expect(m.allowed).toBe(true)
    await m.setContainerImage('txlookup-consumer', 'consumer', 'repo:1')
    expect(writes).toEqual(['set image txlookup-consumer consumer=repo:1'])
    expect(evidence.records[0]).toMatchObject({
      step: 'set image (mutation)',
      command: 'kubectl -n txlookup set image deployment/txlookup-consumer consumer=repo:1',
    })
  })
})
