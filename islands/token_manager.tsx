/**
 * API tokens on the Settings page: the list (name, first characters,
 * created, last used), creating one (shown once, then only its hash is
 * kept), revoking.
 *
 * @module
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api } from "./_api.ts";
import { fmtTime } from "./_format.ts";
import type { TokenView } from "../server/deps.ts";

/** Props of {@link TokenManager}. */
export interface TokenManagerProps {
  tokens: TokenView[];
}

/** The token list and form. */
export default function TokenManager(p: TokenManagerProps): VNode {
  const [tokens, setTokens] = useState(p.tokens);
  const [name, setName] = useState("");
  const [fresh, setFresh] = useState<{ name: string; token: string } | null>(
    null,
  );
  const [error, setError] = useState("");

  const reload = async () => {
    const r = await api<{ tokens: TokenView[] }>("GET", "/api/tokens");
    if (r.ok && r.data) setTokens(r.data.tokens);
  };

  return (
    <div class="tokens">
      {fresh
        ? (
          <div class="fresh" role="status">
            <p>
              New token{" "}
              <strong>{fresh.name}</strong>. Copy it now: it is not shown again.
            </p>
            <code class="token" data-testid="new-token">{fresh.token}</code>
            <p class="hint">
              Use it as <code>Authorization: Bearer …</code> on the API.
            </p>
          </div>
        )
        : null}
      {tokens.length === 0
        ? <p class="empty">No API tokens.</p>
        : (
          <table class="list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Starts with</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td class="time">{fmtTime(t.created)}</td>
                  <td class="time">
                    {t.last_used ? fmtTime(t.last_used) : "never"}
                  </td>
                  <td>
                    <button
                      type="button"
                      onClick={async () => {
                        const r = await api("DELETE", `/api/tokens/${t.id}`);
                        if (!r.ok) setError(r.error);
                        await reload();
                      }}
                    >
                      Revoke
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
          const r = await api<{ token: string; name: string }>(
            "POST",
            "/api/tokens",
            {
              name,
            },
          );
          if (r.ok && r.data) {
            setFresh({ name: r.data.name, token: r.data.token });
            setName("");
            setError("");
            await reload();
          } else setError(r.error);
        }}
      >
        <label>
          Token name
          <input
            name="name"
            required
            placeholder="grafana"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Create token</button>
      </form>
      {error ? <p class="error" role="alert">{error}</p> : null}
    </div>
  );
}
