/**
 * Every KV key shape NetSentinel uses, one pure function per shape, so the
 * layout lives in one place. Keys start with a short kind word; ids and
 * addresses are separate key parts (no delimiter to inject).
 *
 * | key | value |
 * | --- | --- |
 * | `["alert", id]` | the alert (retention via `expireIn`) |
 * | `["alert_by_src", ip, id]` | index entry (`null`) |
 * | `["alert_by_type", type, id]` | index entry (`null`) |
 * | `["alert_by_time", ms, id]` | index entry (`null`), ms = alert timestamp |
 * | `["alert_head"]` | {@link AlertHead}: the sequence of committed batches |
 * | `["alert_log", seq]` | ids committed in batch `seq` (new and updated) |
 * | `["alert_group", id]` | an inbox group of alerts (store/inbox.ts) |
 * | `["alert_group_view", view, pin, lastSeenMs, id]` | the group again, in one list (`all`, `inbox`, `archived`, `escalated`) |
 * | `["alert_group_src", view, src, pin, lastSeenMs, id]` | the group again, in one list by its source |
 * | `["inbox_rule", id]` | an auto-archive rule |
 * | `["block", target]` | a block (address or CIDR text) |
 * | `["block_head"]` | bumped on every block or allowlist change |
 * | `["allow", cidr]` | an allowlist entry |
 * | `["decision", ip]` | the last refused or dry-run block decision for an address |
 * | `["offender", ip]` | blocks of an address within the repeat window |
 * | `["stats", resolution, bucketMs]` | a stats rollup (e.g. "1m") |
 * | `["host", ip]` | a known host |
 * | `["device", mac]` | a device (devices/' record; store/devices.ts) |
 * | `["device_edit", mac]` | the owner's name, known/trusted marks and note of a device |
 * | `["device_traffic", mac, "1m" or "1h", bucketMs]` | a device's traffic in one bucket |
 * | `["user", name]` | a user (password hash) |
 * | `["session", idHash]` | a signed-in session |
 * | `["token", hash]` | an API token (hashed) |
 * | `["meta", name]` | appliance facts, e.g. "learning_until" (ms) |
 * | `["notify_outbox", channel, id]` | a message waiting to be sent (ids sort by time) |
 * | `["notify_failed", channel, id]` | a message given up after the last try, with the error |
 * | `["notify_pending", channel]` | a channel's digest being gathered and its recent sends |
 * | `["notify_status", channel]` | a channel's last success and last error |
 *
 * @module
 */

/** `["alert", id]`: one alert. */
export function alertKey(id: string): Deno.KvKey {
  return ["alert", id];
}

/** `["alert"]`: every alert, in id (time) order. */
export function alertPrefix(): Deno.KvKey {
  return ["alert"];
}

/** `["alert_by_src", ip, id]`: index of alerts by source address. */
export function alertBySrcKey(ip: string, id: string): Deno.KvKey {
  return ["alert_by_src", ip, id];
}

/** `["alert_by_src", ip]`: the alerts of one source address. */
export function alertBySrcPrefix(ip: string): Deno.KvKey {
  return ["alert_by_src", ip];
}

/** `["alert_by_type", type, id]`: index of alerts by type. */
export function alertByTypeKey(type: string, id: string): Deno.KvKey {
  return ["alert_by_type", type, id];
}

/** `["alert_by_type", type]`: the alerts of one type. */
export function alertByTypePrefix(type: string): Deno.KvKey {
  return ["alert_by_type", type];
}

/** `["alert_by_time", ms, id]`: index of alerts by their timestamp (ms since the epoch). */
export function alertByTimeKey(ms: number, id: string): Deno.KvKey {
  return ["alert_by_time", ms, id];
}

/** `["alert_by_time"]`: the time index. */
export function alertByTimePrefix(): Deno.KvKey {
  return ["alert_by_time"];
}

/** `["alert_head"]`: changes with every committed batch of alerts. */
export function alertHeadKey(): Deno.KvKey {
  return ["alert_head"];
}

/** `["alert_log", seq]`: the ids committed in batch `seq`. */
export function alertLogKey(seq: number): Deno.KvKey {
  return ["alert_log", seq];
}

/** `["alert_log"]`: the batch log. */
export function alertLogPrefix(): Deno.KvKey {
  return ["alert_log"];
}

/** `["block", target]`: a block of an address or CIDR (normalised text). */
export function blockKey(target: string): Deno.KvKey {
  return ["block", target];
}

/** `["block"]`: every block. */
export function blockPrefix(): Deno.KvKey {
  return ["block"];
}

/** `["block_head"]`: bumped by every change of blocks or the allowlist. */
export function blockHeadKey(): Deno.KvKey {
  return ["block_head"];
}

