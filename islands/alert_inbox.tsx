/**
 * The alert inbox: groups of alerts (type and signature, source,
 * destination) with their count, first and last seen and the newest
 * alert's summary; archive, escalate and mute (with an expiry and a
 * reason, by source, destination or the pair) or archive from now on (an
 * auto-archive rule), one group or the selected ones; keyboard shortcuts
 * (j/k move, x select, e archive, s escalate, m mute, Enter open) that
 * stay quiet while typing in a field. Groups changed by new alerts are
 * fetched again and blink until seen.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { AlertGroup } from "../store/inbox.ts";
import { api } from "./_api.ts";
import { type Outcome, OutcomeLine } from "./_form.tsx";
import { fmtCount, fmtTime, severityName, typeLabel } from "./_format.ts";
import { subscribe } from "./_live.ts";

/** The filters in force (as in the query string). */
export interface InboxFilter {
  /** `inbox`, `escalated`, `archived` or `all`. */
  view: string;
  type?: string;
  severity?: string;
  src?: string;
  dst?: string;
  since?: string;
}

/** Props of {@link AlertInbox}. */
export interface AlertInboxProps {
  groups: AlertGroup[];
  cursor: string | null;
  filter: InboxFilter;
  /** The query string of the filters (for "Load more" and refreshes). */
  query: string;
}

type Action = "archive" | "unarchive" | "escalate" | "unescalate";

/** True when the group belongs in `view` in its state. */
export function inView(g: AlertGroup, view: string): boolean {
  switch (view) {
    case "inbox":
      return !g.archived;
    case "archived":
      return g.archived;
    case "escalated":
      return g.escalated;
    default:
      return true;
  }
}

/** Escalated first, then last seen, newest first (the server's order). */
export function inboxOrder(groups: readonly AlertGroup[]): AlertGroup[] {
  return [...groups].sort((a, b) =>
    Number(b.escalated) - Number(a.escalated) ||
    Date.parse(b.last_seen) - Date.parse(a.last_seen)
  );
}

/** What an action does to a group's state (the server's answer decides). */
function applied(g: AlertGroup, action: Action): AlertGroup {
  switch (action) {
    case "archive":
      return { ...g, archived: true };
    case "unarchive":
      return { ...g, archived: false };
    case "escalate":
      return { ...g, escalated: true };
    case "unescalate":
      return { ...g, escalated: false };
  }
}

/** True when keys go to a field being typed in (checkboxes are not). */
function typing(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t instanceof HTMLInputElement) return t.type !== "checkbox";
  return t.isContentEditable || ["SELECT", "TEXTAREA"].includes(t.tagName);
}

const DURATIONS: [string, string][] = [
  ["1h", "1 hour"],
  ["1d", "1 day"],
  ["1w", "1 week"],
  ["forever", "forever"],
];

interface MuteProps {
  group: AlertGroup;
  onDone: (text: Outcome, archived: boolean) => void;
  onCancel: () => void;
}

