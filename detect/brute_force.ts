/**
 * `brute_force`: password guessing inferred from flow shape alone, no logs.
 *
 * - Login services (ssh, telnet, ftp, rdp, smb and others by port): a login
 *   attempt is a connection that completed its handshake, exchanged data
 *   both ways, and ended within `max_duration_s` with at most `max_bytes`
 *   of payload and `max_packets` client packets (a failed login is short
 *   and small; a real session is neither, and an interactive one sends a
 *   packet per keystroke). `attempts` of them from one client to one
 *   service within `window_s` raise the alert (Zeek's SSH guesser: 30
 *   failures in 30 min; hydra tries several passwords per connection).
 *   SSH connections that logged in are not attempts: the outcome of SSH
 *   authentication shows in the sizes of the server's encrypted packets
 *   (Zeek's SSH analyzer does the same). After the client's NEWKEYS, the
 *   server's first packet is SERVICE_ACCEPT; USERAUTH_SUCCESS carries 16
 *   payload bytes less and is the only answer that short (a FAILURE lists
 *   methods, PK_OK a key), so a server segment of the accept's size minus
 *   16 means the login succeeded. A script's one-shot `ssh box cmd`
 *   commands then never look like guessing.
 * - HTTP authentication: `http_401` responses "401 Unauthorized" or "403
 *   Forbidden" to one client from one server within the window, counted
 *   per response over every request of a connection (keep-alive) and
 *   across connections, from the reassembled HTTP transactions.
 * - HTTP forms: `http_posts` POSTs from one client to the same login-like
 *   path (policy `http_login_paths`) on one server within the window, every
 *   request of a connection counted.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import {
  formatAddr,
  IPPROTO_TCP,
  type Packet,
  TCP_ACK,
} from "../decode/mod.ts";
import type { AppContext, AppRecord } from "../protocols/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type Flow,
  type PacketContext,
} from "../flows/mod.ts";
import { Slab } from "./_slab.ts";
import { KeyedTable } from "./_table.ts";
import { detection, type Detector, type Emit, seconds } from "./detector.ts";

const TYPE: AlertType = "brute_force";
const UPDATE_US = 5e6;
const MAX_RING = 4096;
const TAG_LOGIN = 1, TAG_401 = 2, TAG_POST = 3;

/** Times of the last N events: is the N-th most recent inside the window? */
class Recent {
  readonly times: Float64Array;
  n = 0;
  head = 0;
  constructor(cap: number, slab: Slab) {
    this.times = slab.f64(Math.max(1, cap));
  }
  /** Records an event at `t`; returns how many of the stored ones are at or after `since`. */
  push(t: number, since: number): number {
    const cap = this.times.length;
    this.times[this.head] = t;
    this.head = (this.head + 1) % cap;
    if (this.n < cap) this.n++;
    let c = 0;
    for (let i = 0; i < this.n; i++) if (this.times[i]! >= since) c++;
    return c;
  }
  clear(): void {
    this.n = this.head = 0;
  }
}

class Guesser {
  version: 4 | 6 = 4;
  readonly client: Uint32Array;
  readonly server: Uint32Array;
  port = 0;
  tag = 0;
  variant = "";
  path = "";
  /** HTTP answers counted: 401 and 403. */
  n401 = 0;
  n403 = 0;
  recent: Recent;
  attempts = 0;
  reported = 0;
  firstUs = 0;
  lastUs = 0;
  durSumUs = 0;
  bytesSum = 0;
  alerted = false;
  lastEmitUs = 0;
  dirty = false;
  /** A report is due once the caller has added the attempt's facts. */
  due = false;
  constructor(cap: number, slab: Slab) {
    this.client = slab.u32(4);
    this.server = slab.u32(4);
    this.recent = new Recent(cap, slab);
  }
  reset(): void {
    this.recent.clear();
    this.attempts = this.reported = 0;
    this.firstUs =
      this.lastUs =
      this.durSumUs =
      this.bytesSum =
        0;
    this.alerted = false;
    this.lastEmitUs = 0;
    this.dirty = this.due = false;
    this.path = "";
    this.n401 = this.n403 = 0;
  }
}

/** Where an SSH connection's authentication stands (see the module doc). */
const SSH_KEX = 0, SSH_ACCEPT = 1, SSH_AUTH = 2, SSH_LOGGED_IN = 3;
/** SSH flows followed at once; more are judged by shape alone. */
const MAX_SSH_FLOWS = 65_536;
/** Bytes between SERVICE_ACCEPT and USERAUTH_SUCCESS as encrypted. */
const SSH_SUCCESS_SHORTER = 16;

