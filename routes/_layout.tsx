/**
 * The page shell of every dashboard page: head (stylesheet, the one client
 * bundle as an external module script, no inline script), navigation,
 * main content and the footer with the GeoIP credit.
 *
 * @module
 */
import type { ComponentChildren, VNode } from "preact";
import { SHIPPED_GEO_ATTRIBUTION } from "../enrich/mod.ts";

/** Props of {@link Layout}. */
export interface LayoutProps {
  title: string;
  /** The request path, to mark the current section. */
  path: string;
  /** The signed-in user, or null on the sign-in page. */
  user: string | null;
  /** Version tag appended to asset URLs (cache busting). */
  assetTag: string;
  children: ComponentChildren;
}

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/alerts", "Alerts"],
  ["/devices", "Devices"],
  ["/blocks", "Blocks"],
  ["/intel", "Intel"],
  ["/fleet", "Fleet"],
  ["/rules", "Rules"],
  ["/replay", "Replay"],
  ["/settings", "Settings"],
];

function current(path: string, href: string): boolean {
  return href === "/"
    ? path === "/"
    : path === href || path.startsWith(href + "/");
}

/** The page shell. */
export function Layout(p: LayoutProps): VNode {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${p.title} · NetSentinel`}</title>
        <link
          rel="icon"
          href={`/static/icon.svg?v=${p.assetTag}`}
          type="image/svg+xml"
        />
        <link rel="stylesheet" href={`/static/style.css?v=${p.assetTag}`} />
        {p.user !== null
          ? (
            <script
              type="module"
              src={`/static/bundle/client.js?v=${p.assetTag}`}
            />
          )
          : null}
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">
            <img
              src={`/static/icon.svg?v=${p.assetTag}`}
              alt=""
              width={24}
              height={24}
            />
            NetSentinel
          </a>
          {p.user !== null
            ? (
              <>
                <nav aria-label="Sections">
                  {NAV.map(([href, label]) => (
                    <a
                      key={href}
                      href={href}
                      aria-current={current(p.path, href) ? "page" : undefined}
                    >
                      {label}
                    </a>
                  ))}
                </nav>
                <form class="signout" method="post" action="/signout">
                  <span class="user">{p.user}</span>
                  <button type="submit">Sign out</button>
                </form>
              </>
            )
            : null}
        </header>
        <main>{p.children}</main>
        <footer>
          NetSentinel ·{" "}
          <a href={SHIPPED_GEO_ATTRIBUTION.url} rel="noopener noreferrer">
            {SHIPPED_GEO_ATTRIBUTION.text}
          </a>{" "}
          ({SHIPPED_GEO_ATTRIBUTION.licence})
        </footer>
      </body>
    </html>
  );
}

/** A time rendered on the server in UTC, rewritten to local time by the client. */
export function Time(p: { t: string | number }): VNode {
  const d = new Date(p.t);
  const iso = Number.isNaN(d.getTime()) ? "" : d.toISOString();
  return (
    <time datetime={iso}>
      {iso === "" ? "–" : iso.slice(0, 19).replace("T", " ") + " UTC"}
    </time>
  );
}
