// One Entra ID sign-in path for the REST calls closeout makes itself (Azure Resource Manager, the
// container registry's token exchange): DefaultAzureCredential unless a credential is given, the
// transport's deadline on the call (raced: a credential chain may ignore the signal), and a one-line
// message naming the scope and what to do. (The Azure Monitor gates sign in through
// @azure/monitor-query-logs, which takes the credential itself.)
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity'
import { DeadlineError, withDeadline } from './transport.ts'

export async function getEntraToken(scope: string, opts: { credential?: TokenCredential; timeoutMs: number }): Promise<string> {
  try {
    const t = await withDeadline(opts.timeoutMs, (abortSignal) =>
      (opts.credential ?? new DefaultAzureCredential()).getToken(scope, { abortSignal }),
    )
    if (!t?.token) throw new Error('no token returned')
    return t.token
  } catch (err) {
    const msg =
      err instanceof DeadlineError ? `no token within ${opts.timeoutMs} ms` : ((err as Error)?.message ?? String(err)).split('\n')[0]
    throw new Error(
      `no Entra ID token for ${scope} (${msg}) — run az login, or configure workload identity / a managed identity for DefaultAzureCredential, and rerun`,
    )
  }
}
