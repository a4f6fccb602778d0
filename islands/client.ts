/**
 * The one client bundle's entry: hydrates every `[data-island]` element of
 * the page with its component and props, and rewrites server-rendered
 * times (`time[datetime]` outside islands) into the browser's time zone.
 * Built by `deno task bundle` into `static/bundle/client.js`.
 *
 * @module
 */
import { type ComponentType, h, hydrate } from "preact";
import AlertActions from "./alert_actions.tsx";
import AlertFeed from "./alert_feed.tsx";
import AlertInbox from "./alert_inbox.tsx";
import BlockManager from "./block_manager.tsx";
import { DeviceChart, DeviceEditor } from "./device_panel.tsx";
import InboxSettings from "./inbox_settings.tsx";
import LiveOverview from "./live_overview.tsx";
import NotifyChannels from "./notify_channels.tsx";
import PolicyEditor from "./policy_editor.tsx";
import ReplayPanel from "./replay_panel.tsx";
import RuleToggle from "./rule_toggle.tsx";
import TokenManager from "./token_manager.tsx";
import { fmtTime } from "./_format.ts";

// deno-lint-ignore no-explicit-any
const ISLANDS: Record<string, ComponentType<any>> = {
  AlertActions,
  AlertFeed,
  AlertInbox,
  BlockManager,
  DeviceChart,
  DeviceEditor,
  InboxSettings,
  LiveOverview,
  NotifyChannels,
  PolicyEditor,
  ReplayPanel,
  RuleToggle,
  TokenManager,
};

function localTimes(): void {
  for (const el of document.querySelectorAll("time[datetime]")) {
    if (el.closest("[data-island]") !== null) continue;
    const dt = el.getAttribute("datetime");
    if (dt !== null) el.textContent = fmtTime(dt);
  }
}

function hydrateAll(): void {
  for (const el of document.querySelectorAll<HTMLElement>("[data-island]")) {
    const name = el.dataset.island ?? "";
    const comp = ISLANDS[name];
    if (comp === undefined) continue;
    let props: unknown = {};
    try {
      props = JSON.parse(el.dataset.props ?? "{}");
    } catch {
      continue;
    }
    hydrate(h(comp, props as Record<string, unknown>), el);
  }
}

localTimes();
hydrateAll();
document.documentElement.dataset.hydrated = "true";
