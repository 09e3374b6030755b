import { test, expect } from 'vitest'
test('runs on Node >= 22.12', () => {
  const [major, minor] = process.versions.node.split('.').map(Number)
  expect(major > 22 || (major === 22 && minor >= 12)).toBe(true)
})
