/**
 * F3-4 Task 2 step 3 — Event Hubs (Kafka :9093) TCP reachability from inside the consumer pod.
 */
import { fillCommand, GateFailure, gate } from '../../helpers/index.ts'
import { probeFromConsumer } from '../shared/probe.ts'

gate(
  {
    id: 'consumer-eventhubs',
    suite: 'closeout',
    classification: 'STARTUP_FAILED',
    needs: ['consumer-rollout'],
    evidence: '04_consumer_eventhubs_connectivity.log',
    title: 'the consumer pod opens a TCP connection to Event Hubs :9093 and prints eventhubs_tcp_ok',
    description: `kubectl -n txlookup exec deploy/txlookup-consumer -- python -c 'socket.create_connection((EVENTHUBS_HOST, 9093), timeout=5); print("eventhubs_tcp_ok")'`,
  },
  async (ctx) => {
    const p = ctx.target.consumer.eventhubsProbe
    const command = fillCommand(p.command, { host: ctx.target.eventhubs.host, port: String(ctx.target.eventhubs.port) })
    const r = await probeFromConsumer(
      ctx,
      `Event Hubs TCP probe ${ctx.target.eventhubs.host}:${ctx.target.eventhubs.port}`,
      command,
      p.marker,
    )
    if (!r.ok) throw new GateFailure(r.reason)
  },
)
