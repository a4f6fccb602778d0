/**
 * Notifications: channels (webhook with Slack, Discord, Mattermost and
 * Matrix presets, ntfy, Gotify, Telegram, email, syslog), routing, pacing
 * that does not spam (rate limit, digests, quiet hours, daily summary) and
 * a persistent outbox in KV with retries. Consumes alerts and appliance
 * events; the appliance wires it.
 *
 * @module
 */
export * from "./config.ts";
export * from "./message.ts";
export * from "./pacing.ts";
export * from "./channels.ts";
export * from "./syslog.ts";
export * from "./summary.ts";
export * from "./notifier.ts";
export * from "./control.ts";
