/**
 * The Rules page: the signature rule set in force — loaded, refused and
 * disabled rules per category with a switch per category, the rules that
 * fired most (each can be disabled), the refused rules with their reason,
 * and how to get Emerging Threats Open when it is not installed.
 *
 * @module
 */
import type { VNode } from "preact";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import RuleToggle from "../islands/rule_toggle.tsx";
import type { RulesView } from "../rules/mod.ts";
import { fmtCount } from "../islands/_format.ts";

/** Page title. */
export const title = "Rules";

/** Props of the Rules page (null: signatures not available). */
export interface RulesPageProps {
  view: RulesView | null;
}

/** Loads the rule set's view. */
export function handler(ctx: RequestContext): Promise<RulesPageProps> {
  return Promise.resolve({
    view: ctx.deps.rules ? ctx.deps.rules.view() : null,
  });
}

function Toggle(
  p: { sid?: number; category?: string; enabled: boolean },
): VNode {
  return (
    <Island name="RuleToggle" props={p}>
      <RuleToggle {...p} />
    </Island>
  );
}

/** The Rules page. */
export default function RulesPage(p: RulesPageProps): VNode {
  const v = p.view;
  if (v === null) {
    return (
      <>
        <h1>Rules</h1>
        <p class="empty">Signature rules are not available in this run.</p>
      </>
    );
  }
  return (
    <>
      <h1>Rules</h1>
      <p data-testid="rules-summary">
        <strong>{fmtCount(v.loaded)}</strong> rules loaded,{" "}
        <strong>{fmtCount(v.refused)}</strong> refused,{" "}
        <strong>{fmtCount(v.disabled)}</strong> disabled in the config
        {v.enabled ? "" : " (signatures are off: rules.enabled)"}; loaded in
        {" "}
        {v.load_ms} ms.
      </p>
      {v.et_open ? null : (
        <div class="hint" data-testid="et-open-howto">
          <p>
            Emerging Threats Open is not installed: only NetSentinel's own rules
            run. To get it, run <code>netsentinel rules update</code>{" "}
            on the box (it downloads{" "}
            <code>{v.update_url}</code>, checks its MD5 and the appliance loads
            it within 30 s), or without internet{" "}
            <code>netsentinel rules update --file emerging.rules.tar.gz</code>.
            The appliance also updates every <code>rules.update_interval</code>.
          </p>
        </div>
      )}
      <h2>Categories</h2>
      <table class="list" data-testid="rule-categories">
        <thead>
          <tr>
            <th>Category</th>
            <th class="num">Loaded</th>
            <th class="num">Refused</th>
            <th class="num">Disabled</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {v.categories.map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td>
              <td class="num">{fmtCount(c.loaded)}</td>
              <td class="num">{fmtCount(c.refused)}</td>
              <td class="num">{fmtCount(c.disabled)}</td>
              <td>
                <Toggle category={c.name.toLowerCase()} enabled={!c.off} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Rules that fired</h2>
      {v.top.length === 0
        ? <p class="empty">No rule has fired since the set was loaded.</p>
        : (
          <table class="list" data-testid="rule-top">
            <thead>
              <tr>
                <th class="num">sid</th>
                <th>Signature</th>
                <th>Category</th>
                <th class="num">Matches</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {v.top.map((r) => (
                <tr key={r.sid}>
                  <td class="num">{r.sid}</td>
                  <td>{r.msg}</td>
                  <td>{r.category}</td>
                  <td class="num">{fmtCount(r.hits)}</td>
                  <td>
                    <Toggle sid={r.sid} enabled />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {v.disabled_sids.length > 0
        ? (
          <>
            <h2>Disabled rules</h2>
            <ul data-testid="rule-disabled">
              {v.disabled_sids.map((sid) => (
                <li key={sid}>
                  sid {sid} <Toggle sid={sid} enabled={false} />
                </li>
              ))}
            </ul>
          </>
        )
        : null}
      <h2>Refused rules</h2>
      {v.refused_rules.length === 0
        ? <p class="empty">Every rule loaded.</p>
        : (
          <table class="list" data-testid="rule-refused">
            <thead>
              <tr>
                <th>File</th>
                <th class="num">Line</th>
                <th class="num">sid</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {v.refused_rules.map((r) => (
                <tr key={`${r.file}:${r.line}`}>
                  <td>{r.file}</td>
                  <td class="num">{r.line}</td>
                  <td class="num">{r.sid ?? ""}</td>
                  <td>{r.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {v.refused > v.refused_rules.length
        ? (
          <p class="hint">
            Showing the first {v.refused_rules.length};{" "}
            <code>netsentinel rules check --list DIR</code> lists them all.
          </p>
        )
        : null}
    </>
  );
}
