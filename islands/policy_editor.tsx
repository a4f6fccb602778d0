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
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./_api.ts";
import { type Outcome, OutcomeLine } from "./_form.tsx";

/** Props of {@link PolicyEditor}. */
export interface PolicyEditorProps {
  /** The document in force, pretty-printed JSON. */
  text: string;
  /** Its entity tag (`GET /api/config`'s `ETag`): a save sends it as `If-Match`. */
  tag: string;
}

/**
 * Event other islands send when the policy changed: a mute made or removed
 * on this page, or one they noticed was made or removed elsewhere.
 */
export const POLICY_CHANGED = "netsentinel:policy-changed";

/** The policy editor. */
export default function PolicyEditor(p: PolicyEditorProps): VNode {
  const [text, setTextState] = useState(p.text);
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  /** The policy in force changed under edits made before it did. */
  const [stale, setStale] = useState(false);
  // The text as of now and the document it was loaded from (with its tag),
  // for answers that arrive after more typing (state in a closure would be
  // the render's).
  const textNow = useRef(p.text);
  const loaded = useRef({ text: p.text, tag: p.tag });
  const setText = (t: string) => {
    textNow.current = t;
    setTextState(t);
  };

  /**
   * Loads the policy in force: into the editor when `force` (dropping
   * edits) or when it is untouched; an edited one keeps its edits and its
   * tag, so saving them is refused (If-Match) until Revert, and says so.
   */
  const reload = async (force: boolean) => {
    const r = await api<unknown>("GET", "/api/config", undefined, {}, {
      background: !force,
    });
    if (!r.ok || r.etag === null) {
      // A refresh nobody asked for that failed changes nothing.
      if (force) {
        setMsg({ ok: false, text: r.error || "No entity tag in the answer" });
      }
      return;
    }
    const t = JSON.stringify(r.data, null, 2);
    if (force || textNow.current === loaded.current.text) {
      loaded.current = { text: t, tag: r.etag };
      setText(t);
      setStale(false);
      if (force) setMsg(null);
    } else if (r.etag !== loaded.current.tag) {
      setStale(true);
    }
  };

  // A mute made or removed on this page or elsewhere (the list below
  // notices) changes the policy: an untouched editor shows the new one at
  // once; an edited one keeps the edits, and saving them is refused
  // (If-Match) until Revert loads the policy in force.
  useEffect(() => {
    const on = () => void reload(false);
    addEventListener(POLICY_CHANGED, on);
    return () => removeEventListener(POLICY_CHANGED, on);
  }, []);

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
      "if-match": loaded.current.tag,
    });
    setBusy(false);
    if (r.ok) {
      const t = JSON.stringify(r.data, null, 2);
      setText(t);
      loaded.current = { text: t, tag: r.etag ?? loaded.current.tag };
      setStale(false);
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
      {stale
        ? (
          <p class="hint" data-testid="policy-stale">
            The policy in force changed since these edits began (a mute made or
            removed, another tab): Revert loads it; saving these edits would
            undo that and is refused.
          </p>
        )
        : null}
      <OutcomeLine outcome={msg} testId="policy-result" />
    </div>
  );
}
