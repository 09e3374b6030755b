// The evidence views of Kubernetes objects (pure).

import type { V1Pod } from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import { crashLooping, imageTag, unhealthyContainers } from '../../helpers/kube-views.ts'

const pod = (statuses: NonNullable<V1Pod['status']>['containerStatuses']): V1Pod => ({
  metadata: { name: 'p' },
  status: { phase: 'Running', containerStatuses: statuses },
})
const cs = (name: string, state: object, restartCount = 0) => ({ name, image: 'i', imageID: '', ready: false, restartCount, state })

describe('kube views', () => {
  test('image tags: tag, digest, registry port, untagged', () => {
    expect(imageTag('reg.io:5000/team/app:1.2.3@sha256:abc')).toBe('1.2.3')
    expect(imageTag('reg.io:5000/team/app')).toBeUndefined()
  })
  test('unhealthy containers: CrashLoopBackOff, Error, image pull failures and restarts above the limit', () => {
    const p = pod([
      cs('a', { waiting: { reason: 'CrashLoopBackOff' } }),
      cs('b', { terminated: { reason: 'Error', exitCode: 1 } }),
      cs('c', { waiting: { reason: 'ImagePullBackOff' } }),
      cs('d', { waiting: { reason: 'ErrImagePull' } }),
      cs('e', { running: {} }, 7),
      cs('f', { running: {} }, 1),
    ])
    expect(unhealthyContainers(p, { maxRestarts: 5 })).toEqual([
      'a: CrashLoopBackOff',
      'b: Error',
      'c: ImagePullBackOff',
      'd: ErrImagePull',
      'e: restarts 7 > 5',
    ])
    expect(unhealthyContainers(p)).toHaveLength(4)
    expect(crashLooping(p)).toEqual(['a'])
    expect(unhealthyContainers(pod([cs('ok', { running: {} })]), { maxRestarts: 0 })).toEqual([])
  })
})
