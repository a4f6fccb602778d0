/**
 * The Overview page: live traffic figures, chart and tops (the
 * {@link LiveOverview} island), seeded with the latest samples.
 *
 * @module
 */
import type { VNode } from "preact";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import LiveOverview, {
  type LiveOverviewProps,
} from "../islands/live_overview.tsx";

/** Page title. */
export const title = "Overview";

/** Loads the latest samples, alerts, blocks and states. */
export async function handler(
  ctx: RequestContext,
): Promise<LiveOverviewProps | Response> {
  const d = ctx.deps;
  const hist = d.stats.history();
  const health = d.health();
  const [page, blocks] = await Promise.all([
    d.alerts.list({ limit: 8, severities: [1, 2, 3] }),
    d.responder.listBlocks(),
  ]);
  return {
    stats: d.stats.latest(),
    series: hist.slice(-300).map((s) => ({
      t: s.t,
      bytes: s.bps,
      bytes_in: s.bps_in,
      bytes_out: s.bps_out,
    })),
    alerts: page.alerts,
    blocks: blocks.length,
    blocker: d.responder.state(),
    capture: {
      state: health.capture?.state ?? "unknown",
      ...(health.capture?.detail ? { detail: health.capture.detail } : {}),
    },
  };
}

/** The Overview page. */
export default function OverviewPage(p: LiveOverviewProps): VNode {
  return (
    <>
      <h1>Overview</h1>
      <Island name="LiveOverview" props={p}>
        <LiveOverview {...p} />
      </Island>
    </>
  );
}
