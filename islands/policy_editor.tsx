/**
 * The Settings page's policy editor: the policy document as JSON, saved
 * through `PUT /api/config`; an invalid document is refused with the
 * server's message naming the field, and nothing changes. A save carries
 * the tag of the document it was made from (`If-Match`), so a policy that
 * changed meanwhile (a mute, another tab) is never silently overwritten.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "./_api.ts";
import { type Outcome, OutcomeLine } from "./_form.tsx";

/** Props of {@link PolicyEditor}. */
export interface PolicyEditorProps {
  /** The document in force, pretty-printed JSON. */
  text: string;
  /** Its entity tag (`GET /api/config`'s `ETag`): a save sends it as `If-Match`. */
  tag: string;
}

/** Event other islands send when they changed the policy (a mute made or removed). */
export const POLICY_CHANGED = "netsentinel:policy-changed";

/** The policy editor. */
export default function PolicyEditor(p: PolicyEditorProps): VNode {
  const [text, setText] = useState(p.text);
  const [loaded, setLoaded] = useState({ text: p.text, tag: p.tag });
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

  /** Loads the policy in force (dropping edits when `force`). */
  const reload = async (force: boolean) => {
    const r = await api<unknown>("GET", "/api/config");
    if (!r.ok || r.etag === null) {
      setMsg({ ok: false, text: r.error || "No entity tag in the answer" });
      return;
    }
    const t = JSON.stringify(r.data, null, 2);
    setLoaded({ text: t, tag: r.etag });
    setText((cur) => (force || cur === loaded.text ? t : cur));
    if (force) setMsg(null);
  };

  // A mute removed below changes the policy: an untouched editor shows the
  // new one at once; an edited one keeps the edits, and saving them is
  // refused (If-Match) until Revert loads the policy in force.
  useEffect(() => {
    const on = () => void reload(false);
    addEventListener(POLICY_CHANGED, on);
    return () => removeEventListener(POLICY_CHANGED, on);
  });

  const save = async () => {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      setMsg({ ok: false, text: `Not valid JSON: ${(e as Error).message}` });
      return;
    }
    setBusy(true);
    const r = await api<unknown>("PUT", "/api/config", doc, {
      "if-match": loaded.tag,
    });
    setBusy(false);
    if (r.ok) {
      const t = JSON.stringify(r.data, null, 2);
      setText(t);
      setLoaded({ text: t, tag: r.etag ?? loaded.tag });
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
          onClick={() => void reload(true)}
        >
          Revert
        </button>
      </div>
      <OutcomeLine outcome={msg} testId="policy-result" />
    </div>
  );
}
