/**
 * Mutes and auto-archive rules on the Settings page: each with what it
 * matches, the time it has left (counting down; an ended mute says so),
 * its reason, who made it and when, and a button to remove it.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { InboxRule } from "../store/inbox.ts";
import type { MuteView } from "../server/inbox_api.ts";
import { api } from "./_api.ts";
import { POLICY_CHANGED } from "./policy_editor.tsx";
import { type Outcome, OutcomeLine } from "./_form.tsx";
import { fmtTime, fmtUntil, typeLabel } from "./_format.ts";

/** Props of {@link InboxSettings}. */
export interface InboxSettingsProps {
  mutes: MuteView[];
  rules: InboxRule[];
}

function scopeText(m: MuteView): string {
  switch (m.track) {
    case "by_src":
      return `from ${m.ip}`;
    case "by_dst":
      return `to ${m.ip}`;
    case "by_pair":
      return `from ${m.ip} to ${m.dest_ip ?? "?"}`;
    default:
      return `from or to ${m.ip}`;
  }
}

function ruleScope(r: InboxRule): string {
  if (r.src_ip !== null && r.dest_ip !== null) {
    return `from ${r.src_ip} to ${r.dest_ip}`;
  }
  if (r.src_ip !== null) return `from ${r.src_ip}`;
  if (r.dest_ip !== null) return `to ${r.dest_ip}`;
  return "any addresses";
}

function what(sid: number | null, type: string | null): string {
  return [
    type === null ? "" : typeLabel(type),
    sid === null ? "" : `sid ${sid}`,
  ]
    .filter((x) => x !== "").join(" · ");
}

/** One row of {@link ExpiringTable}. */
interface ExpiringRow {
  id: string;
  what: string;
  scope: string;
  /** When it ends (ISO 8601 or ms since the epoch), or null for never. */
  expires: string | number | null;
  reason: string;
  made: string;
}

/** A list of mutes or rules: what, addresses, time left, reason, who and when, Remove. */
function ExpiringTable(p: {
  kind: "mute" | "rule";
  empty: string;
  now: number;
  rows: ExpiringRow[];
  onRemove: (id: string) => void;
}): VNode {
  if (p.rows.length === 0) {
    return <p class="empty" data-testid={`no-${p.kind}s`}>{p.empty}</p>;
  }
  return (
    <table class="list" data-testid={`${p.kind}s`}>
      <thead>
        <tr>
          <th>Alerts</th>
          <th>Addresses</th>
          <th>Time left</th>
          <th>Reason</th>
          <th>Made</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {p.rows.map((r) => {
          const left = r.expires === null
            ? "never ends"
            : fmtUntil(r.expires, p.now);
          return (
            <tr key={r.id} {...{ [`data-${p.kind}`]: r.id }}>
              <td>{r.what}</td>
              <td>{r.scope}</td>
              <td class="time" data-testid="left">
                {left === "expired" ? "ended" : left}
              </td>
              <td>{r.reason}</td>
              <td class="sub">{r.made}</td>
              <td>
                <button
                  type="button"
                  class="small"
                  data-testid={`remove-${p.kind}`}
                  onClick={() => p.onRemove(r.id)}
                >
                  Remove
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The two lists. */
export default function InboxSettings(p: InboxSettingsProps): VNode {
  const [mutes, setMutes] = useState(p.mutes);
  const [rules, setRules] = useState(p.rules);
  const [now, setNow] = useState(() => Date.now());
  const [msg, setMsg] = useState<Outcome | null>(null);

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);

  const removeMute = async (id: string) => {
    const r = await api("DELETE", `/api/suppressions/${id}`);
    if (!r.ok) return setMsg({ ok: false, text: r.error });
    setMutes((old) => old.filter((m) => m.id !== id));
    setMsg({ ok: true, text: "Mute removed." });
    dispatchEvent(new Event(POLICY_CHANGED));
  };
  const removeRule = async (id: string) => {
    const r = await api("DELETE", `/api/inbox/rules/${id}`);
    if (!r.ok) return setMsg({ ok: false, text: r.error });
    setRules((old) => old.filter((x) => x.id !== id));
    setMsg({ ok: true, text: "Rule removed." });
  };

  return (
    <div class="inbox-settings">
      <OutcomeLine outcome={msg} testId="inbox-settings-result" />
      <h3>Mutes</h3>
      <ExpiringTable
        kind="mute"
        empty="No mutes."
        now={now}
        rows={mutes.map((m) => ({
          id: m.id,
          what: what(m.signature_id, m.type),
          scope: scopeText(m),
          expires: m.expires,
          reason: m.note,
          made: `${m.created_by ?? ""}${
            m.created ? `, ${fmtTime(m.created)}` : ""
          }`,
        }))}
        onRemove={removeMute}
      />
      <h3>Auto-archive rules</h3>
      <ExpiringTable
        kind="rule"
        empty="No auto-archive rules."
        now={now}
        rows={rules.map((r) => ({
          id: r.id,
          what: what(r.signature_id, r.type),
          scope: ruleScope(r),
          expires: r.expires,
          reason: r.reason,
          made: `${r.created_by}, ${fmtTime(r.created)}`,
        }))}
        onRemove={removeRule}
      />
    </div>
  );
}
