/**
 * The alert pipeline behind the detectors: turns {@link Detection}s into
 * {@link Alert}s. In order, a detection is
 *
 * 1. dropped when its detector is disabled in the policy in force,
 * 2. dropped when its source or destination is allow-listed,
 * 3. dropped when a suppression (signature id or type, address, track,
 *    expiry: in packet time, or by the clock given as `clockUs`) matches,
 * 4. folded into the open alert with the same type and aggregation key:
 *    count, last_seen, evidence (merged, newest wins, except the lists a
 *    detection names in `union`: those accumulate) and explanation
 *    (with the ports and flow id of the detection it comes from)
 *    updated (the signature stays the first one unless a later detection
 *    is more severe); sinks hear of the update at most every
 *    `update_interval_s`;
 * 4a. an `anomaly` detection (the Isolation Forest's) about an address a
 *    rule alert names (its source, its target, or an address its evidence
 *    lists in `sources`, `decoys` or `claimed`) is attached to that rule alert as corroborating evidence
 *    (`netsentinel.anomaly`: flows, the highest score and its explanation)
 *    instead of raising an alert of its own: one incident, one alert. The
 *    rule alert counts when its last detection was at most
 *    `detectors.anomaly.corroborate_s` earlier; an anomaly no rule names
 *    yet is held that long (packet time, at most 4,096 held) in case one
 *    does (a brute force is named at its tenth failed login, a minute after
 *    the model flagged the first), and only then raised alone; one marked
 *    `evidenceOnly` (short of the anomaly detector's own alert criteria)
 *    is then dropped and counted. `new_host` explains nothing (it names
 *    every address once);
 * 4b. likewise a `signature` detection between two addresses a rule alert
 *    names as its source and target, on the same service (target port,
 *    unless either has none: a port scan's alert covers every port), such
 *    as a Hydra User-Agent or cleartext Basic credentials while
 *    `brute_force` counts the same requests' 401s, is attached to that alert (`netsentinel.signatures`: per rule its sid,
 *    message, category, severity, count, first and last seen) instead of
 *    raising an alert of its own, when the rule alert's last detection is
 *    at most `detectors.signature.corroborate_s` away, before or after: a
 *    new signature alert waits that long (packet time, at most 4,096
 *    held) for a rule alert about its pair, then is raised with its own
 *    times. A signature whose alert is already open keeps folding into
 *    it;
 * 5. or, when no alert is open for it, turned into a new alert if the
 *    global token bucket (`rate_limit`, in packet time) has a token; if
 *    not it is dropped and counted, so a flood of new alerts cannot swamp
 *    storage, the dashboard or the blocker. So that one flooding detector
 *    cannot starve the others, each alert type also has a small reserve
 *    bucket (a tenth of the rate, a twentieth of the burst, at least one)
 *    used when the global one is empty: new alerts stay bounded by about
 *    twice the global rate in total.
 *
 * An alert is final after `window_s` without detections or `max_open_s`
 * after it opened (a long attack then continues in a new alert). Sinks:
 * `onAlert(alert, isNew)` for new and updated alerts, `onFinal(alert)` once
 * per alert when it closes. An optional `enrich` hook (GeoIP, reverse DNS)
 * runs on an alert before each of those calls. All times are packet times,
 * so a capture gives the same alerts, with the same ids, every run.
 *
 * @module
 */
import {
  anyCidrContains,
  type Cidr,
  cidrContains,
  formatAddr,
  type IpAddr,
  parseAddr,
} from "../decode/mod.ts";
import { eveTimestamp } from "../events/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import {
  type Alert,
  type AlertType,
  type Detection,
  MAX_UNION,
} from "./alert.ts";
import { alertId } from "./alert_id.ts";
import { type Policy, PolicyHolder } from "./policy.ts";

/**
 * Asks the alert pipeline, before a detector builds a detection (its text,
 * evidence), whether it would take one of `type` at packet time `tsUs`
 * from `src` to `dest` (address words of IP `version`; `dest` null when
 * none), aggregated under the default key (source and target). False only
 * when the detection would surely be dropped; see
 * {@link AlertAggregator.admits}.
 */
export type AdmitCheck = (
  type: AlertType,
  tsUs: number,
  version: number,
  src: ArrayLike<number>,
  dest: ArrayLike<number> | null,
) => boolean;

