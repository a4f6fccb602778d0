/**
 * The Blocks page: active blocks with expiry and unblock, blocking by
 * hand, the allowlist editor ({@link BlockManager} island), the blocker's
 * state and recent refused or dry-run decisions.
 *
 * @module
 */
import type { VNode } from "preact";
import type { BlockerState, DecisionView } from "../server/deps.ts";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import BlockManager, {
  type BlockManagerProps,
} from "../islands/block_manager.tsx";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Blocks";

/** Props of the Blocks page. */
export interface BlocksPageProps {
  manager: BlockManagerProps;
  state: BlockerState;
  decisions: DecisionView[];
}

/** Loads blocks, the allowlist and recent decisions. */
export async function handler(
  ctx: RequestContext,
): Promise<BlocksPageProps | Response> {
  const r = ctx.deps.responder;
  const [blocks, allow, decisions] = await Promise.all([
    r.listBlocks(),
    r.listAllow(),
    r.decisions(20),
  ]);
  return {
    manager: { blocks, allow, now: ctx.now },
    state: r.state(),
    decisions,
  };
}

/** The Blocks page. */
export default function BlocksPage(p: BlocksPageProps): VNode {
  return (
    <>
      <h1>Blocks</h1>
      <p class={`state state-${p.state.state}`} data-testid="blocker-state">
        Blocking: <strong>{p.state.state.replace("_", " ")}</strong>
        {p.state.detail ? ` · ${p.state.detail}` : ""}
      </p>
      <Island name="BlockManager" props={p.manager}>
        <BlockManager {...p.manager} />
      </Island>
      <section class="panel wide">
        <h2>Refused and dry-run decisions</h2>
        {p.decisions.length === 0
          ? <p class="empty">None recently.</p>
          : (
            <table class="list">
              <thead>
                <tr>
                  <th>Address</th>
                  <th>Outcome</th>
                  <th>Why</th>
                  <th>When</th>
                </tr>
              </thead>
              <tbody>
                {p.decisions.map((d) => (
                  <tr key={d.ip + d.at}>
                    <td>{d.ip}</td>
                    <td>{d.outcome.replace("_", " ")}</td>
                    <td>{d.detail || d.reason}</td>
                    <td class="time">
                      <Time t={d.at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>
    </>
  );
}
