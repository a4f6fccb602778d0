/**
 * The Intel page: every threat feed with its source, licence, indicators,
 * size, age, last update and last error (a feed older than three update
 * intervals, or never loaded, is a visible warning), and a lookup form
 * (`?q=`) answering which feeds list a value. Server-rendered, no script.
 *
 * @module
 */
import type { VNode } from "preact";
import type { RequestContext } from "../server/context.ts";
import type { FeedView, IntelHit } from "../intel/mod.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Intel";

/** Props of the Intel page. */
export interface IntelPageProps {
  /** Null when the appliance runs without feeds. */
  feeds: FeedView[] | null;
  query: string;
  hits: IntelHit[] | null;
}

/** Loads the feeds' state and answers the lookup. */
export function handler(ctx: RequestContext): Promise<IntelPageProps> {
  const s = ctx.deps.intel;
  const q = (ctx.url.searchParams.get("q") ?? "").trim().slice(0, 2048);
  if (s === undefined) {
    return Promise.resolve({ feeds: null, query: q, hits: null });
  }
  return Promise.resolve({
    feeds: s.feeds(),
    query: q,
    hits: q === "" ? null : s.lookup(q),
  });
}

function size(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

function age(s: number | null): string {
  if (s === null) return "never";
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function every(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : `${Math.round(s / 60)} min`;
}

/** The Intel page. */
export default function IntelPage(p: IntelPageProps): VNode {
  const stale = (p.feeds ?? []).filter((f) => f.stale);
  return (
    <>
      <h1>Threat intelligence</h1>
      <p class="hint">
        Known-bad addresses, domains, TLS fingerprints and certificates. Every
        new connection, DNS lookup, TLS server name and HTTP request is checked
        against them; a match is an <a href="/alerts?type=intel">intel alert</a>
        {" "}
        naming the home host.
      </p>
      {stale.length > 0 && (
        <p class="error" data-testid="intel-stale">
          Stale: {stale.map((f) => f.name).join(", ")}{" "}
          (no copy, or older than three update intervals)
        </p>
      )}
      <form method="get" action="/intel" class="panel wide">
        <label>
          Look up an address, domain, JA3/JA4, certificate SHA-1 or URL{" "}
          <input name="q" value={p.query} maxLength={2048} size={40} />
        </label>{" "}
        <button type="submit">Look up</button>
        {p.hits !== null && (
          p.hits.length === 0
            ? <p data-testid="intel-hits">"{p.query}" is on no feed.</p>
            : (
              <ul data-testid="intel-hits">
                {p.hits.map((h) => (
                  <li key={h.feed + h.line_no}>
                    <strong>{h.feed}</strong> lists <code>{h.indicator}</code>
                    {" "}
                    (line {h.line_no}: <code>{h.line}</code>)
                    {h.listed_since ? `, since ${h.listed_since}` : ""}
                  </li>
                ))}
              </ul>
            )
        )}
      </form>
      <section class="panel wide">
        <h2>Feeds</h2>
        {p.feeds === null || p.feeds.length === 0
          ? <p class="empty">No feed is configured (config: intel.feeds).</p>
          : (
            <table class="list" data-testid="intel-feeds">
              <thead>
                <tr>
                  <th>Feed</th>
                  <th>Indicators</th>
                  <th>Size</th>
                  <th>Age</th>
                  <th>Updated</th>
                  <th>Every</th>
                  <th>On a match</th>
                  <th>Last error</th>
                </tr>
              </thead>
              <tbody>
                {p.feeds.map((f) => (
                  <tr key={f.name} class={f.stale ? "stale" : ""}>
                    <td>
                      {f.link
                        ? (
                          <a href={f.link} rel="noreferrer noopener">
                            {f.name}
                          </a>
                        )
                        : f.name}
                      <div class="hint">
                        {f.kind} · {f.format}
                        {f.enabled ? "" : " · off"}
                        {f.licence ? ` · ${f.licence}` : ""}
                      </div>
                    </td>
                    <td>{f.entries.toLocaleString("en")}</td>
                    <td>{size(f.bytes)}</td>
                    <td class={f.stale ? "error" : ""}>
                      {age(f.age_s)}
                      {f.stale && f.enabled ? " · stale" : ""}
                    </td>
                    <td class="time">
                      {f.updated_at ? <Time t={f.updated_at} /> : "–"}
                    </td>
                    <td>{every(f.interval_s)}</td>
                    <td>
                      severity {f.severity}
                      {f.block ? " · may block" : ""}
                      {f.matches > 0 ? ` · ${f.matches} matches` : ""}
                    </td>
                    <td class={f.last_error ? "error" : ""}>
                      {f.last_error
                        ? (
                          <>
                            {f.last_error}
                            {f.last_error_at && (
                              <div class="hint">
                                <Time t={f.last_error_at} />
                              </div>
                            )}
                          </>
                        )
                        : "–"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>
    </>
  );
}