/** Receives new and updated alerts (`isNew` true for the first call). */
export type AlertSink = (alert: Alert, isNew: boolean) => void;

/** Options of an {@link AlertAggregator}. */
export interface AggregatorOptions {
  /** The policy, or a holder whose current policy is read per detection. */
  policy: Policy | PolicyHolder;
  /** New and updated alerts (the appliance stores and streams these). */
  onAlert?: AlertSink;
  /** Alerts whose window closed (analyze prints these). */
  onFinal?: (alert: Alert) => void;
  /** Enrichment applied to an alert before it goes to a sink. */
  enrich?: (alert: Alert) => void;
  /**
   * The clock suppression expiries are compared with, µs since the epoch
   * (default: the detection's packet time, so `analyze` gives the same
   * alerts every run). The appliance passes the wall clock: a mute set for
   * an hour from the dashboard ends an hour later whatever the packets'
   * times (a replay's are the capture's).
   */
  clockUs?: () => number;
}

/** What the aggregator did, for `/metrics` and the analyze statistics. */
export interface AggregatorCounters {
  /** Detections received. */
  detections: number;
  /** Dropped because the detector is disabled. */
  disabled: number;
  /** Dropped because source or destination is allow-listed. */
  allowlisted: number;
  /** Dropped by a suppression. */
  suppressed: number;
  /** Folded into an open alert. */
  aggregated: number;
  /** New alerts dropped by the rate cap. */
  rateLimited: number;
  /** Alerts opened. */
  alerts: number;
  /** Update notifications sent to `onAlert`. */
  updates: number;
  /** Alerts finalised. */
  finals: number;
  /** Alerts finalised early because `max_open` alerts were open. */
  evicted: number;
  /** Anomaly detections attached to a rule alert (step 4a). */
  corroborated: number;
  /** Evidence-only anomaly detections no rule alert named (dropped). */
  uncorroborated: number;
  /** Signature detections attached to a rule alert (step 4b). */
  signaturesAttached: number;
}

interface Open {
  readonly alert: Alert;
  readonly key: string;
  readonly firstUs: number;
  lastUs: number;
  lastSentUs: number;
  dirty: boolean;
}

const ADDR_CACHE = 4096;
/** Anomaly detections held at most (step 4a); the oldest source's go first. */
const MAX_HELD = 4096;
/** Addresses named by rule alerts remembered at most. */
const MAX_NAMED = 65_536;
/**
 * Evidence lists of addresses a rule alert names besides its source and
 * target (step 4a): a distributed scan's sources, a decoy scan's decoys,
 * the addresses an ARP/ND poisoner claimed.
 */
const NAMED_LISTS = ["sources", "decoys", "claimed"] as const;
/** Signatures listed on one rule alert at most (step 4b). */
const MAX_SIGNATURES = 16;

/** The alert aggregator; see the module documentation. */
export class AlertAggregator {
  /** What the aggregator did since it was made. */
  readonly counters: AggregatorCounters = {
    detections: 0,
    disabled: 0,
    allowlisted: 0,
    suppressed: 0,
    aggregated: 0,
    rateLimited: 0,
    alerts: 0,
    updates: 0,
    finals: 0,
    evicted: 0,
    corroborated: 0,
    uncorroborated: 0,
    signaturesAttached: 0,
  };
  #policy: Policy | PolicyHolder;
  #onAlert: AlertSink | null;
  #onFinal: ((a: Alert) => void) | null;
  #enrich: ((a: Alert) => void) | null;
  #clockUs: (() => number) | null;
  /** Open alerts, least recently updated first (re-inserted on update). */
  #open = new Map<string, Open>();
  #dirty = new Set<Open>();
  #global: Bucket = { tokens: -1, us: 0 };
  #reserve = new Map<AlertType, Bucket>();
  #addrs = new Map<string, IpAddr | null>();
  /** Open alerts by type (see {@link admits}). */
  #openByType = new Map<AlertType, number>();
  /**
   * Addresses rule alerts name, each with the latest such alert and the
   * packet time it stops counting (its last detection plus
   * `corroborate_s`); least recently named first.
   */
  #named = new Map<string, { o: Open; untilUs: number }>();
  /** Anomaly detections waiting for a rule to name their source, by source. */
  #held = new Map<string, Detection[]>();
  #heldCount = 0;
  /**
   * Source>target pairs rule alerts name, as {@link #named} (step 4b),
   * until their last detection plus `detectors.signature.corroborate_s`.
   */
  #pairs = new Map<string, { o: Open; untilUs: number }>();
  /** Signature detections waiting for a rule alert about their pair. */
  #heldSigs = new Map<string, Detection[]>();
  #heldSigCount = 0;

