/**
 * One alert: what happened in one sentence, the evidence, where the
 * addresses are, and the actions (block, suppress, allowlist).
 *
 * @module
 */
import type { VNode } from "preact";
import type {
  Alert,
  AlertDevice,
  AlertGeo,
  AlertType,
} from "../alerts/alert.ts";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import AlertActions from "../islands/alert_actions.tsx";
import {
  evidenceText,
  fmtCount,
  severityName,
  typeLabel,
} from "../islands/_format.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Alert";

/**
 * What an alert of the layer-2, DHCP, beacon and exfiltration watches
 * means and what to do, shown under the explanation. These alerts never
 * block automatically (spoofing and rogue servers name claimed addresses).
 */
export const ABOUT: Partial<Record<AlertType, string>> = {
  arp_spoof:
    "Two machines answer for one IPv4 address, or one machine claims the gateway's address without being asked: the classic way a neighbour becomes a man in the middle (arpspoof, ettercap, Bettercap). The attacker is the MAC named in the evidence, not the claimed address, so nothing is blocked automatically. Find the device with that MAC (your router's client list, the switch's MAC table) and unplug it; static ARP entries for the gateway protect the clients meanwhile. A flood or one MAC holding many addresses can also be a router doing proxy ARP: check the MAC.",
  nd_spoof:
    "The IPv6 twin of ARP spoofing: a MAC advertises an IPv6 address another live machine holds, or claims a router's address unasked. The claimed address is the victim's, so nothing is blocked automatically. Find the device with the MAC named in the evidence; RA Guard and ND inspection on a managed switch stop it.",
  rogue_ra:
    "A machine that is not your router sends IPv6 router advertisements: hosts may take it as their IPv6 gateway (a man in the middle for all IPv6 traffic) or, with lifetime 0, drop the real router. Find the MAC in the evidence; a phone sharing its connection or a misconfigured box does this too. If it is legitimate, list its address in the policy's rogue_ra.routers.",
  rogue_dhcp:
    "A DHCP server that is not yours answered a client: a client that takes its offer uses the router and DNS servers it named (evidence), so its traffic goes where that server says. Blocking the server's address could cut off the clients it configured, so nothing is blocked automatically. Find the device with the server's MAC and switch off its DHCP service (often a second router plugged in by its LAN port); if it is legitimate, list it in rogue_dhcp.servers.",
  beacon:
    "An inside host connects to the same outside address at regular intervals with requests of the same size, as malware checking in with its command-and-control server does (RITA's beacon analysis). Update checks and telemetry can look alike: see the interval, jitter and destination in the evidence. If the service is known, add its domain to beacon.allow_domains or its port to beacon.allow_ports; if not, look at the host's processes.",
  exfiltration:
    "An inside host sent far more than it usually uploads, in one connection, to an outside address it had never (or rarely) used: what data theft looks like, but also a first cloud backup or a large e-mail attachment. Check with the device's owner what was sent to the destination in the evidence.",
};

/** Props of the alert page. */
export interface AlertPageProps {
  alert: Alert;
  blocked: boolean;
  /** Range labels ("LAN", …) of addresses without a country. */
  srcScope: string | null;
  destScope: string | null;
  /** Whether a pcap of the alert's packets is kept (pcaps/). */
  pcap: boolean;
}

/** Loads the alert (404 when there is none) and whether its source is blocked. */
export async function handler(
  ctx: RequestContext,
): Promise<AlertPageProps | Response> {
  const id = ctx.params.id ?? "";
  const alert = /^[0-9A-Za-z]{1,40}$/.test(id)
    ? await ctx.deps.alerts.get(id)
    : null;
  if (alert === null) {
    return new Response("No such alert", { status: 404 });
  }
  const blocks = await ctx.deps.responder.listBlocks();
  const scope = (ip: string | undefined): string | null =>
    ip === undefined
      ? null
      : ctx.deps.enricher?.enrichAddr(ip).geo.scope ?? null;
  const target = blockTarget(alert);
  return {
    alert,
    blocked: blocks.some((b) => b.target === (target ?? alert.src_ip)),
    srcScope: scope(alert.src_ip),
    destScope: scope(alert.dest_ip),
    pcap: (ctx.deps.pcaps?.path(id) ?? null) !== null,
  };
}

