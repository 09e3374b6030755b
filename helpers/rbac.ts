// RBAC rules from Role / ClusterRole manifests (deploy/k8s), so tests can bind a simulator token to
// exactly what an in-cluster runner gets.
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'

export interface PolicyRule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
  resourceNames?: string[]
}

export function loadRoleRules(files: string[]): PolicyRule[] {
  const rules: PolicyRule[] = []
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const o = doc.toJS() as { kind?: string; rules?: PolicyRule[] } | null
      if (o && (o.kind === 'Role' || o.kind === 'ClusterRole')) rules.push(...(o.rules ?? []))
    }
  }
  return rules
}

/** Every (rule, verb) pair, each paired with the rules minus that one verb — for minimality proofs. */
export function withoutEachVerb(rules: PolicyRule[]): { removed: string; rules: PolicyRule[] }[] {
  const out: { removed: string; rules: PolicyRule[] }[] = []
  rules.forEach((r, i) => {
    for (const verb of r.verbs) {
      const next = rules.map((x, j) => (j === i ? { ...x, verbs: x.verbs.filter((v) => v !== verb) } : x)).filter((x) => x.verbs.length)
      out.push({
        removed: `${verb} ${r.resources.join(',')}${r.apiGroups.filter(Boolean).length ? `.${r.apiGroups.join(',')}` : ''}`,
        rules: next,
      })
    }
  })
  return out
}