  /** Creates an aggregator. */
  constructor(opts: AggregatorOptions) {
    this.#policy = opts.policy;
    this.#onAlert = opts.onAlert ?? null;
    this.#onFinal = opts.onFinal ?? null;
    this.#enrich = opts.enrich ?? null;
    this.#clockUs = opts.clockUs ?? null;
  }

  /** The policy in force. */
  get policy(): Policy {
    const p = this.#policy;
    return p instanceof PolicyHolder ? p.current : p;
  }

  /** Number of open alerts. */
  get openCount(): number {
    return this.#open.size;
  }

  /** The detectors' emit function (bound to this aggregator). */
  readonly emit = (d: Detection): void => this.add(d);

  #addr(text: string): IpAddr | null {
    let a = this.#addrs.get(text);
    if (a === undefined) {
      if (this.#addrs.size >= ADDR_CACHE) this.#addrs.clear();
      a = parseAddr(text);
      this.#addrs.set(text, a);
    }
    return a;
  }

  #listed(list: readonly Cidr[], text: string | undefined): boolean {
    if (list.length === 0 || text === undefined) return false;
    const a = this.#addr(text);
    return a !== null && anyCidrContains(list, a.version, a.words);
  }

  #suppressed(p: Policy, d: Detection): boolean {
    const now = this.#clockUs === null ? d.tsUs : this.#clockUs();
    for (const s of p.suppressions) {
      if (s.signature_id !== undefined && s.signature_id !== d.signatureId) {
        continue;
      }
      if (s.type !== undefined && s.type !== d.type) continue;
      if (now > s.expiresUs) continue;
      const src = this.#addr(d.src);
      const dst = d.dest === undefined ? null : this.#addr(d.dest);
      const hitSrc = src !== null &&
        cidrContains(s.cidr, src.version, src.words);
      const hitDst = dst !== null &&
        cidrContains(s.cidr, dst.version, dst.words);
      if (
        (s.track === "by_src" && hitSrc) || (s.track === "by_dst" && hitDst) ||
        (s.track === "by_either" && (hitSrc || hitDst)) ||
        (s.track === "by_pair" && hitSrc && dst !== null &&
          s.dest !== undefined &&
          cidrContains(s.dest, dst.version, dst.words))
      ) return true;
    }
    return false;
  }

  /**
   * Tells a detector whether a detection of `type` (source `src`, target
   * `dest`, no aggregation key of its own) at packet time `tsUs` would be
   * taken, before it builds the detection's text and evidence. False only
   * when {@link add} would surely drop it: its detector is disabled, or it
   * is not allow-listed, no suppression is configured, no alert is open
   * for it and the rate limit has no token. A declined detection is
   * counted as {@link add} would have counted it (`detections` and
   * `disabled` or `rateLimited`); the caller drops it. No allocation
   * unless alerts of `type` are open while the rate limit is exhausted
   * (then the key is built to look for its open alert).
   */
  readonly admits: AdmitCheck = (type, tsUs, version, src, dest) => {
    const p = this.policy;
    const c = this.counters;
    if (!p.detectors[type].enabled) {
      c.detections++;
      c.disabled++;
      return false;
    }
    const allow = p.allowlist;
    if (
      p.suppressions.length > 0 ||
      (allow.sources.length > 0 &&
        anyCidrContains(allow.sources, version, src)) ||
      (dest !== null && allow.destinations.length > 0 &&
        anyCidrContains(allow.destinations, version, dest)) ||
      this.#hasToken(p, type, tsUs)
    ) return true;
    if ((this.#openByType.get(type) ?? 0) > 0) {
      const key = `${type}|${formatAddr(version, src)}>${
        dest === null ? "" : formatAddr(version, dest)
      }`;
      if (this.#open.has(key)) return true;
    }
    // An anomaly a rule alert names is attached, not a new alert.
    if (type === "anomaly" && this.#named.size > 0) {
      const named = this.#named.get(formatAddr(version, src));
      if (named !== undefined && tsUs <= named.untilUs) return true;
    }
    c.detections++;
    c.rateLimited++;
    return false;
  };

  /** Takes one detection through the steps in the module documentation. */
  add(d: Detection): void {
    const c = this.counters;
    c.detections++;
    const p = this.policy;
    if (!p.detectors[d.type].enabled) {
      c.disabled++;
      return;
    }
    if (
      this.#listed(p.allowlist.sources, d.src) ||
      this.#listed(p.allowlist.destinations, d.dest)
    ) {
      c.allowlisted++;
      return;
    }
    if (p.suppressions.length > 0 && this.#suppressed(p, d)) {
      c.suppressed++;
      return;
    }
    if (d.type === "anomaly") {
      if (this.#corroborate(d, p.detectors.anomaly.corroborate_s * 1e6)) {
        return;
      }
    } else if (d.type === "signature") {
      if (this.#corroborateSig(d, p.detectors.signature.corroborate_s * 1e6)) {
        return;
      }
    }
    this.#admit(p, d);
  }

  /**
   * Step 4b for a signature detection: attached to the rule alert naming
   * its pair (true), held until `holdUs` passes (true), or neither (false:
   * the caller raises it, or folds it into its open alert).
   */
  #corroborateSig(d: Detection, holdUs: number): boolean {
    if (this.#open.has(keyOf(d))) return false;
    const pair = `${d.src}>${d.dest ?? ""}`;
    const named = this.#pairs.get(pair);
    if (
      named !== undefined && d.tsUs <= named.untilUs && sameService(named.o, d)
    ) {
      this.#attachSig(named.o, d);
      return true;
    }
    // Not explained (another service of the same hosts is another
    // incident): it waits for a rule alert about its own.
    if (holdUs <= 0) return false;
    if (this.#heldSigCount >= MAX_HELD) {
      const [k, list] = this.#heldSigs.entries().next().value!;
      this.#heldSigs.delete(k);
      this.#heldSigCount -= list.length;
      const p = this.policy;
      for (const h of list) this.#admit(p, h);
    }
    let list = this.#heldSigs.get(pair);
    if (list === undefined) {
      list = [];
      this.#heldSigs.set(pair, list);
    }
    list.push(d);
    this.#heldSigCount++;
    return true;
  }

  /** Attaches the signature detection `d` to the rule alert of `o`. */
  #attachSig(o: Open, d: Detection): void {
    this.counters.signaturesAttached++;
    const ns = o.alert.netsentinel;
    const ts = eveTimestamp(d.tsUs);
    const list = ns.signatures ?? (ns.signatures = []);
    const gid = d.gid ?? 1;
    const cur = list.find((s) =>
      s.signature_id === d.signatureId && (s.gid ?? 1) === gid
    );
    const count = d.count ?? 1;
    if (cur !== undefined) {
      cur.count += count;
      if (ts < cur.first_seen) cur.first_seen = ts;
      if (ts > cur.last_seen) cur.last_seen = ts;
    } else if (list.length < MAX_SIGNATURES) {
      list.push({
        signature_id: d.signatureId,
        ...(d.gid !== undefined ? { gid: d.gid } : {}),
        rev: d.rev ?? 1,
        signature: d.signature,
        category: d.category,
        ...(typeof d.evidence.classtype === "string" && d.evidence.classtype
          ? { classtype: d.evidence.classtype }
          : {}),
        ...(d.metadata !== undefined && Object.keys(d.metadata).length > 0
          ? { metadata: d.metadata }
          : {}),
        severity: d.severity,
        count,
        first_seen: ts,
        last_seen: ts,
      });
    } else return;
    this.#touch(o);
  }

  /** Marks `o` changed: sent with the next update, or now when already final. */
  #touch(o: Open): void {
    if (this.#open.get(o.key) === o) {
      if (!o.dirty) {
        o.dirty = true;
        this.#dirty.add(o);
      }
    } else if (this.#onAlert !== null) {
      // Already final: sinks that keep alerts (the store) get the evidence.
      this.counters.updates++;
      this.#onAlert(o.alert, false);
    }
  }

  /**
   * Step 4a for an anomaly detection: attached to the rule alert naming its
   * source (true), or held until `holdUs` passes (true), or neither when
   * there is no hold (false: the caller raises it).
   */
  #corroborate(d: Detection, holdUs: number): boolean {
    const named = this.#named.get(d.src);
    if (named !== undefined && d.tsUs <= named.untilUs) {
      this.#attach(named.o, d);
      return true;
    }
    if (holdUs <= 0) {
      if (d.evidenceOnly) this.counters.uncorroborated++;
      return d.evidenceOnly === true;
    }
    if (this.#heldCount >= MAX_HELD) {
      const [src, list] = this.#held.entries().next().value!;
      this.#held.delete(src);
      this.#heldCount -= list.length;
      const p = this.policy;
      for (const h of list) this.#raise(p, h);
    }
    let list = this.#held.get(d.src);
    if (list === undefined) {
      list = [];
      this.#held.set(d.src, list);
    }
    list.push(d);
    this.#heldCount++;
    return true;
  }

  /** Attaches the anomaly detection `d` to the rule alert of `o`. */
  #attach(o: Open, d: Detection): void {
    this.counters.corroborated++;
    const ns = o.alert.netsentinel;
    const ev = d.evidence;
    const score = typeof ev.score === "number" ? ev.score : 0;
    const threshold = typeof ev.threshold === "number" ? ev.threshold : 0;
    const flows = d.count ?? 1;
    const ts = eveTimestamp(d.tsUs);
    const c = ns.anomaly;
    if (c === undefined) {
      ns.anomaly = {
        flows,
        score,
        threshold,
        explanation: d.explanation,
        ...(d.flowId !== undefined ? { flow_id: d.flowId } : {}),
        first_seen: ts,
        last_seen: ts,
      };
    } else {
      c.flows += flows;
      if (score > c.score) {
        c.score = score;
        c.threshold = threshold;
        c.explanation = d.explanation;
        if (d.flowId !== undefined) c.flow_id = d.flowId;
      }
      if (ts < c.first_seen) c.first_seen = ts;
      if (ts > c.last_seen) c.last_seen = ts;
    }
    this.#touch(o);
  }

  /**
   * Remembers the addresses the rule alert of `o` names until `corroborate_s`
   * after `tsUs`, and attaches the anomaly detections held about them.
   */
  #name(o: Open, tsUs: number, holdUs: number, sigHoldUs: number): void {
    const a = o.alert;
    // A signature alert explains anomalies, not other signatures (each
    // rule keeps its own alert).
    if (a.dest_ip !== undefined && a.netsentinel.type !== "signature") {
      this.#namePair(`${a.src_ip}>${a.dest_ip}`, o, tsUs + sigHoldUs);
    }
    const untilUs = tsUs + holdUs;
    this.#nameOne(a.src_ip, o, untilUs);
    if (a.dest_ip !== undefined) this.#nameOne(a.dest_ip, o, untilUs);
    const ev = a.netsentinel.evidence;
    for (const k of NAMED_LISTS) {
      const list = ev[k];
      if (!Array.isArray(list)) continue;
      for (let i = 0; i < list.length && i < 64; i++) {
        const s = list[i];
        if (typeof s === "string") this.#nameOne(s, o, untilUs);
      }
    }
  }

  #namePair(pair: string, o: Open, untilUs: number): void {
    const cur = this.#pairs.get(pair);
    if (cur !== undefined) {
      this.#pairs.delete(pair);
      cur.o = o;
      cur.untilUs = untilUs;
      this.#pairs.set(pair, cur);
    } else {
      if (this.#pairs.size >= MAX_NAMED) {
        this.#pairs.delete(this.#pairs.keys().next().value!);
      }
      this.#pairs.set(pair, { o, untilUs });
    }
    if (this.#heldSigCount > 0) {
      const list = this.#heldSigs.get(pair);
      if (list !== undefined) {
        // Those about another service wait for their own release.
        const rest = list.filter((h) => !sameService(o, h));
        for (const h of list) if (sameService(o, h)) this.#attachSig(o, h);
        this.#heldSigCount -= list.length - rest.length;
        if (rest.length === 0) this.#heldSigs.delete(pair);
        else this.#heldSigs.set(pair, rest);
      }
    }
  }

  #nameOne(addr: string, o: Open, untilUs: number): void {
    const cur = this.#named.get(addr);
    if (cur !== undefined) {
      this.#named.delete(addr);
      cur.o = o;
      cur.untilUs = untilUs;
      this.#named.set(addr, cur);
    } else {
      if (this.#named.size >= MAX_NAMED) {
        this.#named.delete(this.#named.keys().next().value!);
      }
      this.#named.set(addr, { o, untilUs });
    }
    if (this.#heldCount > 0) {
      const list = this.#held.get(addr);
      if (list !== undefined) {
        this.#held.delete(addr);
        this.#heldCount -= list.length;
        for (const h of list) this.#attach(o, h);
      }
    }
  }

  /** Releases held signature detections whose hold ended at `nowUs` (all when null). */
  #releaseSigs(nowUs: number | null, holdUs: number): void {
    if (this.#heldSigCount === 0) return;
    const p = this.policy;
    for (const [pair, list] of this.#heldSigs) {
      if (nowUs !== null && list[0]!.tsUs + holdUs > nowUs) break;
      this.#heldSigs.delete(pair);
      this.#heldSigCount -= list.length;
      for (const h of list) {
        const named = this.#pairs.get(pair);
        if (
          named !== undefined && h.tsUs <= named.untilUs &&
          sameService(named.o, h)
        ) {
          this.#attachSig(named.o, h);
        } else this.#admit(p, h);
      }
    }
  }

  /** Releases held anomaly detections whose hold ended at `nowUs` (all when null). */
  #release(nowUs: number | null, holdUs: number): void {
    if (this.#heldCount === 0) return;
    const p = this.policy;
    for (const [src, list] of this.#held) {
      if (nowUs !== null && list[0]!.tsUs + holdUs > nowUs) break;
      this.#held.delete(src);
      this.#heldCount -= list.length;
      for (const h of list) {
        // A rule may have named the source meanwhile (an address that is
        // named after its anomaly was held is attached in #nameOne; this
        // covers a named entry that came from a closed alert).
        const named = this.#named.get(h.src);
        if (named !== undefined && h.tsUs <= named.untilUs) {
          this.#attach(named.o, h);
        } else this.#raise(p, h);
      }
    }
  }

  /** A held anomaly no rule named: raised alone, or dropped when evidence only. */
  #raise(p: Policy, d: Detection): void {
    if (d.evidenceOnly) this.counters.uncorroborated++;
    else this.#admit(p, d);
  }

  /** Steps 4 and 5 for a detection that passed steps 1 to 4a. */
  #admit(p: Policy, d: Detection): void {
    const c = this.counters;
    const key = keyOf(d);
    const agg = p.aggregation;
    let o = this.#open.get(key);
    if (o !== undefined && d.tsUs - o.firstUs >= agg.max_open_s * 1e6) {
      this.#finalize(o);
      o = undefined;
    }
    const explains = d.type !== "anomaly" && d.type !== "new_host";
    const holdUs = p.detectors.anomaly.corroborate_s * 1e6;
    const sigHoldUs = p.detectors.signature.corroborate_s * 1e6;
    if (o !== undefined) {
      c.aggregated++;
      this.#update(o, d, agg.update_interval_s * 1e6);
      if (explains) this.#name(o, d.tsUs, holdUs, sigHoldUs);
      return;
    }
    if (!this.#take(p, d.type, d.tsUs)) {
      c.rateLimited++;
      return;
    }
    while (this.#open.size >= agg.max_open) {
      const oldest = this.#open.values().next().value;
      if (oldest === undefined) break;
      c.evicted++;
      this.#finalize(oldest);
    }
    const alert = newAlert(d, key);
    o = {
      alert,
      key,
      firstUs: d.tsUs,
      lastUs: d.tsUs,
      lastSentUs: d.tsUs,
      dirty: false,
    };
    this.#open.set(key, o);
    this.#openByType.set(d.type, (this.#openByType.get(d.type) ?? 0) + 1);
    c.alerts++;
    if (explains) this.#name(o, d.tsUs, holdUs, sigHoldUs);
    this.#enrich?.(alert);
    this.#onAlert?.(alert, true);
  }

  /**
   * Token buckets in packet time: true when a new alert of `type` may pass
   * (global bucket first, then the type's reserve).
   */
  #take(p: Policy, type: AlertType, tsUs: number): boolean {
    const { alerts_per_s: rate, burst } = p.rate_limit;
    if (refill(this.#global, rate, burst, tsUs)) return true;
    let r = this.#reserve.get(type);
    if (r === undefined) {
      r = { tokens: -1, us: 0 };
      this.#reserve.set(type, r);
    }
    return refill(r, rate / 10, Math.max(1, Math.floor(burst / 20)), tsUs);
  }

  /** As {@link #take}, without taking the token. */
  #hasToken(p: Policy, type: AlertType, tsUs: number): boolean {
    const { alerts_per_s: rate, burst } = p.rate_limit;
    if (refill(this.#global, rate, burst, tsUs, false)) return true;
    const r = this.#reserve.get(type);
    return r === undefined ||
      refill(r, rate / 10, Math.max(1, Math.floor(burst / 20)), tsUs, false);
  }

  #update(o: Open, d: Detection, intervalUs: number): void {
    const a = o.alert, ns = a.netsentinel;
    ns.count += d.count ?? 1;
    if (d.tsUs > o.lastUs) {
      o.lastUs = d.tsUs;
      ns.last_seen = eveTimestamp(d.tsUs);
    }
    const before = ns.evidence;
    ns.evidence = { ...before, ...d.evidence };
    if (d.union !== undefined) {
      for (const k of d.union) {
        const old = before[k], add = d.evidence[k];
        if (!Array.isArray(old) || !Array.isArray(add)) continue;
        const merged = [...old];
        for (const v of add) {
          if (merged.length >= MAX_UNION) break;
          if (!merged.includes(v)) merged.push(v);
        }
        ns.evidence[k] = merged;
      }
    }
    ns.explanation = d.explanation;
    // The flow the explanation speaks of: ports and flow id follow it,
    // unless it goes the other way (a key of both hosts either way, as
    // suspicious_port's): src and dest stay, so the ports must too.
    if (d.src !== a.dest_ip || d.dest !== a.src_ip) {
      if (d.flowId !== undefined) a.flow_id = d.flowId;
      if (d.srcPort !== undefined) a.src_port = d.srcPort;
      if (d.destPort !== undefined) a.dest_port = d.destPort;
    }
    // The signature stays the first one unless a later detection is more
    // severe (ids must not flicker between variants of one alert).
    if (d.severity < a.alert.severity) {
      a.alert.severity = d.severity;
      a.alert.signature_id = d.signatureId;
      a.alert.signature = d.signature;
      a.alert.category = d.category;
    }
    // Keep the map ordered by last update, for expiry.
    this.#open.delete(o.key);
    this.#open.set(o.key, o);
    if (d.tsUs - o.lastSentUs >= intervalUs) this.#send(o, d.tsUs);
    else if (!o.dirty) {
      o.dirty = true;
      this.#dirty.add(o);
    }
  }

  #send(o: Open, nowUs: number): void {
    o.lastSentUs = nowUs;
    if (o.dirty) {
      o.dirty = false;
      this.#dirty.delete(o);
    }
    if (this.#onAlert === null) return;
    this.counters.updates++;
    this.#enrich?.(o.alert);
    this.#onAlert(o.alert, false);
  }

  #finalize(o: Open): void {
    this.#open.delete(o.key);
    const t = o.alert.netsentinel.type;
    this.#openByType.set(t, (this.#openByType.get(t) ?? 1) - 1);
    if (o.dirty) {
      o.dirty = false;
      this.#dirty.delete(o);
    }
    this.counters.finals++;
    this.#enrich?.(o.alert);
    this.#onFinal?.(o.alert);
  }

  /**
   * Closes alerts whose window passed at packet time `nowUs` and sends due
   * updates. Call after every batch (the observer does).
   */
  tick(nowUs: number): void {
    const p = this.policy;
    this.#release(nowUs, p.detectors.anomaly.corroborate_s * 1e6);
    this.#releaseSigs(nowUs, p.detectors.signature.corroborate_s * 1e6);
    const agg = p.aggregation;
    const windowUs = agg.window_s * 1e6, maxUs = agg.max_open_s * 1e6;
    for (const o of this.#open.values()) {
      if (nowUs - o.lastUs < windowUs) break;
      this.#finalize(o);
    }
    if (this.#dirty.size > 0) {
      const intervalUs = agg.update_interval_s * 1e6;
      for (const o of this.#dirty) {
        if (nowUs - o.lastSentUs >= intervalUs) this.#send(o, nowUs);
      }
    }
    // Alerts open too long close even while detections keep coming; those
    // are found on their next detection, or here when the map is small.
    if (this.#open.size <= 1024) {
      for (const o of this.#open.values()) {
        if (nowUs - o.firstUs >= maxUs) this.#finalize(o);
      }
    }
  }

  /** Finalises every open alert, oldest first (end of input, shutdown). */
  finish(): void {
    this.#release(null, 0);
    this.#releaseSigs(null, 0);
    const all = [...this.#open.values()].sort((a, b) =>
      a.firstUs - b.firstUs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    );
    for (const o of all) this.#finalize(o);
  }

  /**
   * The aggregator as the last pipeline observer: ticks and finishes with
   * the pipeline, after the detectors.
   */
  observer(): FlowObserver {
    return {
      onTick: (nowUs: number) => this.tick(nowUs),
      onFinish: () => this.finish(),
    };
  }
}

