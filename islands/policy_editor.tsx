/**
 * The Settings page's policy editor: the policy document as JSON, saved
 * through `PUT /api/config`; an invalid document is refused with the
 * server's message naming the field, and nothing changes.
 *
 * @module
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api } from "./_api.ts";
import { type Outcome, OutcomeLine } from "./_form.tsx";

/** Props of {@link PolicyEditor}. */
export interface PolicyEditorProps {
  /** The document in force, pretty-printed JSON. */
  text: string;
}

/** The policy editor. */
export default function PolicyEditor(p: PolicyEditorProps): VNode {
  const [text, setText] = useState(p.text);
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      setMsg({ ok: false, text: `Not valid JSON: ${(e as Error).message}` });
      return;
    }
    setBusy(true);
    const r = await api<unknown>("PUT", "/api/config", doc);
    setBusy(false);
    if (r.ok) {
      setText(JSON.stringify(r.data, null, 2));
      setMsg({ ok: true, text: "Saved. The new policy is in force." });
    } else {
      setMsg({ ok: false, text: r.error });
    }
  };

  return (
    <div class="policy">
      <textarea
        class="code"
        spellcheck={false}
        rows={24}
        value={text}
        aria-label="Detection policy (JSON)"
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <div class="row">
        <button type="button" disabled={busy} onClick={save}>
          Save policy
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            setText(p.text);
            setMsg(null);
          }}
        >
          Revert
        </button>
      </div>
      <OutcomeLine outcome={msg} testId="policy-result" />
    </div>
  );
}
