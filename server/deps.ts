/**
 * What the dashboard server needs from the rest of the appliance, as narrow
 * interfaces: alerts, hosts and stats history to read, the responder to
 * block and allow, the policy to show and replace, live stats, replay,
 * enrichment, scoring, health and metrics. `run` passes real
 * implementations ({@link kvSources} adapts the KV store); tests pass the
 * same real parts over a temporary database.
 *
 * @module
 */
import type { DeviceEdit, DeviceView } from "../devices/mod.ts";
import type { FeedView, IntelHit } from "../intel/mod.ts";
import type { FleetAlert, FleetView } from "../fleet/mod.ts";
import type { Alert, AlertGeo } from "../alerts/alert.ts";
import type { Logger } from "../common/logger.ts";
import type { NotifyControl } from "../notify/mod.ts";
import type { RulesControl } from "../rules/mod.ts";
import type {
  AlertGroup,
  DeviceTraffic,
  GroupAction,
  GroupPage,
  GroupQuery,
  HostRecord,
  InboxRule,
  SessionRecord,
  TokenRecord,
  UserRecord,
} from "../store/mod.ts";
import type { StatsSnapshot } from "./live_messages.ts";

/** Filters of an alert listing (all optional). */
export interface AlertFilter {
  /** Only alerts at or after this time, ms since the epoch. */
  since?: number;
  /** Only alerts before this time, ms since the epoch. */
  until?: number;
  /** Only this `netsentinel.type`. */
  type?: string;
  /** Only this source address. */
  src?: string;
  /** Only these severities (1 high … 4 info). */
  severities?: readonly number[];
  /** Page size (1 to 10,000). */
  limit?: number;
  /** Continue after a previous page. */
  cursor?: string;
}

/** One page of alerts, newest first. */
export interface AlertPage {
  alerts: Alert[];
  /** Pass as `cursor` for the next page; null after the last. */
  cursor: string | null;
}

/** A committed alert delivered live. */
export interface LiveAlert {
  alert: Alert;
  /** False when the alert was updated (count, last seen, names). */
  isNew: boolean;
}

/** Reading alerts. */
export interface AlertSource {
  /** A filtered page, newest first. */
  list(filter: AlertFilter): Promise<AlertPage>;
  /** One alert, or null. */
  get(id: string): Promise<Alert | null>;
  /** Alerts as they are committed, until `signal` aborts. */
  follow(signal: AbortSignal): AsyncIterable<LiveAlert>;
}

/** The alert inbox (store/inbox.ts): groups, their state, auto-archive rules. */
export interface InboxSource {
  /** A page of groups of one view. */
  groups(q: GroupQuery): Promise<GroupPage>;
  /** One group, or null. */
  group(id: string): Promise<AlertGroup | null>;
  /** Archives, unarchives, escalates or unescalates groups. */
  act(
    ids: readonly string[],
    action: GroupAction,
    by: string,
  ): Promise<{ changed: AlertGroup[]; missing: string[] }>;
  /** The auto-archive rules in force. */
  rules(): Promise<InboxRule[]>;
  /** Adds a rule and archives the inbox groups it matches. */
  addRule(
    r: Omit<InboxRule, "id" | "created">,
  ): Promise<{ rule: InboxRule; archived: number }>;
  /** Removes a rule; false when there was none. */
  removeRule(id: string): Promise<boolean>;
}

/** A known host as stored. */
export type HostView = HostRecord;

/** Reading known hosts. */
export interface HostSource {
  /** Hosts in address order. */
  list(
    opts: { limit: number; cursor?: string },
  ): Promise<{ hosts: HostView[]; cursor: string | null }>;
  /** One host, or null. */
  get(ip: string): Promise<HostView | null>;
}

/** Devices (devices/) as the dashboard reads and edits them. */
export interface DeviceSource {
  /** Devices in MAC order. */
  list(
    opts: { limit: number; cursor?: string },
  ): Promise<{ devices: DeviceView[]; cursor: string | null }>;
  /** One device by its MAC text (lower case, colons), or null. */
  get(mac: string): Promise<DeviceView | null>;
  /** Its traffic rollups with buckets in [from, to). */
  traffic(
    mac: string,
    resolution: "1m" | "1h",
    from: number,
    to: number,
  ): Promise<DeviceTraffic[]>;
  /** Applies the owner's edit; null when there is no such device. */
  edit(mac: string, edit: DeviceEdit): Promise<DeviceView | null>;
  /** The device seen last with this address (MAC and name), or null. */
  byIp(ip: string): { mac: string; name: string | null } | null;
}

/** One stored stats rollup. */
export interface StatsBucket {
  /** Bucket start, ms since the epoch. */
  bucket: number;
  rollup: Record<string, unknown>;
}

