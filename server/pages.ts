/**
 * The dashboard pages: each `routes/` module's handler loads its props,
 * and its default component renders them inside the {@link Layout} with
 * `preact-render-to-string`.
 *
 * @module
 */
import { type ComponentType, h } from "preact";
import { renderToString } from "preact-render-to-string";
import * as alertRoute from "../routes/alert.tsx";
import * as alertsRoute from "../routes/alerts.tsx";
import * as blocksRoute from "../routes/blocks.tsx";
import * as deviceRoute from "../routes/device.tsx";
import * as devicesRoute from "../routes/devices.tsx";
import * as hostRoute from "../routes/host.tsx";
import * as hostsRoute from "../routes/hosts.tsx";
import * as intelRoute from "../routes/intel.tsx";
import * as fleetRoute from "../routes/fleet.tsx";
import * as overviewRoute from "../routes/overview.tsx";
import * as replayRoute from "../routes/replay.tsx";
import * as rulesRoute from "../routes/rules.tsx";
import * as settingsRoute from "../routes/settings.tsx";
import SignInPage, { type SignInProps } from "../routes/signin.tsx";
import { Layout } from "../routes/_layout.tsx";
import type { Handler, PageHandler, RequestContext } from "./context.ts";
import type { Router } from "./router.ts";

/** What a route module exports. */
export interface PageModule<P> {
  title: string;
  handler: PageHandler<P>;
  default: ComponentType<P>;
}

/** Renders a full HTML document. */
export function renderDocument(
  opts: { title: string; path: string; user: string | null; assetTag: string },
  body: ComponentType<Record<string, unknown>>,
  props: Record<string, unknown>,
  status = 200,
): Response {
  const html = "<!DOCTYPE html>" +
    renderToString(
      h(Layout, { ...opts, children: h(body, props) }),
    );
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

function pageHandler<P>(mod: PageModule<P>, assetTag: () => string): Handler {
  return async (ctx: RequestContext) => {
    const out = await mod.handler(ctx);
    if (out instanceof Response) return out;
    return renderDocument(
      {
        title: mod.title,
        path: ctx.url.pathname,
        user: ctx.principal?.name ?? null,
        assetTag: assetTag(),
      },
      mod.default as unknown as ComponentType<Record<string, unknown>>,
      out as Record<string, unknown>,
    );
  };
}

/** Renders the sign-in page. */
export function renderSignIn(
  props: SignInProps,
  assetTag: string,
  status = 200,
): Response {
  return renderDocument(
    { title: "Sign in", path: "/signin", user: null, assetTag },
    SignInPage as unknown as ComponentType<Record<string, unknown>>,
    props as unknown as Record<string, unknown>,
    status,
  );
}

/** Adds every page route (signed-in pages) to `router`. */
export function addPageRoutes(
  router: Router<Handler>,
  assetTag: () => string,
): void {
  const page = <P>(m: PageModule<P>) => pageHandler(m, assetTag);
  router
    .add("GET", "/", page(overviewRoute))
    .add("GET", "/alerts", page(alertsRoute))
    .add("GET", "/alerts/:id", page(alertRoute))
    .add("GET", "/devices", page(devicesRoute))
    .add("GET", "/devices/:mac", page(deviceRoute))
    .add("GET", "/hosts", page(hostsRoute))
    .add("GET", "/hosts/:ip", page(hostRoute))
    .add("GET", "/blocks", page(blocksRoute))
    .add("GET", "/intel", page(intelRoute))
    .add("GET", "/fleet", page(fleetRoute))
    .add("GET", "/rules", page(rulesRoute))
    .add("GET", "/replay", page(replayRoute))
    .add("GET", "/settings", page(settingsRoute));
}
