/**
 * Mutes and auto-archive rules on the Settings page: each with what it
 * matches, the time it has left (counting down; an ended mute says so),
 * its reason, who made it and when, and a button to remove it.
 *
 * The lists follow changes made elsewhere (the Alerts page in another
 * tab, the API, the CLI): they are read again every {@link REFRESH_MS}
 * while the page is in view, at once when it comes back into view, and
 * when another island says the policy changed ({@link POLICY_CHANGED}).
 * A change of the mutes seen that way is announced with the same event,
 * so the policy editor above follows too. A read that fails (the
 * appliance restarting, the session ended) keeps the lists as they were
 * and says since when they are not refreshed, in a quiet line.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { InboxRule } from "../store/inbox.ts";
import type { MuteView } from "../server/inbox_api.ts";
import { api } from "./_api.ts";
import { POLICY_CHANGED } from "./policy_editor.tsx";
import { type Outcome, OutcomeLine } from "./_form.tsx";
import { fmtTime, fmtUntil, typeLabel } from "./_format.ts";

/** How often the lists are read again while the page is in view, ms. */
export const REFRESH_MS = 4000;

/** Set while this island announces {@link POLICY_CHANGED} (it ignores its own). */
let announcing = false;

function announcePolicyChanged(): void {
  announcing = true;
  try {
    dispatchEvent(new Event(POLICY_CHANGED));
  } finally {
    announcing = false;
  }
}

/** What identifies a list of mutes (their ids hash their whole entries). */
function mutesKey(mutes: readonly MuteView[]): string {
  return mutes.map((m) => m.id).join(",");
}

/** Why the lists could not be read again, and since when they are as shown. */
interface Stale {
  signedOut: boolean;
  since: number;
}

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
  const [stale, setStale] = useState<Stale | null>(null);
  /** Bumped by every read and every removal here: an older answer is dropped. */
  const seq = useRef(0);
  const reading = useRef(false);
  /** When the lists shown were last read whole. */
  const readAt = useRef(Date.now());
  const shownMutes = useRef(mutesKey(p.mutes));

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);

  /** Reads both lists again; a failed read keeps what is shown. */
  const refresh = async () => {
    const mine = ++seq.current;
    reading.current = true;
    const quiet = { background: true };
    const [m, r] = await Promise.all([
      api<{ suppressions: MuteView[] }>(
        "GET",
        "/api/suppressions",
        undefined,
        {},
        quiet,
      ),
      api<{ rules: InboxRule[] }>(
        "GET",
        "/api/inbox/rules",
        undefined,
        {},
        quiet,
      ),
    ]);
    if (mine !== seq.current) return;
    reading.current = false;
    const newMutes = m.ok && Array.isArray(m.data?.suppressions)
      ? m.data.suppressions
      : null;
    const newRules = r.ok && Array.isArray(r.data?.rules) ? r.data.rules : null;
    if (newMutes !== null) {
      setMutes(newMutes);
      const key = mutesKey(newMutes);
      if (key !== shownMutes.current) {
        shownMutes.current = key;
        announcePolicyChanged();
      }
    }
    if (newRules !== null) setRules(newRules);
    if (newMutes !== null && newRules !== null) {
      readAt.current = Date.now();
      setStale(null);
    } else {
      setStale({
        signedOut: m.status === 401 || r.status === 401,
        since: readAt.current,
      });
    }
  };

  // Read again on a timer while the page is in view, at once when it comes
  // back into view, and when the policy changed (the editor, another island).
  useEffect(() => {
    const visible = () => document.visibilityState === "visible";
    const t = setInterval(() => {
      if (visible() && !reading.current) void refresh();
    }, REFRESH_MS);
    const onVisible = () => {
      if (visible()) void refresh();
    };
    const onPolicy = () => {
      if (!announcing) void refresh();
    };
    document.addEventListener("visibilitychange", onVisible);
    addEventListener(POLICY_CHANGED, onPolicy);
    return () => {
      clearInterval(t);
      document.removeEventListener("visibilitychange", onVisible);
      removeEventListener(POLICY_CHANGED, onPolicy);
    };
  }, []);

  const removeMute = async (id: string) => {
    const r = await api("DELETE", `/api/suppressions/${id}`);
    // Gone already (removed elsewhere, or ended and taken out): gone here too.
    if (!r.ok && r.status !== 404) return setMsg({ ok: false, text: r.error });
    seq.current++;
    reading.current = false;
    setMutes((old) => {
      const next = old.filter((m) => m.id !== id);
      shownMutes.current = mutesKey(next);
      return next;
    });
    setMsg({
      ok: true,
      text: r.ok ? "Mute removed." : "That mute was already removed.",
    });
    announcePolicyChanged();
  };
  const removeRule = async (id: string) => {
    const r = await api("DELETE", `/api/inbox/rules/${id}`);
    if (!r.ok && r.status !== 404) return setMsg({ ok: false, text: r.error });
    seq.current++;
    reading.current = false;
    setRules((old) => old.filter((x) => x.id !== id));
    setMsg({
      ok: true,
      text: r.ok ? "Rule removed." : "That rule was already removed.",
    });
  };

  return (
    <div class="inbox-settings">
      <OutcomeLine outcome={msg} testId="inbox-settings-result" />
      {stale === null
        ? null
        : (
          <p class="hint" data-testid="inbox-settings-stale">
            {stale.signedOut
              ? `Signed out: these lists are as of ${
                fmtTime(stale.since)
              }; sign in again to see changes made since.`
              : `Not refreshed since ${
                fmtTime(stale.since)
              }: the appliance does not answer; trying again.`}
          </p>
        )}
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