/**
 * True when signature detection `d` is about the service the rule alert of
 * `o` is about: the same target port, or either has none (a port scan
 * covers every port).
 */
function sameService(o: Open, d: Detection): boolean {
  const port = o.alert.dest_port;
  return port === undefined || d.destPort === undefined ||
    port === d.destPort;
}

/** The aggregation key of a detection: its type and key, else source and target. */
function keyOf(d: Detection): string {
  return `${d.type}|${d.key ?? `${d.src}>${d.dest ?? ""}`}`;
}

/** A token bucket: tokens (-1 before first use) and the time of the last refill. */
interface Bucket {
  tokens: number;
  us: number;
}

/**
 * Refills `b` up to `burst` at `rate` per second of packet time; true when
 * it has a token, which it takes unless `take` is false.
 */
function refill(
  b: Bucket,
  rate: number,
  burst: number,
  tsUs: number,
  take = true,
): boolean {
  if (b.tokens < 0) {
    b.tokens = burst;
    b.us = tsUs;
  } else if (tsUs > b.us) {
    b.tokens = Math.min(burst, b.tokens + ((tsUs - b.us) / 1e6) * rate);
    b.us = tsUs;
  }
  if (b.tokens < 1) return false;
  if (take) b.tokens -= 1;
  return true;
}

