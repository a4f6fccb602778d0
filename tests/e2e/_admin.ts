/**
 * The admin's browser session on the dashboard: signs in through the form,
 * records every alert message the page's own `/ws/live` socket receives
 * (a wrapper around `WebSocket` installed before the page's scripts run),
 * and calls the JSON API with the session cookie, from the page.
 *
 * @module
 */
import type { Page } from "npm:puppeteer-core@24.8.2";
import { waitInPage } from "./_chromium.ts";

/** An alert as the page's live socket received it. */
export interface LiveAlert {
  id: string;
  type: string;
  src: string;
  dest: string | null;
  action: string;
  isNew: boolean;
  /** Wall time it arrived in the page, ms. */
  at: number;
}

/** The parts of an alert the tests read (EVE fields). */
export interface ApiAlert {
  timestamp: string;
  src_ip: string;
  dest_ip?: string;
  dest_port?: number;
  alert: {
    action: string;
    signature: string;
    severity: number;
    signature_id?: number;
  };
  netsentinel: {
    id: string;
    type: string;
    count: number;
    src_host?: string;
    explanation?: string;
    evidence?: Record<string, unknown>;
  };
}

/** A block as `/api/blocks` lists it. */
export interface ApiBlock {
  target: string;
  reason: string;
  source: string;
  alert_id: string | null;
  since: string;
  until: string;
}

declare global {
  // The recorder's list in the page (see AdminConsole.install).
  var __e2eLive: LiveAlert[] | undefined;
}

/** The signed-in admin's page. */
export class AdminConsole {
  readonly page: Page;
  readonly url: string;

  /** Wraps a page of a browser; call {@link install} before the first navigation. */
  constructor(page: Page, url: string) {
    this.page = page;
    this.url = url;
  }

  /** Installs the live-message recorder for every document the page loads. */
  async install(): Promise<void> {
    await this.page.evaluateOnNewDocument(() => {
      const seen: LiveAlert[] = [];
      Object.defineProperty(globalThis, "__e2eLive", { value: seen });
      const Native = globalThis.WebSocket;
      class Recording extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          this.addEventListener("message", (ev: MessageEvent) => {
            if (typeof ev.data !== "string") return;
            try {
              const m = JSON.parse(ev.data);
              if (m?.kind !== "alert") return;
              seen.push({
                id: String(m.alert.netsentinel.id),
                type: String(m.alert.netsentinel.type),
                src: String(m.alert.src_ip),
                dest: m.alert.dest_ip ?? null,
                action: String(m.alert.alert.action),
                isNew: m.isNew === true,
                at: Date.now(),
              });
            } catch {
              // Not JSON: the page ignores it too.
            }
          });
        }
      }
      globalThis.WebSocket = Recording;
    });
  }

  /**
   * Opens `path`; when sent to the sign-in page, signs in as admin with
   * `password`. Resolves once the page is hydrated and its live socket is
   * open.
   */
  async open(path: string, password: string): Promise<void> {
    const page = this.page;
    await page.goto(this.url + path, { timeout: 30_000 });
    if (new URL(page.url()).pathname === "/signin") {
      await page.type("input[name=password]", password);
      await Promise.all([
        page.waitForNavigation({ timeout: 30_000 }),
        page.click("button[type=submit]"),
      ]);
    }
    const at = new URL(page.url()).pathname;
    if (at !== path) {
      throw new Error(`Expected to land on "${path}", got "${page.url()}"`);
    }
    await this.waitLive();
  }

  /** Waits until the page is hydrated and its live socket is open. */
  async waitLive(ms = 30_000): Promise<void> {
    await waitInPage(
      this.page,
      "the page to hydrate and its live socket to open",
      () =>
        document.documentElement.dataset.hydrated === "true" &&
        document.documentElement.dataset.live === "live",
      [],
      ms,
    );
  }

  /** Alerts the page's live socket received since the document loaded. */
  liveAlerts(): Promise<LiveAlert[]> {
    return this.page.evaluate(() => [...(globalThis.__e2eLive ?? [])]);
  }

  /** GETs `path` with the session cookie, from the page; resolves to status and JSON. */
  async api<T>(path: string): Promise<{ status: number; body: T }> {
    const r = await this.page.evaluate(async (p: string) => {
      const res = await fetch(p, { headers: { accept: "application/json" } });
      return { status: res.status, text: await res.text() };
    }, path);
    let body: unknown = null;
    try {
      body = JSON.parse(r.text);
    } catch {
      body = r.text;
    }
    return { status: r.status, body: body as T };
  }

  /** Every stored alert (newest first), up to 1,000. */
  async alerts(): Promise<ApiAlert[]> {
    const r = await this.api<{ alerts: ApiAlert[] }>(
      "/api/alerts?limit=1000",
    );
    if (r.status !== 200) {
      throw new Error(`GET /api/alerts: HTTP ${r.status}`);
    }
    return r.body.alerts;
  }

  /** The active blocks. */
  async blocks(): Promise<ApiBlock[]> {
    const r = await this.api<{ blocks: ApiBlock[] }>("/api/blocks");
    if (r.status !== 200) throw new Error(`GET /api/blocks: HTTP ${r.status}`);
    return r.body.blocks;
  }

  /** True when the alert table on the page shows a row for alert `id`. */
  showsRow(id: string): Promise<boolean> {
    return this.page.evaluate(
      (i: string) =>
        document.querySelector(`table.alerts tr[data-id="${i}"]`) !== null,
      id,
    );
  }
}