/**
 * True when the segment starts with a cleartext SSH_MSG_NEWKEYS packet
 * (length 12, padding 10, message 21): encryption starts after it.
 */
function isNewKeys(p: Packet): boolean {
  if (p.payloadLen < 16) return false;
  const d = p.data, o = p.payloadOffset;
  return d[o] === 0 && d[o + 1] === 0 && d[o + 2] === 0 && d[o + 3] === 12 &&
    d[o + 4] === 10 && d[o + 5] === 21;
}

function hashText(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/** Builds the brute-force detector. */
export function bruteForce(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.brute_force;
  const windowUs = cfg.window_s * 1e6;
  const maxDurUs = cfg.max_duration_s * 1e6;
  const need = [0, cfg.attempts, cfg.http_401, cfg.http_posts].map((n) =>
    Math.min(n, MAX_RING)
  );
  const cap = Math.max(need[1]!, need[2]!, need[3]!);
  const alerting = new Set<Guesser>();
  const slab = new Slab();
  const table = new KeyedTable<Guesser>(
    cfg.max_trackers,
    () => new Guesser(cap, slab),
    (g) => {
      alerting.delete(g);
      g.reset();
    },
    (g) => {
      if (g.alerted && g.dirty) report(g);
    },
  );
  const services = cfg.services;
  const loginPaths = cfg.http_login_paths;
  /** SSH flows in authentication: the stage, and the SERVICE_ACCEPT size once seen. */
  const ssh = new Map<Flow, { stage: number; accept: number }>();

  /** Follows an SSH connection's authentication through its packet sizes. */
  function sshPacket(p: Packet, f: Flow, dir: number): void {
    let st = ssh.get(f);
    if (st === undefined) {
      if (ssh.size >= MAX_SSH_FLOWS) return;
      st = { stage: SSH_KEX, accept: 0 };
      ssh.set(f, st);
    }
    switch (st.stage) {
      case SSH_KEX:
        if (dir === DIR_TO_SERVER && isNewKeys(p)) st.stage = SSH_ACCEPT;
        break;
      case SSH_ACCEPT:
        if (dir === DIR_TO_CLIENT && !isNewKeys(p)) {
          st.accept = p.payloadLen;
          st.stage = SSH_AUTH;
        }
        break;
      case SSH_AUTH:
        if (
          dir === DIR_TO_CLIENT &&
          p.payloadLen === st.accept - SSH_SUCCESS_SHORTER
        ) st.stage = SSH_LOGGED_IN;
        break;
    }
  }

  function report(g: Guesser): void {
    g.lastEmitUs = g.lastUs;
    g.dirty = false;
    const count = g.attempts - g.reported;
    g.reported = g.attempts;
    const src = formatAddr(g.version, g.client);
    const dst = formatAddr(g.version, g.server);
    const durUs = g.lastUs - g.firstUs;
    const evidence: Record<string, unknown> = {
      service: g.variant,
      port: g.port,
      attempts: g.attempts,
      duration_s: seconds(durUs),
      window_s: cfg.window_s,
      threshold: need[g.tag],
    };
    let what: string;
    if (g.tag === TAG_LOGIN) {
      evidence.mean_connection_s = seconds(
        g.durSumUs / Math.max(1, g.attempts),
      );
      evidence.mean_payload_bytes = Math.round(
        g.bytesSum / Math.max(1, g.attempts),
      );
      what = `${g.attempts} short ${g.variant} login connections`;
    } else if (g.tag === TAG_401) {
      evidence.http_401 = g.n401;
      evidence.http_403 = g.n403;
      what = `${g.attempts} HTTP 401/403 (authentication failed) answers`;
    } else {
      evidence.path = g.path;
      what = `${g.attempts} POSTs to ${g.path}`;
    }
    emit(detection(policy, TYPE, g.variant, {
      tsUs: g.lastUs,
      count,
      firstUs: g.firstUs,
      src,
      dest: dst,
      destPort: g.port,
      proto: "TCP",
      key: `${src}>${dst}:${g.port}/${g.tag}`,
      evidence,
      explanation: `${src} made ${what} to ${dst}:${g.port} in ${
        seconds(durUs)
      } s`,
    }));
  }

  function attempt(
    tag: number,
    variant: string,
    version: 4 | 6,
    client: Uint32Array,
    server: Uint32Array,
    port: number,
    extra: number,
    tsUs: number,
  ): Guesser {
    table.setKey(tag, version, client, server, (port << 8) ^ extra);
    const g = table.upsert(tsUs);
    if (table.lastCreated) {
      g.version = version;
      g.client.set(client);
      g.server.set(server);
      g.port = port;
      g.tag = tag;
      g.variant = variant;
    }
    if (!g.alerted && g.attempts > 0 && tsUs - g.lastUs > windowUs) {
      g.recent.clear();
      g.n401 = g.n403 = 0;
      g.attempts =
        g.reported =
        g.durSumUs =
        g.bytesSum =
          0;
    }
    if (g.attempts === 0) g.firstUs = tsUs;
    if (tsUs > g.lastUs) g.lastUs = tsUs;
    g.attempts++;
    const inWindow = g.recent.push(tsUs, tsUs - windowUs);
    if (g.alerted) {
      g.dirty = true;
      g.due = tsUs - g.lastEmitUs >= UPDATE_US;
    } else if (inWindow >= need[tag]!) {
      g.alerted = true;
      alerting.add(g);
      g.due = true;
    }
    return g;
  }

  /** Reports `g` when its last attempt made a report due (after the caller added its facts). */
  function flush(g: Guesser): void {
    if (g.due) {
      g.due = false;
      report(g);
    }
  }

  function loginPath(uri: string): string {
    const q = uri.indexOf("?");
    const path = (q < 0 ? uri : uri.slice(0, q)).toLowerCase();
    for (const s of loginPaths) if (path.includes(s)) return path;
    return "";
  }

  return {
    type: TYPE,
    appKinds: ["http"] as const,
    stateSize: () => table.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      if (p.proto !== IPPROTO_TCP || p.payloadLen === 0) return;
      const f = ctx.flow;
      if (services.get(f.dstPort) === "ssh") {
        sshPacket(p, f, ctx.dir);
        return;
      }
    },
    onApp(rec: AppRecord, ctx: AppContext): void {
      if (rec.kind !== "http") return;
      const f = ctx.flow;
      if (rec.state === "complete") {
        const st = rec.status;
        if (st !== 401 && st !== 403) return;
        const g = attempt(
          TAG_401,
          "http_auth",
          f.version,
          f.srcAddr,
          f.dstAddr,
          f.dstPort,
          0,
          ctx.tsUs,
        );
        if (st === 401) g.n401++;
        else g.n403++;
        flush(g);
        return;
      }
      // "POST" compared on the bytes: no string made for other methods.
      const raw = rec.request?.raw;
      if (
        raw === undefined || rec.methodEnd !== 4 || raw[0] !== 0x50 ||
        raw[1] !== 0x4f || raw[2] !== 0x53 || raw[3] !== 0x54
      ) return;
      const path = loginPath(rec.url);
      if (path === "") return;
      const g = attempt(
        TAG_POST,
        "http_post",
        f.version,
        f.srcAddr,
        f.dstAddr,
        f.dstPort,
        hashText(path),
        ctx.tsUs,
      );
      if (g.path === "") g.path = path.slice(0, 200);
      flush(g);
    },
    onFlowEnd(f: Flow): void {
      if (f.proto !== IPPROTO_TCP) return;
      const service = services.get(f.dstPort);
      if (service === undefined) return;
      const st = ssh.get(f);
      if (st !== undefined) {
        ssh.delete(f);
        if (st.stage === SSH_LOGGED_IN) return;
      }
      if (f.synAckCount === 0 || (f.flagsToServer & TCP_ACK) === 0) return;
      if (f.payloadToServer === 0 || f.payloadToClient === 0) return;
      const dur = f.lastUs - f.firstUs;
      const bytes = f.payloadToServer + f.payloadToClient;
      if (dur > maxDurUs || bytes > cfg.max_bytes) return;
      if (f.pktsToServer > cfg.max_packets) return;
      const g = attempt(
        TAG_LOGIN,
        service,
        f.version,
        f.srcAddr,
        f.dstAddr,
        f.dstPort,
        0,
        f.lastUs,
      );
      g.durSumUs += dur;
      g.bytesSum += bytes;
      flush(g);
    },
    onTick(nowUs: number): void {
      if (alerting.size === 0) return;
      for (const g of alerting) {
        if (g.dirty && nowUs - g.lastEmitUs >= UPDATE_US) report(g);
        if (nowUs - g.lastUs > windowUs) {
          if (g.dirty) report(g);
          alerting.delete(g);
          g.reset();
        }
      }
    },
    onFinish(): void {
      for (const g of alerting) if (g.dirty) report(g);
    },
  };
}
