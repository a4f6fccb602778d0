/**
 * The Replay page: play a stored or uploaded capture through the detectors
 * at a chosen speed ({@link ReplayPanel} island).
 *
 * @module
 */
import type { VNode } from "preact";
import { MAX_UPLOAD_BYTES } from "../server/api.ts";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import ReplayPanel, {
  type ReplayPanelProps,
} from "../islands/replay_panel.tsx";

/** Page title. */
export const title = "Replay";

/** Props of the Replay page; null panel when replay is not available. */
export interface ReplayPageProps {
  panel: ReplayPanelProps | null;
}

/** Loads the captures and the replay state. */
export async function handler(
  ctx: RequestContext,
): Promise<ReplayPageProps | Response> {
  const r = ctx.deps.replay;
  if (r === undefined) return { panel: null };
  return {
    panel: {
      captures: await r.captures(),
      status: r.status(),
      maxUploadBytes: MAX_UPLOAD_BYTES,
    },
  };
}

/** The Replay page. */
export default function ReplayPage(p: ReplayPageProps): VNode {
  return (
    <>
      <h1>Replay</h1>
      <p class="hint">
        Plays a capture through the whole appliance: detectors, alerts, blocks
        (as configured) and these pages, with packet time mapped to wall time.
      </p>
      {p.panel === null
        ? <p class="empty">Replay is not available while capturing live.</p>
        : (
          <Island name="ReplayPanel" props={p.panel}>
            <ReplayPanel {...p.panel} />
          </Island>
        )}
    </>
  );
}