function Geo(
  p: {
    geo: AlertGeo | undefined;
    host: string | undefined;
    scope: string | null;
  },
): VNode {
  const g = p.geo?.country === undefined && p.scope !== null
    ? { ...p.geo, scope: p.scope }
    : p.geo;
  return (
    <dl class="geo">
      {p.host
        ? (
          <>
            <dt>Name</dt>
            <dd>{p.host}</dd>
          </>
        )
        : null}
      {g?.country
        ? (
          <>
            <dt>Country</dt>
            <dd>
              <span class="flag">{g.flag ?? ""}</span>{" "}
              {g.country_name ?? g.country}
            </dd>
          </>
        )
        : null}
      {g?.scope
        ? (
          <>
            <dt>Range</dt>
            <dd>{g.scope}</dd>
          </>
        )
        : null}
      {g?.city
        ? (
          <>
            <dt>City</dt>
            <dd>{g.city}</dd>
          </>
        )
        : null}
      {g?.asn !== undefined
        ? (
          <>
            <dt>Network</dt>
            <dd>AS{g.asn}{g.org ? ` ${g.org}` : ""}</dd>
          </>
        )
        : null}
      {!p.host && !g?.country && !g?.scope
        ? (
          <>
            <dt>Location</dt>
            <dd>unknown</dd>
          </>
        )
        : null}
    </dl>
  );
}