/** The mute / archive-from-now-on form under a group's row. */
function MuteForm(p: MuteProps): VNode {
  const g = p.group;
  const [scope, setScope] = useState(g.dest_ip === null ? "src" : "pair");
  const [duration, setDuration] = useState("1d");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<Outcome | null>(null);
  const whom = scope === "src"
    ? `from ${g.src_ip}`
    : scope === "dst"
    ? `to ${g.dest_ip}`
    : `from ${g.src_ip} to ${g.dest_ip}`;
  const send = async (rule: boolean) => {
    setBusy(true);
    const r = await api<Record<string, unknown>>(
      "POST",
      rule ? "/api/inbox/rules" : "/api/suppressions",
      { group_id: g.id, scope, duration, reason },
    );
    setBusy(false);
    if (!r.ok) {
      setErr({ ok: false, text: r.error });
      return;
    }
    const span = duration === "forever"
      ? "for good"
      : `for ${DURATIONS.find((d) => d[0] === duration)?.[1]}`;
    p.onDone(
      {
        ok: true,
        text: rule
          ? `"${g.signature}" ${whom} is archived on arrival ${span}.`
          : `"${g.signature}" ${whom} is muted ${span}.`,
      },
      rule,
    );
  };
  return (
    <form
      class="mute-form"
      data-testid="mute-form"
      onSubmit={(e) => {
        e.preventDefault();
        send(false);
      }}
    >
      <label>
        Alerts of this signature
        <select
          name="scope"
          value={scope}
          onChange={(e) => setScope(e.currentTarget.value)}
        >
          <option value="src">from {g.src_ip}</option>
          {g.dest_ip === null ? null : (
            <>
              <option value="dst">to {g.dest_ip}</option>
              <option value="pair">
                from {g.src_ip} to {g.dest_ip}
              </option>
            </>
          )}
        </select>
      </label>
      <label>
        For
        <select
          name="duration"
          value={duration}
          onChange={(e) => setDuration(e.currentTarget.value)}
        >
          {DURATIONS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select>
      </label>
      <label class="grow">
        Reason
        <input
          name="reason"
          value={reason}
          maxLength={200}
          placeholder="why (shown on the Settings page)"
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={busy} data-testid="mute-submit">
        Mute
      </button>
      <button
        type="button"
        disabled={busy}
        data-testid="rule-submit"
        onClick={() => send(true)}
      >
        Archive from now on
      </button>
      <button type="button" onClick={p.onCancel}>Cancel</button>
      <OutcomeLine outcome={err} />
    </form>
  );
}

/** The inbox island. */
export default function AlertInbox(p: AlertInboxProps): VNode {
  const view = p.filter.view;
  const [groups, setGroups] = useState<AlertGroup[]>(p.groups);
  const [cursor, setCursor] = useState(p.cursor);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [current, setCurrent] = useState(0);
  const [unseen, setUnseen] = useState<ReadonlySet<string>>(new Set());
  const [muting, setMuting] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<Outcome | null>(null);
  const table = useRef<HTMLTableElement>(null);
  // The keyboard handler reads the latest state through this.
  const state = useRef({ groups, selected, current, busy });
  state.current = { groups, selected, current, busy };

  const sep = p.query === "" ? "" : "&";

  const refresh = async () => {
    const r = await api<{ groups: AlertGroup[] }>(
      "GET",
      `/api/inbox?${p.query}`,
    );
    if (!r.ok || r.data === null) return;
    const fresh = r.data.groups;
    setGroups((old) => {
      const byId = new Map(old.map((g) => [g.id, g]));
      const changed: string[] = [];
      for (const g of fresh) {
        const o = byId.get(g.id);
        if (o === undefined || o.count !== g.count) changed.push(g.id);
        byId.set(g.id, g);
      }
      if (changed.length > 0) {
        setUnseen((u) => new Set([...u, ...changed]));
      }
      return inboxOrder([...byId.values()].filter((g) => inView(g, view)));
    });
  };

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let late: ReturnType<typeof setTimeout> | undefined;
    const off = subscribe((m) => {
      if (m.kind !== "alert") return;
      // Several alerts in a burst: one refresh. The groups are committed
      // just after the alerts; a second, later read catches a slow commit.
      if (timer === undefined) {
        timer = setTimeout(() => {
          timer = undefined;
          refresh();
        }, 300);
      }
      if (late !== undefined) clearTimeout(late);
      late = setTimeout(() => {
        late = undefined;
        refresh();
      }, 2000);
    });
    return () => {
      off();
      if (timer !== undefined) clearTimeout(timer);
      if (late !== undefined) clearTimeout(late);
    };
  }, []);

  const seen = (id: string) => {
    if (!unseen.has(id)) return;
    setUnseen((old) => {
      const n = new Set(old);
      n.delete(id);
      return n;
    });
  };

  const act = async (ids: readonly string[], action: Action) => {
    if (ids.length === 0 || state.current.busy) return;
    setBusy(true);
    const r = await api<{ changed: string[]; missing: string[] }>(
      "POST",
      `/api/inbox/${action}`,
      { groups: ids },
    );
    setBusy(false);
    if (!r.ok || r.data === null) {
      setMsg({ ok: false, text: r.error });
      return;
    }
    const done = new Set([...r.data.changed, ...ids]);
    setGroups((old) => {
      const next = old.map((g) => done.has(g.id) ? applied(g, action) : g)
        .filter((g) => inView(g, view));
      setCurrent((c) => Math.max(0, Math.min(c, next.length - 1)));
      return inboxOrder(next);
    });
    setSelected((old) => new Set([...old].filter((id) => !done.has(id))));
    const n = ids.length;
    const what = n === 1 ? "1 group" : `${n} groups`;
    setMsg({
      ok: true,
      text: {
        archive: `Archived ${what}.`,
        unarchive: `Moved ${what} back to the inbox.`,
        escalate: `Escalated ${what}.`,
        unescalate: `Unescalated ${what}.`,
      }[action],
    });
  };

  /** The groups an action from the keyboard or the bar applies to. */
  const targets = (): string[] => {
    const s = state.current;
    if (s.selected.size > 0) return [...s.selected];
    const g = s.groups[s.current];
    return g === undefined ? [] : [g.id];
  };

  const toggle = (id: string) =>
    setSelected((old) => {
      const n = new Set(old);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const focusRow = (i: number) => {
    const row = table.current?.querySelectorAll<HTMLElement>(
      "tbody tr.group",
    )[i];
    row?.focus();
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      const s = state.current;
      const g = s.groups[s.current];
      switch (e.key) {
        case "j":
        case "k": {
          const i = Math.max(
            0,
            Math.min(
              s.groups.length - 1,
              s.current + (e.key === "j" ? 1 : -1),
            ),
          );
          setCurrent(i);
          focusRow(i);
          break;
        }
        case "x":
          if (g) toggle(g.id);
          break;
        case "e": {
          const ids = targets();
          const first = s.groups.find((x) => ids.includes(x.id));
          act(ids, first?.archived ? "unarchive" : "archive");
          break;
        }
        case "s": {
          const ids = targets();
          const first = s.groups.find((x) => ids.includes(x.id));
          act(ids, first?.escalated ? "unescalate" : "escalate");
          break;
        }
        case "m":
          if (g) setMuting(g.id);
          break;
        case "Enter":
        case "o": {
          // Enter on a button or link is theirs.
          const t = e.target;
          if (
            e.key === "Enter" && t instanceof HTMLElement &&
            (t.tagName === "BUTTON" || t.tagName === "A")
          ) return;
          if (g) location.assign(`/alerts/${g.newest.id}`);
          break;
        }
        default:
          return;
      }
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const more = async () => {
    if (cursor === null) return;
    setBusy(true);
    const r = await api<{ groups: AlertGroup[]; cursor: string | null }>(
      "GET",
      `/api/inbox?${p.query}${sep}cursor=${encodeURIComponent(cursor)}`,
    );
    setBusy(false);
    if (!r.ok || r.data === null) {
      setMsg({ ok: false, text: r.error });
      return;
    }
    const got = r.data.groups;
    setGroups((old) => {
      const have = new Set(old.map((g) => g.id));
      return [...old, ...got.filter((g) => !have.has(g.id))];
    });
    setCursor(r.data.cursor);
  };

  const all = groups.length > 0 && groups.every((g) => selected.has(g.id));
  const sel = [...selected];
  const archivedView = view === "archived";

  return (
    <div class="inbox" data-testid="inbox">
      <div class="bulk-bar" data-testid="bulk-bar">
        <label class="check">
          <input
            type="checkbox"
            checked={all}
            data-testid="select-all"
            aria-label="Select all"
            onChange={() =>
              setSelected(all ? new Set() : new Set(groups.map((g) => g.id)))}
          />
          <span data-testid="selected-count">
            {sel.length === 0 ? "Select all" : `${sel.length} selected`}
          </span>
        </label>
        <button
          type="button"
          disabled={busy || sel.length === 0}
          data-testid="bulk-archive"
          onClick={() => act(sel, archivedView ? "unarchive" : "archive")}
        >
          {archivedView ? "Back to inbox" : "Archive"}
        </button>
        <button
          type="button"
          disabled={busy || sel.length === 0}
          data-testid="bulk-escalate"
          onClick={() => act(sel, "escalate")}
        >
          Escalate
        </button>
        <span class="keys hint">
          <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>x</kbd> select · <kbd>e</kbd>
          {" "}
          archive · <kbd>s</kbd> escalate · <kbd>m</kbd> mute · <kbd>Enter</kbd>
          {" "}
          open
        </span>
      </div>
      <OutcomeLine outcome={msg} testId="inbox-result" />
      {groups.length === 0
        ? (
          <p class="empty" data-testid="inbox-empty">
            {view === "inbox"
              ? "Inbox zero: no alert groups match these filters."
              : "No alert groups match these filters."}
          </p>
        )
        : (
          <table class="alerts inbox" ref={table} data-testid="inbox-table">
            <thead>
              <tr>
                <th class="pick"></th>
                <th>Severity</th>
                <th>Alert</th>
                <th>Source</th>
                <th>Target</th>
                <th class="num">Count</th>
                <th>First seen</th>
                <th>Last seen</th>
                <th class="acts"></th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g, i) => {
                const cls = [
                  "group",
                  i === current ? "current" : "",
                  unseen.has(g.id) ? "unseen" : "",
                  g.escalated ? "escalated" : "",
                  selected.has(g.id) ? "picked" : "",
                ].filter((c) => c !== "").join(" ");
                return [
                  <tr
                    key={g.id}
                    class={cls}
                    data-group={g.id}
                    tabIndex={0}
                    onMouseEnter={() => seen(g.id)}
                    onFocus={() => {
                      seen(g.id);
                      setCurrent(i);
                    }}
                  >
                    <td class="pick">
                      <input
                        type="checkbox"
                        checked={selected.has(g.id)}
                        aria-label="Select"
                        data-testid="pick"
                        onChange={() => toggle(g.id)}
                      />
                    </td>
                    <td>
                      <span class={`sev sev${g.severity}`}>
                        {severityName(g.severity)}
                      </span>
                    </td>
                    <td class="what">
                      <a href={`/alerts/${g.newest.id}`}>{g.signature}</a>
                      {g.escalated
                        ? (
                          <span class="badge escalated" data-testid="escalated">
                            escalated
                          </span>
                        )
                        : null}
                      {g.archived
                        ? (
                          <span class="badge archived" data-testid="archived">
                            archived
                          </span>
                        )
                        : null}
                      <div class="sub">
                        {typeLabel(g.type)} · {g.newest.explanation}
                      </div>
                    </td>
                    <td>
                      <a href={`/hosts/${encodeURIComponent(g.src_ip)}`}>
                        {g.src_ip}
                      </a>
                    </td>
                    <td>
                      {g.dest_ip === null
                        ? "–"
                        : (
                          <a href={`/hosts/${encodeURIComponent(g.dest_ip)}`}>
                            {g.dest_ip}
                          </a>
                        )}
                    </td>
                    <td class="num" data-testid="count">{fmtCount(g.count)}</td>
                    <td class="time">{fmtTime(g.first_seen)}</td>
                    <td class="time">{fmtTime(g.last_seen)}</td>
                    <td class="acts">
                      <button
                        type="button"
                        class="small"
                        disabled={busy}
                        data-testid="archive"
                        onClick={() =>
                          act([g.id], g.archived ? "unarchive" : "archive")}
                      >
                        {g.archived ? "Unarchive" : "Archive"}
                      </button>
                      <button
                        type="button"
                        class="small"
                        disabled={busy}
                        data-testid="escalate"
                        onClick={() =>
                          act([g.id], g.escalated ? "unescalate" : "escalate")}
                      >
                        {g.escalated ? "Unescalate" : "Escalate"}
                      </button>
                      <button
                        type="button"
                        class="small"
                        data-testid="mute"
                        onClick={() => setMuting(muting === g.id ? null : g.id)}
                      >
                        Mute…
                      </button>
                    </td>
                  </tr>,
                  muting === g.id
                    ? (
                      <tr key={`${g.id}-mute`} class="mute-row">
                        <td colSpan={9}>
                          <MuteForm
                            group={g}
                            onCancel={() => setMuting(null)}
                            onDone={(o, archived) => {
                              setMuting(null);
                              setMsg(o);
                              if (
                                archived && !inView({ ...g, archived }, view)
                              ) {
                                setGroups((old) =>
                                  old.filter((x) => x.id !== g.id)
                                );
                              }
                            }}
                          />
                        </td>
                      </tr>
                    )
                    : null,
                ];
              })}
            </tbody>
          </table>
        )}
      {cursor !== null
        ? (
          <button type="button" class="more" disabled={busy} onClick={more}>
            {busy ? "Loading…" : "Load more"}
          </button>
        )
        : null}
    </div>
  );
}
