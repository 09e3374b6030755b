// Who ran the suite, for the summary and the Allure environment. A container started with an arbitrary
// runAsUser (OpenShift, AKS runAsUser) has no passwd entry and os.userInfo() throws there, so the
// environment comes first and the passwd lookup is only a fallback that may fail quietly.
import { homedir, tmpdir, userInfo } from 'node:os'

/** The operator's name: CLOSEOUT_OPERATOR, the CI's requester, USER/LOGNAME, the passwd entry, else the profile owner. */
export function operatorName(env: NodeJS.ProcessEnv = process.env, owner?: string): string {
  const fromEnv = [env.CLOSEOUT_OPERATOR, env.GITHUB_ACTOR, env.BUILD_REQUESTEDFOR, env.USER, env.LOGNAME].find((v) => v && v.trim())
  if (fromEnv) return fromEnv.trim()
  try {
    const name = userInfo().username
    if (name) return name
  } catch {
    /* no passwd entry for this uid: fall through to the profile owner */
  }
  return owner || `uid ${process.getuid?.() ?? 'unknown'}`
}

/** A HOME for the vitest child: vitest reads os.homedir() at start (its user data dir), which throws
 * when HOME is unset and the uid has no passwd entry. Then the temp dir (writable in the Job: /tmp). */
export function usableHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOME) return env.HOME
  try {
    return homedir()
  } catch {
    return tmpdir()
  }
}