/** The alert page. */
export default function AlertPage(p: AlertPageProps): VNode {
  const a = p.alert;
  const n = a.netsentinel;
  const actions = {
    alertId: n.id,
    src: a.src_ip,
    signature: a.alert.signature,
    blocked: p.blocked,
    block: blockTarget(a),
  };
  return (
    <>
      <p class="crumbs">
        <a href="/alerts">Alerts</a> ›
      </p>
      <h1>
        <span class={`sev sev${a.alert.severity}`}>
          {severityName(a.alert.severity)}
        </span>{" "}
        {a.alert.signature}
      </h1>
      <p class="explanation" data-testid="explanation">{n.explanation}</p>
      {ABOUT[n.type] !== undefined
        ? <p class="about" data-testid="about">{ABOUT[n.type]}</p>
        : null}
      <Island name="AlertActions" props={actions}>
        <AlertActions {...actions} />
      </Island>
      <p class="pcap">
        {p.pcap
          ? (
            <a
              class="button"
              href={`/api/alerts/${encodeURIComponent(n.id)}/pcap`}
              download={`netsentinel-${n.id}.pcap`}
              data-testid="pcap-download"
            >
              Download pcap
            </a>
          )
          : (
            <span class="muted" data-testid="pcap-none">
              No packets kept for this alert (none of its IP packets were held,
              or its pcap was removed for the pcaps.max_mb cap)
            </span>
          )}
      </p>
      <div class="grid">
        <section class="panel">
          <h2>What</h2>
          <dl>
            <dt>Type</dt>
            <dd>{typeLabel(n.type)}</dd>
            <dt>Category</dt>
            <dd>{a.alert.category}</dd>
            <dt>Signature</dt>
            <dd>{a.alert.signature_id} rev {a.alert.rev}</dd>
            <dt>Action</dt>
            <dd>{a.alert.action}</dd>
            <dt>Events</dt>
            <dd>{fmtCount(n.count)}</dd>
            <dt>First seen</dt>
            <dd>
              <Time t={n.first_seen} />
            </dd>
            <dt>Last seen</dt>
            <dd>
              <Time t={n.last_seen} />
            </dd>
            <dt>Protocol</dt>
            <dd>{a.proto}</dd>
            {a.flow_id !== undefined
              ? (
                <>
                  <dt>Flow</dt>
                  <dd>{a.flow_id}</dd>
                </>
              )
              : null}
            <dt>Id</dt>
            <dd>
              <code>{n.id}</code>
            </dd>
          </dl>
        </section>
        <section class="panel">
          <h2>Source</h2>
          <p class="addr">
            <a href={`/hosts/${encodeURIComponent(a.src_ip)}`}>{a.src_ip}</a>
            {a.src_port !== undefined ? `:${a.src_port}` : ""}
          </p>
          <Geo geo={n.src_geo} host={n.src_host} scope={p.srcScope} />
          <DeviceLine d={n.src_device} />
        </section>
        {a.dest_ip !== undefined
          ? (
            <section class="panel">
              <h2>Target</h2>
              <p class="addr">
                <a href={`/hosts/${encodeURIComponent(a.dest_ip)}`}>
                  {a.dest_ip}
                </a>
                {a.dest_port !== undefined ? `:${a.dest_port}` : ""}
              </p>
              <Geo geo={n.dest_geo} host={n.dest_host} scope={p.destScope} />
              <DeviceLine d={n.dest_device} />
            </section>
          )
          : null}
        {n.type === "intel" ? <IntelPanel e={n.evidence} /> : null}
        {n.anomaly !== undefined
          ? (
            <section class="panel" data-testid="corroboration">
              <h2>Anomaly model agrees</h2>
              <p>
                The Isolation Forest also flagged {fmtCount(n.anomaly.flows)}
                {" "}
                {n.anomaly.flows === 1 ? "flow" : "flows"}{" "}
                of these addresses (highest score{" "}
                <span data-testid="anomaly-score">
                  {n.anomaly.score.toFixed(3)}
                </span>, threshold{" "}
                {n.anomaly.threshold.toFixed(3)}); they are part of this alert,
                not alerts of their own.
              </p>
              <p class="explanation" data-testid="anomaly-explanation">
                {n.anomaly.explanation}
              </p>
              <dl>
                <dt>First flagged</dt>
                <dd>
                  <Time t={n.anomaly.first_seen} />
                </dd>
                <dt>Last flagged</dt>
                <dd>
                  <Time t={n.anomaly.last_seen} />
                </dd>
                {n.anomaly.flow_id !== undefined
                  ? (
                    <>
                      <dt>Flow</dt>
                      <dd>{n.anomaly.flow_id}</dd>
                    </>
                  )
                  : null}
              </dl>
            </section>
          )
          : null}
        {n.signatures !== undefined && n.signatures.length > 0
          ? (
            <section class="panel" data-testid="signatures">
              <h2>Signatures that matched</h2>
              <p>
                These rules matched the same traffic; they are part of this
                alert, not alerts of their own.
              </p>
              <ul>
                {n.signatures.map((s) => (
                  <li key={`${s.gid ?? 1}:${s.signature_id}`}>
                    <strong>{s.signature}</strong>{" "}
                    ({s.gid ?? 1}:{s.signature_id}, {s.category}):{" "}
                    {fmtCount(s.count)} {s.count === 1 ? "match" : "matches"},
                    {" "}
                    <Time t={s.first_seen} /> to <Time t={s.last_seen} />
                  </li>
                ))}
              </ul>
            </section>
          )
          : null}
        <section class="panel">
          <h2>Evidence</h2>
          <table class="kv" data-testid="evidence">
            <tbody>
              {Object.entries(n.evidence).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{typeLabel(k)}</th>
                  <td>{evidenceText(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </>
  );
}

function str(v: unknown): string {
  return typeof v === "string"
    ? v
    : v === null || v === undefined
    ? ""
    : String(v);
}

/** The feed match of an intel alert: feed (linked), indicator, its line, direction, home host. */
function IntelPanel(p: { e: Record<string, unknown> }): VNode {
  const e = p.e;
  const link = str(e.feed_link);
  const host = str(e.internal_host);
  return (
    <section class="panel" data-testid="intel-match">
      <h2>Threat feed</h2>
      <dl>
        <dt>Feed</dt>
        <dd>
          {/^https?:\/\//.test(link)
            ? <a href={link} rel="noreferrer noopener">{str(e.feed)}</a>
            : str(e.feed)} (<a href="/intel">all feeds</a>)
        </dd>
        <dt>Indicator</dt>
        <dd>
          <code>{str(e.indicator)}</code> ({str(e.indicator_kind)})
        </dd>
        <dt>Feed line {str(e.line_no)}</dt>
        <dd>
          <code>{str(e.line)}</code>
        </dd>
        {e.listed_since
          ? (
            <>
              <dt>Listed since</dt>
              <dd>{str(e.listed_since)}</dd>
            </>
          )
          : null}
        <dt>Seen as</dt>
        <dd>
          {str(e.via).replace("_", " ")}: <code>{str(e.observed)}</code>
        </dd>
        <dt>Direction</dt>
        <dd>{str(e.direction)}</dd>
        <dt>Home host</dt>
        <dd>
          {host
            ? <a href={`/hosts/${encodeURIComponent(host)}`}>{host}</a>
            : "–"}
        </dd>
      </dl>
    </section>
  );
}

/**
 * What the block button blocks: the source, except for a threat-feed
 * match: the listed remote side (never the home host), none for a DNS
 * lookup (its remote side is the resolver).
 */
function blockTarget(a: Alert): string | null {
  const e = a.netsentinel.evidence;
  if (a.netsentinel.type !== "intel") return a.src_ip;
  if (typeof e.block_target === "string") return e.block_target;
  return e.via === "dns_query" || typeof e.remote !== "string"
    ? null
    : e.remote;
}

/** The home device behind an address, linked to its page. */
function DeviceLine(p: { d: AlertDevice | undefined }): VNode | null {
  const d = p.d;
  if (d === undefined) return null;
  return (
    <p class="device" data-testid="alert-device">
      Device:{" "}
      <a href={`/devices/${encodeURIComponent(d.mac)}`}>{d.name ?? d.mac}</a>
      {[d.vendor, d.kind].filter((x) => x).length > 0
        ? (
          <span class="sub">
            {` (${[d.vendor, d.kind].filter((x) => x).join(", ")})`}
          </span>
        )
        : null}
    </p>
  );
}
