/**
 * Benchmark section "notify": what notifications cost the alert path. The
 * appliance calls the notifier synchronously for every new alert, beside
 * the store writer's `queueAlert`; this measures both per alert in the same
 * run (a flood of new alerts, three channels routing them: a digest, a
 * rate-limited channel and one sending at once), and how many messages the
 * flood became, against a local HTTP receiver.
 *
 * @module
 */
import { parseNotifyConfig } from "../notify/mod.ts";
import { Notifier } from "../notify/mod.ts";
import { httpReceiver } from "../notify/_testing.ts";
import { makeAlert, tempStore } from "../store/_testing.ts";
import { StoreWriter } from "../store/mod.ts";
import type { BenchRow } from "./bench.ts";

/** Runs the section: µs per alert for the notifier and the store writer. */
export async function notifyBench(quick: boolean): Promise<BenchRow[]> {
  const n = quick ? 5_000 : 50_000;
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const alerts = Array.from(
    { length: n },
    (_, i) =>
      makeAlert(i, {
        src: `198.51.${(i >> 8) & 255}.${i & 255}`,
        severity: (1 + (i % 3)) as 1 | 2 | 3,
      }),
  );
  const notifier = new Notifier(
    tmp.store,
    parseNotifyConfig({
      public_url: "http://box.test:8080/",
      channels: [
        { id: "digest", kind: "webhook", url: rx.url + "a", digest: "1m" },
        {
          id: "limited",
          kind: "webhook",
          url: rx.url + "b",
          digest: 0,
          rate_limit: { messages: 5, per: "1h" },
        },
        {
          id: "siem",
          kind: "webhook",
          url: rx.url + "c",
          digest: 0,
          route: { min_severity: 4 },
          rate_limit: { messages: 1000, per: "1m" },
        },
      ],
    }),
  );
  await notifier.start();
  const writer = new StoreWriter(tmp.store, { intervalMs: 1000 });
  // Batches of 100 alerts, the event loop running between them as it does
  // between capture batches.
  let notifyMs = 0, writerMs = 0;
  for (let i = 0; i < n; i += 100) {
    const end = Math.min(n, i + 100);
    const t0 = performance.now();
    for (let k = i; k < end; k++) notifier.alert(alerts[k]!);
    const t1 = performance.now();
    for (let k = i; k < end; k++) writer.queueAlert(alerts[k]!, true);
    const t2 = performance.now();
    notifyMs += t1 - t0;
    writerMs += t2 - t1;
    await new Promise((r) => setTimeout(r, 0));
  }
  await notifier.idle();
  const deadline = Date.now() + 30_000;
  while (
    (await notifier.report()).some((r) => r.queued > 0) &&
    Date.now() < deadline
  ) await new Promise((r) => setTimeout(r, 50));
  await notifier.stop();
  await writer.close();
  const byChannel = (p: string) => rx.got.filter((g) => g.path === p).length;
  return [
    {
      section: "notify",
      metric: `notifier.alert, ${
        n.toLocaleString("en")
      } new alerts, 3 channels`,
      value: (notifyMs * 1000) / n,
      unit: "µs/alert",
      reference: "StoreWriter.queueAlert, same alerts",
      referenceValue: (writerMs * 1000) / n,
    },
    {
      section: "notify",
      metric: "messages sent for the flood (rate-limited channel: 5/h)",
      value: byChannel("/b"),
      unit: "messages",
      note: `digest channel ${byChannel("/a")} (1 m window open), ` +
        `siem (1000/min) ${byChannel("/c")}`,
    },
  ];
}
