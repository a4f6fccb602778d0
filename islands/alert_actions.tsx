/**
 * Actions on one alert: block its source (for a chosen time), suppress this
 * signature for this source, allowlist the source. Each answers with the
 * server's message (a refused block says why).
 *
 * @module
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api } from "./_api.ts";
import { DurationSelect, type Outcome, OutcomeLine } from "./_form.tsx";

/** Props of {@link AlertActions}. */
export interface AlertActionsProps {
  alertId: string;
  src: string;
  signature: string;
  /** True when the address the block button blocks is blocked now. */
  blocked: boolean;
  /**
   * The address the block button blocks: default the source; for a
   * threat-feed match the listed remote side (never the home host); null:
   * no block button (a DNS lookup's remote side is the resolver).
   */
  block?: string | null;
}

/** The action buttons of an alert. */
export default function AlertActions(p: AlertActionsProps): VNode {
  const target = p.block === undefined ? p.src : p.block;
  const [duration, setDuration] = useState("1h");
  const [blocked, setBlocked] = useState(p.blocked);
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (
    f: () => Promise<{ ok: boolean; error: string }>,
    done: string,
  ) => {
    setBusy(true);
    const r = await f();
    setBusy(false);
    setMsg(r.ok ? { ok: true, text: done } : { ok: false, text: r.error });
    return r.ok;
  };

  return (
    <div class="actions" data-testid="alert-actions">
      <div class="row">
        {target === null ? null : blocked
          ? (
            <button
              type="button"
              disabled={busy}
              onClick={async () => {
                if (
                  await run(
                    () =>
                      api(
                        "DELETE",
                        `/api/blocks/${encodeURIComponent(target)}`,
                      ),
                    `Unblocked ${target}.`,
                  )
                ) setBlocked(false);
              }}
            >
              Unblock {target}
            </button>
          )
          : (
            <>
              <label>
                Block for{" "}
                <DurationSelect value={duration} onChange={setDuration} />
              </label>
              <button
                type="button"
                class="danger"
                disabled={busy}
                onClick={async () => {
                  if (
                    await run(() =>
                      api("POST", "/api/blocks", {
                        target,
                        duration,
                        reason: `From alert: ${p.signature}`.slice(0, 200),
                        alert_id: p.alertId,
                      }), `Blocked ${target} for ${duration}.`)
                  ) setBlocked(true);
                }}
              >
                {target === p.src ? "Block source" : `Block ${target}`}
              </button>
            </>
          )}
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            run(
              () => api("POST", "/api/suppressions", { alert_id: p.alertId }),
              `This signature is now suppressed for ${p.src}.`,
            )}
        >
          Suppress for this source
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            run(
              () =>
                api("POST", "/api/allowlist", {
                  cidr: p.src,
                  note: `From alert ${p.alertId}`,
                }),
              `${p.src} is allowlisted: it will never be blocked.`,
            )}
        >
          Allowlist source
        </button>
      </div>
      <OutcomeLine outcome={msg} testId="action-result" />
    </div>
  );
}