/** A new alert from its first detection, fields in Suricata's order. */
function newAlert(d: Detection, key: string): Alert {
  const ts = eveTimestamp(d.tsUs);
  const first = d.firstUs !== undefined && d.firstUs < d.tsUs
    ? eveTimestamp(d.firstUs)
    : ts;
  return {
    timestamp: ts,
    ...(d.flowId !== undefined ? { flow_id: d.flowId } : {}),
    event_type: "alert",
    src_ip: d.src,
    ...(d.srcPort !== undefined ? { src_port: d.srcPort } : {}),
    ...(d.dest !== undefined ? { dest_ip: d.dest } : {}),
    ...(d.destPort !== undefined ? { dest_port: d.destPort } : {}),
    proto: d.proto,
    ...(d.tunnel !== undefined ? { tunnel: d.tunnel } : {}),
    alert: {
      action: "allowed",
      signature_id: d.signatureId,
      rev: d.rev ?? 1,
      signature: d.signature,
      category: d.category,
      severity: d.severity,
      ...(d.gid !== undefined ? { gid: d.gid } : {}),
      ...(d.metadata !== undefined ? { metadata: d.metadata } : {}),
    },
    netsentinel: {
      id: alertId(d.tsUs, key),
      type: d.type,
      count: d.count ?? 1,
      first_seen: first,
      last_seen: ts,
      evidence: d.evidence,
      explanation: d.explanation,
    },
  };
}
