/**
 * Enable or disable one rule (by sid) or a whole category on the Rules
 * page: the change is saved in the config and the rule set reloaded, then
 * the page shows the new counts.
 *
 * @module
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api } from "./_api.ts";

/** Props of {@link RuleToggle}. */
export interface RuleToggleProps {
  /** A sid, or a category name. */
  sid?: number;
  category?: string;
  /** Whether it is enabled now. */
  enabled: boolean;
}

/** One enable/disable button. */
export default function RuleToggle(p: RuleToggleProps): VNode {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const what = p.sid !== undefined ? { sid: p.sid } : { category: p.category };
  return (
    <span class="rule-toggle">
      <button
        type="button"
        disabled={busy}
        data-testid={p.sid !== undefined
          ? `toggle-sid-${p.sid}`
          : `toggle-cat-${p.category}`}
        onClick={async () => {
          setBusy(true);
          const r = await api("POST", "/api/rules/toggle", {
            ...what,
            enabled: !p.enabled,
          });
          if (r.ok) location.reload();
          else {
            setError(r.error);
            setBusy(false);
          }
        }}
      >
        {busy ? "…" : p.enabled ? "Disable" : "Enable"}
      </button>
      {error !== "" ? <span class="error" role="alert">{error}</span> : null}
    </span>
  );
}