/** Reading stored per-minute stats rollups. */
export interface StatsHistory {
  /** Rollups of `resolution` ("1m") with bucket starts in [from, to), oldest first. */
  list(resolution: string, from: number, to: number): Promise<StatsBucket[]>;
}

/** An active block. */
export interface BlockView {
  /** Address or CIDR text. */
  target: string;
  reason: string;
  /** "auto", "cli", "api" or "dashboard". */
  source: string;
  alert_id: string | null;
  alert_type?: string | null;
  /** Start and end, ISO 8601. */
  since: string;
  until: string;
  by?: string | null;
}

/** An allowlist entry. */
export interface AllowView {
  cidr: string;
  note: string;
  added_by: string | null;
  since: string;
  /** End (ISO 8601), or null for no end. */
  until: string | null;
}

/** An API token as listed (never the token itself). */
export interface TokenView {
  /** The token's hash, which names it in `DELETE /api/tokens/:id`. */
  id: string;
  name: string;
  /** First characters of the token, to tell tokens apart. */
  prefix: string;
  created: string;
  created_by: string;
  last_used: string | null;
}

/** A refused or dry-run block decision. */
export interface DecisionView {
  ip: string;
  outcome: string;
  reason: string;
  detail: string;
  at: string;
  count?: number;
}

/** A manual block request. */
export interface BlockRequest {
  /** Address or CIDR. */
  target: string;
  /** Seconds; undefined: the policy's manual duration. */
  durationS?: number;
  reason: string;
  /** The signed-in user or token name. */
  by: string;
  source: "dashboard" | "api";
  /** The alert the block comes from, when any. */
  alertId?: string;
}

/** What a block request did. */
export type BlockOutcome =
  | { ok: true; block: BlockView }
  | { ok: false; reason: string; detail: string };

/** A new allowlist entry. */
export interface AllowRequest {
  cidr: string;
  note: string;
  by: string;
  /** Seconds until it ends; undefined: never. */
  durationS?: number;
}

/** Whether blocking works. */
export interface BlockerState {
  /** "active", "dry_run", "disabled" or "unavailable". */
  state: string;
  /** One sentence, e.g. why nftables is unavailable. */
  detail: string;
}

/**
 * The responder as the dashboard uses it: blocks and the allowlist. Blocks
 * go through the never-block check (admin sessions, own addresses, …).
 */
export interface Responder {
  listBlocks(): Promise<BlockView[]>;
  block(req: BlockRequest): Promise<BlockOutcome>;
  /** Resolves to true when a block existed. */
  unblock(target: string): Promise<boolean>;
  listAllow(): Promise<AllowView[]>;
  /** Throws an error naming "cidr" (a 400) for a bad or too broad prefix. */
  allow(req: AllowRequest): Promise<AllowView>;
  /** Resolves to true when the entry existed. */
  disallow(cidr: string): Promise<boolean>;
  /** Recent refused or dry-run decisions, newest first. */
  decisions(limit: number): Promise<DecisionView[]>;
  state(): BlockerState;
  /** Yields once after every change of blocks or the allowlist, until `signal` aborts. */
  changes(signal: AbortSignal): AsyncIterable<void>;
}

/** The detection policy as the dashboard edits it. */
export interface PolicyControl {
  /** The policy document in force (JSON). */
  document(): Promise<unknown>;
  /**
   * Validates and puts `doc` in force (and stores it). Throws a ConfigError
   * naming the field when invalid; nothing changes then.
   */
  replace(doc: unknown): Promise<void>;
}

/** Live traffic statistics (see {@link LiveStats}). */
export interface StatsSource {
  /** The figures of the last second, and the tops. Called once a second. */
  snapshot(nowMs: number): StatsSnapshot;
  /** The last samples (one a second, without the tops), oldest first. */
  history(): StatsSnapshot[];
  /** The newest sample with its tops, or null before the first. */
  latest(): StatsSnapshot | null;
  /** Counts a new alert for the per-country figures (optional). */
  noteAlert?(country: string | undefined): void;
  /** Home hosts first seen since the last call (optional). */
  takeNewHosts?(): { ip: string; first_seen: string }[];
}

/** A stored capture offered for replay. */
export interface CaptureFile {
  name: string;
  bytes: number;
}

/** What a replay is doing. */
export interface ReplayStatus {
  state: "idle" | "running" | "finished" | "failed";
  /** File name or upload name, null when idle. */
  source: string | null;
  /** Playback speed factor (0: as fast as possible). */
  speed: number;
  packets: number;
  /** Fraction done, 0..1, when known. */
  progress: number | null;
  /** Why it failed, when it did. */
  error: string | null;
}

