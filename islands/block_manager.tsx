/**
 * The Blocks page's live part: active blocks with their expiry (updated
 * live, unblock buttons, a form to block by hand) and the allowlist editor.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { AllowView, BlockView } from "../server/deps.ts";
import { api } from "./_api.ts";
import { fmtTime, fmtUntil } from "./_format.ts";
import { subscribe } from "./_live.ts";
import { DurationSelect, type Outcome, OutcomeLine } from "./_form.tsx";

/** Props of {@link BlockManager}. */
export interface BlockManagerProps {
  blocks: BlockView[];
  allow: AllowView[];
  /** Render time, ms since the epoch (expiry texts). */
  now: number;
}

/** Active blocks and the allowlist. */
export default function BlockManager(p: BlockManagerProps): VNode {
  const [blocks, setBlocks] = useState(p.blocks);
  const [allow, setAllow] = useState(p.allow);
  const [now, setNow] = useState(p.now);
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [target, setTarget] = useState("");
  const [duration, setDuration] = useState("1h");
  const [reason, setReason] = useState("");
  const [cidr, setCidr] = useState("");
  const [note, setNote] = useState("");

  const reloadBlocks = async () => {
    const r = await api<{ blocks: BlockView[] }>("GET", "/api/blocks");
    if (r.ok && r.data) setBlocks(r.data.blocks);
  };
  const reloadAllow = async () => {
    const r = await api<{ allowlist: AllowView[] }>("GET", "/api/allowlist");
    if (r.ok && r.data) setAllow(r.data.allowlist);
  };

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    setNow(Date.now());
    const off = subscribe((m) => {
      if (m.kind === "blocks") {
        void reloadBlocks();
        void reloadAllow();
      }
    });
    return () => {
      clearInterval(t);
      off();
    };
  }, []);

  const say = (ok: boolean, text: string) => setMsg({ ok, text });

  return (
    <div class="blocks">
      <section class="panel wide">
        <h2>Active blocks</h2>
        {blocks.length === 0
          ? <p class="empty" data-testid="no-blocks">Nothing is blocked.</p>
          : (
            <table class="list" data-testid="block-table">
              <thead>
                <tr>
                  <th>Address</th>
                  <th>Reason</th>
                  <th>Since</th>
                  <th>Ends in</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {blocks.map((b) => (
                  <tr key={b.target} data-target={b.target}>
                    <td>
                      <a href={`/hosts/${encodeURIComponent(b.target)}`}>
                        {b.target}
                      </a>
                      <div class="sub">
                        {b.source}
                        {b.by ? ` · ${b.by}` : ""}
                      </div>
                    </td>
                    <td>
                      {b.reason}
                      {b.alert_id
                        ? (
                          <div class="sub">
                            <a href={`/alerts/${b.alert_id}`}>alert</a>
                          </div>
                        )
                        : null}
                    </td>
                    <td class="time">{fmtTime(b.since)}</td>
                    <td>{fmtUntil(b.until, now)}</td>
                    <td>
                      <button
                        type="button"
                        data-testid="unblock"
                        onClick={async () => {
                          const r = await api(
                            "DELETE",
                            `/api/blocks/${encodeURIComponent(b.target)}`,
                          );
                          say(r.ok, r.ok ? `Unblocked ${b.target}.` : r.error);
                          await reloadBlocks();
                        }}
                      >
                        Unblock
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        <form
          class="inline"
          data-testid="block-form"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await api("POST", "/api/blocks", {
              target,
              duration,
              reason: reason || "blocked by hand",
            });
            say(r.ok, r.ok ? `Blocked ${target}.` : r.error);
            if (r.ok) setTarget("");
            await reloadBlocks();
          }}
        >
          <label>
            Address or prefix
            <input
              name="target"
              required
              placeholder="203.0.113.7"
              value={target}
              onInput={(e) => setTarget(e.currentTarget.value)}
            />
          </label>
          <label>
            For
            <DurationSelect value={duration} onChange={setDuration} />
          </label>
          <label>
            Reason
            <input
              name="reason"
              value={reason}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="danger">Block</button>
        </form>
      </section>
      <OutcomeLine outcome={msg} testId="block-result" />
      <section class="panel wide">
        <h2>Allowlist</h2>
        <p class="hint">
          Addresses and prefixes here are never blocked, whatever they do.
        </p>
        {allow.length === 0
          ? <p class="empty">The allowlist is empty.</p>
          : (
            <table class="list" data-testid="allow-table">
              <thead>
                <tr>
                  <th>Prefix</th>
                  <th>Note</th>
                  <th>Added</th>
                  <th>Ends</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {allow.map((a) => (
                  <tr key={a.cidr}>
                    <td>{a.cidr}</td>
                    <td>{a.note}</td>
                    <td class="time">
                      {fmtTime(a.since)}
                      {a.added_by ? <div class="sub">{a.added_by}</div> : null}
                    </td>
                    <td>
                      {a.until === null ? "never" : fmtUntil(a.until, now)}
                    </td>
                    <td>
                      <button
                        type="button"
                        onClick={async () => {
                          const r = await api(
                            "DELETE",
                            `/api/allowlist/${encodeURIComponent(a.cidr)}`,
                          );
                          say(r.ok, r.ok ? `Removed ${a.cidr}.` : r.error);
                          await reloadAllow();
                        }}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await api("POST", "/api/allowlist", { cidr, note });
            say(r.ok, r.ok ? `Allowlisted ${cidr}.` : r.error);
            if (r.ok) {
              setCidr("");
              setNote("");
            }
            await reloadAllow();
          }}
        >
          <label>
            Address or prefix
            <input
              name="cidr"
              required
              placeholder="192.168.1.0/24"
              value={cidr}
              onInput={(e) => setCidr(e.currentTarget.value)}
            />
          </label>
          <label>
            Note
            <input
              name="note"
              value={note}
              onInput={(e) => setNote(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Add</button>
        </form>
      </section>
    </div>
  );
}
