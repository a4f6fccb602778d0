/**
 * The Settings page: the detection policy editor (validated by the server,
 * messages naming the field), notification channels and API tokens.
 *
 * @module
 */
import type { VNode } from "preact";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import PolicyEditor from "../islands/policy_editor.tsx";
import TokenManager from "../islands/token_manager.tsx";
import NotifyChannels from "../islands/notify_channels.tsx";
import type { NotifyView } from "../notify/mod.ts";
import { policyTag, tokenView } from "../server/api.ts";
import type { TokenView } from "../server/deps.ts";
import { muteViews } from "../server/inbox_api.ts";
import InboxSettings, {
  type InboxSettingsProps,
} from "../islands/inbox_settings.tsx";

/** Page title. */
export const title = "Settings";

/** Props of the Settings page. */
export interface SettingsPageProps {
  policyText: string;
  /** Its entity tag (sent back as If-Match on save). */
  policyTag: string;
  tokens: TokenView[];
  /** Null when notifications are not available. */
  notify: NotifyView | null;
  /** Mutes (the policy's suppressions) and auto-archive rules. */
  inbox: InboxSettingsProps;
}

/** Loads the policy and the token list. */
export async function handler(
  ctx: RequestContext,
): Promise<SettingsPageProps | Response> {
  const doc = await ctx.deps.policy.document();
  const tokens = (await ctx.deps.auth.listTokens()).map(tokenView);
  const notify = ctx.deps.notify ? await ctx.deps.notify.view() : null;
  const inbox = {
    mutes: await muteViews(doc, ctx.now),
    rules: await ctx.deps.inbox.rules(),
  };
  return {
    policyText: JSON.stringify(doc, null, 2),
    policyTag: await policyTag(doc),
    tokens,
    notify,
    inbox,
  };
}

/** The Settings page. */
export default function SettingsPage(p: SettingsPageProps): VNode {
  const policy = { text: p.policyText, tag: p.policyTag };
  const tokens = { tokens: p.tokens };
  return (
    <>
      <h1>Settings</h1>
      <section class="panel wide">
        <h2>Detection policy</h2>
        <p class="hint">
          Home network, detectors and their thresholds, suppressions and the
          blocking rules. Saved changes apply at once; an invalid policy is
          refused and the one in force stays.
        </p>
        <Island name="PolicyEditor" props={policy}>
          <PolicyEditor {...policy} />
        </Island>
      </section>
      <section class="panel wide" id="inbox">
        <h2>Mutes and auto-archive rules</h2>
        <p class="hint">
          Made from the Alerts page or through the API; these lists follow
          changes made elsewhere within seconds. A mute drops new alerts of a
          signature from a source, to a target or between the two until it ends;
          an auto-archive rule lets them in, archived. Both end by themselves
          when their time is up.
        </p>
        <Island name="InboxSettings" props={p.inbox}>
          <InboxSettings {...p.inbox} />
        </Island>
      </section>
      {p.notify
        ? (
          <section class="panel wide" id="notifications">
            <h2>Notifications</h2>
            <p class="hint">
              Where alerts and appliance events go: webhooks (Slack, Discord,
              Mattermost, Matrix), ntfy, Gotify, Telegram, email, syslog.
              Secrets are never shown back; leave a masked value as it is to
              keep it.
            </p>
            <Island name="NotifyChannels" props={{ view: p.notify }}>
              <NotifyChannels view={p.notify} />
            </Island>
          </section>
        )
        : null}
      <section class="panel wide">
        <h2>API tokens</h2>
        <Island name="TokenManager" props={tokens}>
          <TokenManager {...tokens} />
        </Island>
      </section>
      <section class="panel wide">
        <h2>Password</h2>
        <p class="hint">
          Change it on the appliance with <code>netsentinel passwd</code>.
        </p>
      </section>
    </>
  );
}