/** What to replay: a stored capture by name, or uploaded bytes. */
export type ReplaySource =
  | { kind: "file"; name: string }
  | { kind: "upload"; name: string; bytes: Uint8Array };

/**
 * The replay engine as the dashboard drives it (issue 9 implements it):
 * play a capture through the detectors at a speed.
 */
export interface ReplayControl {
  /** Stored captures one may pick. */
  captures(): Promise<CaptureFile[]>;
  /** Starts a replay (stopping one that runs); speed 0 means as fast as possible. */
  start(src: ReplaySource, speed: number): Promise<ReplayStatus>;
  stop(): Promise<ReplayStatus>;
  status(): ReplayStatus;
}

/** Score, verdict and explanation of `POST /api/detect`. */
export type ScoreResult = Record<string, unknown>;

/** The anomaly scorer behind `POST /api/detect`. */
export interface Scorer {
  /** Throws a ConfigError naming the field for a body of the wrong shape. */
  scoreRequest(body: unknown): ScoreResult;
}

/** Reverse DNS and GeoIP of one address (the Enricher fits). */
export interface AddrEnricher {
  enrichAddr(
    ip: string,
  ): { geo: AlertGeo & { scope?: string }; host?: string };
}

/** State of one part of the appliance for `/health`. */
export interface PartHealth {
  /** "up", "down", "degraded", "stopped", … */
  state: string;
  detail?: string;
  [field: string]: unknown;
}

/** One Prometheus metric family. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: ReadonlyArray<
    { labels?: Readonly<Record<string, string>>; value: number }
  >;
}

export type { SessionRecord, TokenRecord, UserRecord };

/** Users, sessions and tokens as stored (hashes only). */
export interface AuthStore {
  getUser(name: string): Promise<UserRecord | null>;
  putUser(rec: UserRecord): Promise<void>;
  listUsers(): Promise<UserRecord[]>;
  putSession(rec: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  deleteSession(idHash: string): Promise<void>;
  listSessions(): Promise<SessionRecord[]>;
  putToken(rec: TokenRecord): Promise<void>;
  getToken(hash: string): Promise<TokenRecord | null>;
  listTokens(): Promise<TokenRecord[]>;
  deleteToken(hash: string): Promise<void>;
}

/** The threat-intelligence feeds (intel/) as the dashboard reads them. */
export interface IntelSource {
  /** Every configured feed with its state. */
  feeds(): FeedView[];
  /** Which loaded feeds list a value (address, domain, hash, URL). */
  lookup(value: string): IntelHit[];
}

/** The fleet (fleet/) as the dashboard reads it. */
export interface FleetSource {
  /** Sensors, fleet-wide blocks and refusals as last read, and whether Redis is reachable. */
  view(): FleetView;
  /** The newest fleet alerts, optionally one sensor's; rejects when Redis is unreachable. */
  alerts(opts: { sensor?: string; limit?: number }): Promise<FleetAlert[]>;
}

/** Everything the dashboard server is given. */
export interface DashboardDeps {
  alerts: AlertSource;
  /** The alert inbox. */
  inbox: InboxSource;
  hosts: HostSource;
  /** Absent: the Devices page says there is no inventory, the API answers 503. */
  devices?: DeviceSource;
  statsHistory: StatsHistory;
  responder: Responder;
  policy: PolicyControl;
  auth: AuthStore;
  /** Live traffic figures (a {@link LiveStats} added to the pipeline). */
  stats: StatsSource;
  /** Absent: the Replay page says replay is not available. */
  replay?: ReplayControl;
  /** Absent: `POST /api/detect` answers 503. */
  scorer?: Scorer;
  /** GeoIP and reverse names for host pages. */
  enricher?: AddrEnricher;
  /** Notification channels; absent: `/api/notify` answers 503. */
  notify?: NotifyControl;
  /** Absent: the Intel page says there are no feeds, the API answers 503. */
  intel?: IntelSource;
  /** The fleet; absent: the Fleet page says how to join one, `/api/fleet` answers 503. */
  fleet?: FleetSource;
  /**
   * Alert pcaps (pcaps/): the file of an alert (`GET /api/alerts/:id/pcap`),
   * null when there is none; absent: every alert answers 404.
   */
  pcaps?: { path(id: string): string | null };
  /** Signature rules; absent: `/api/rules` answers 503. */
  rules?: RulesControl;
  /** Capture, detector and other parts for `/health` (KV and blocker are added). */
  health(): Record<string, PartHealth>;
  /** Probes the database (a small read); rejects when it fails. */
  probeStore(): Promise<void>;
  /** Metric families of the other parts for `/metrics`. */
  metrics(): MetricFamily[];
  log: Logger;
  /** Clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
}