/** `["allow", cidr]`: an allowlist entry (normalised CIDR text). */
export function allowKey(cidr: string): Deno.KvKey {
  return ["allow", cidr];
}

/** `["allow"]`: the allowlist. */
export function allowPrefix(): Deno.KvKey {
  return ["allow"];
}

/** `["decision", ip]`: the last refused or dry-run block decision for an address. */
export function decisionKey(ip: string): Deno.KvKey {
  return ["decision", ip];
}

/** `["decision"]`: every recorded decision. */
export function decisionPrefix(): Deno.KvKey {
  return ["decision"];
}

/** `["offender", ip]`: how often an address was blocked within the repeat window. */
export function offenderKey(ip: string): Deno.KvKey {
  return ["offender", ip];
}

/** `["stats", resolution, bucketMs]`: one rollup ("1m" buckets start on the minute). */
export function statsKey(resolution: string, bucketMs: number): Deno.KvKey {
  return ["stats", resolution, bucketMs];
}

/** `["stats", resolution]`: the rollups of one resolution, in time order. */
export function statsPrefix(resolution: string): Deno.KvKey {
  return ["stats", resolution];
}

/** `["host", ip]`: a known host. */
export function hostKey(ip: string): Deno.KvKey {
  return ["host", ip];
}

/** `["host"]`: every known host. */
export function hostPrefix(): Deno.KvKey {
  return ["host"];
}

/** `["user", name]`: a user. */
export function userKey(name: string): Deno.KvKey {
  return ["user", name];
}

/** `["user"]`: every user. */
export function userPrefix(): Deno.KvKey {
  return ["user"];
}

/** `["session", idHash]`: a session, keyed by the hash of its cookie value. */
export function sessionKey(idHash: string): Deno.KvKey {
  return ["session", idHash];
}

/** `["session"]`: every session. */
export function sessionPrefix(): Deno.KvKey {
  return ["session"];
}

/** `["token", hash]`: an API token, keyed by the hash of the token. */
export function tokenKey(hash: string): Deno.KvKey {
  return ["token", hash];
}

/** `["token"]`: every API token. */
export function tokenPrefix(): Deno.KvKey {
  return ["token"];
}

/** `["meta", name]`: one appliance fact (for example when host learning ends). */
export function metaKey(name: string): Deno.KvKey {
  return ["meta", name];
}

/** `["notify_outbox", channel, id]`: a message waiting to be sent on a channel. */
export function notifyOutboxKey(channel: string, id: string): Deno.KvKey {
  return ["notify_outbox", channel, id];
}

/** `["notify_outbox", channel]` (or every channel's with no argument): the outbox, oldest first. */
export function notifyOutboxPrefix(channel?: string): Deno.KvKey {
  return channel === undefined ? ["notify_outbox"] : ["notify_outbox", channel];
}

/** `["notify_failed", channel, id]`: a message given up after its last try. */
export function notifyFailedKey(channel: string, id: string): Deno.KvKey {
  return ["notify_failed", channel, id];
}

/** `["notify_failed", channel]` (or every channel's): failed messages. */
export function notifyFailedPrefix(channel?: string): Deno.KvKey {
  return channel === undefined ? ["notify_failed"] : ["notify_failed", channel];
}

/** `["notify_pending", channel]`: the digest a channel is gathering. */
export function notifyPendingKey(channel: string): Deno.KvKey {
  return ["notify_pending", channel];
}

/** `["notify_status", channel]`: a channel's last success and last error. */
export function notifyStatusKey(channel: string): Deno.KvKey {
  return ["notify_status", channel];
}

/** `["alert_group", id]`: one group. */
export function groupKey(id: string): Deno.KvKey {
  return ["alert_group", id];
}

/** `["alert_group_view", view, pin, lastSeenMs, id]`: a group's entry in one list. */
export function groupViewKey(
  view: string,
  pin: number,
  lastMs: number,
  id: string,
): Deno.KvKey {
  return ["alert_group_view", view, pin, lastMs, id];
}

/** `["inbox_rule", id]`: an auto-archive rule. */
export function inboxRuleKey(id: string): Deno.KvKey {
  return ["inbox_rule", id];
}

/** `["inbox_rule"]`: every auto-archive rule. */
export function inboxRulePrefix(): Deno.KvKey {
  return ["inbox_rule"];
}

/** `["alert_group_src", view, src, pin, lastSeenMs, id]`: a group's entry in one list, by source. */
export function groupSrcKey(
  view: string,
  src: string,
  pin: number,
  lastMs: number,
  id: string,
): Deno.KvKey {
  return ["alert_group_src", view, src, pin, lastMs, id];
}
