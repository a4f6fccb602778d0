/**
 * Evidence about what a device is, and the kind and OS family it supports.
 * Every {@link Hint} keeps where it came from (the protocol, the field and
 * the value seen), so the dashboard shows the evidence beside any
 * conclusion; {@link classify} only concludes when the evidence agrees and
 * says how sure it is ("likely" with strong evidence, "possibly" with weak
 * evidence only), never a guess presented as fact.
 *
 * The tables are small and conservative, from the protocols' own
 * documents: DHCP option 60 values of the stacks that send them (Windows
 * `MSFT 5.0`, Android `android-dhcp-N`, BusyBox `udhcp V`, dhcpcd
 * `dhcpcd-V:OS:…`), option 55 orders measured from the clients themselves
 * (ISC dhclient and BusyBox udhcpc in tests/devices_lab_test.ts) and the
 * well-known published orders of Windows 10/11 and Apple's stacks
 * (Fingerbank's entries), User-Agent product tokens (RFC 9110 §10.1.5),
 * DNS-SD service types (IANA's service name registry: `_ipp._tcp` printers,
 * `_googlecast._tcp` Cast receivers, `_hap._tcp` HomeKit accessories, …),
 * UPnP device types (UPnP Forum: `MediaRenderer`, `InternetGatewayDevice`,
 * `Printer`, `DigitalSecurityCamera`) and DIAL. JA4 values are kept as
 * evidence only: no fingerprint-to-device table ships with NetSentinel.
 *
 * @module
 */

/** Kinds of device. */
export const DEVICE_KINDS = [
  "phone",
  "computer",
  "printer",
  "tv",
  "camera",
  "speaker",
  "network",
  "iot",
] as const;
/** A kind of device ("tv" stands for TV or media player, "network" for network gear). */
export type DeviceKind = typeof DEVICE_KINDS[number];

/** OS families told apart. */
export type OsFamily =
  | "Windows"
  | "macOS"
  | "iOS"
  | "Apple"
  | "Android"
  | "Linux"
  | "ChromeOS";

/** Where a hint came from. */
export type HintSource =
  | "dhcp"
  | "mdns"
  | "llmnr"
  | "nbns"
  | "ssdp"
  | "http"
  | "tls"
  | "traffic"
  | "vendor";

/** One piece of evidence. */
export interface Hint {
  readonly source: HintSource;
  /** The field: "option 60", "User-Agent", "service", "JA4", … */
  readonly field: string;
  /** The value seen (cleaned wire text). */
  readonly value: string;
  readonly kind?: DeviceKind;
  readonly os?: OsFamily;
  /** 2: the value names it outright; 1: it points that way. */
  readonly strength: 1 | 2;
}

type Rule = readonly [RegExp, DeviceKind | null, OsFamily | null, 1 | 2];

const VENDOR_CLASS: readonly Rule[] = [
  [/^MSFT 5\.0/, "computer", "Windows", 2],
  // Android phones, tablets and TVs alike: the OS only.
  [/^android-dhcp/i, null, "Android", 2],
  [/^udhcp /, "iot", "Linux", 1],
  [/^dhcpcd-[^:]*:Linux/i, null, "Linux", 2],
  [/JetDirect|Printer/i, "printer", null, 2],
];

/** Option 55 orders, exact. */
const PARAM_LISTS: ReadonlyMap<string, readonly [OsFamily, string]> = new Map([
  ["1,3,6,15,31,33,43,44,46,47,119,121,249,252", ["Windows", "Windows 10/11"]],
  ["1,3,6,15,31,33,43,44,46,47,121,249,252", ["Windows", "Windows 7/8"]],
  ["1,121,3,6,15,108,114,119,252,95,44,46", ["Apple", "macOS/iOS"]],
  ["1,121,3,6,15,119,252,95,44,46", ["Apple", "macOS/iOS"]],
  ["1,121,3,6,15,119,252", ["Apple", "macOS/iOS"]],
  ["1,3,6,15,26,28,51,58,59,43,114,108", ["Android", "Android"]],
  ["1,3,6,15,26,28,51,58,59,43,114", ["Android", "Android"]],
  ["1,3,6,15,26,28,51,58,59,43", ["Android", "Android"]],
  ["1,28,2,3,15,6,119,12,44,47,26,121,42", ["Linux", "ISC dhclient"]],
  ["1,28,2,121,15,6,12,40,41,42,26,119,3,121,249,33,252,42", [
    "Linux",
    "NetworkManager",
  ]],
  ["1,3,6,12,15,28,42", ["Linux", "BusyBox udhcpc"]],
  ["1,3,6,12,15,28,42,33,121", ["Linux", "BusyBox udhcpc"]],
]);

const USER_AGENT: readonly Rule[] = [
  [
    /SmartTV|SMART-TV|Tizen|Web0S|webOS|BRAVIA|AppleTV|\bRoku\b|AFT[A-Z]|CrKey/i,
    "tv",
    null,
    2,
  ],
  [/\biPhone\b/, "phone", "iOS", 2],
  [/\biPad\b/, null, "iOS", 2],
  [/Android[^;)]*;.*\bMobile\b/, "phone", "Android", 2],
  [/\bAndroid\b/, null, "Android", 2],
  [/Windows NT/, "computer", "Windows", 2],
  [/\bCrOS\b/, "computer", "ChromeOS", 2],
  [/Macintosh|Mac OS X/, "computer", "macOS", 2],
  [/PlayStation|Xbox|Nintendo/, "tv", null, 1],
  [/Debian APT|Ubuntu|X11; Linux|\bLinux x86_64\b/, "computer", "Linux", 1],
];

const SERVICES: readonly Rule[] = [
  [/^_(ipps?|printer|pdl-datastream|scanner|uscan)\._tcp$/, "printer", null, 2],
  [/^_googlecast\._tcp$/, "tv", null, 1],
  [/^_(airplay|amzn-wplay|androidtvremote2?|nvstream)\._tcp$/, "tv", null, 1],
  [/^_(raop|spotify-connect|sonos)\._tcp$/, "speaker", null, 1],
  [/^_(hap|homekit|hue|matter|matterc)\._(tcp|udp)$/, "iot", null, 2],
  [/^_apple-mobdev2\._tcp$/, "phone", "iOS", 2],
  [/^_(companion-link|rdlink)\._tcp$/, null, "Apple", 1],
  [/^_(smb|afpovertcp|workstation|sftp-ssh|rfb)\._tcp$/, "computer", null, 1],
  [/^_(axis-video|rtsp|onvif)\._tcp$/, "camera", null, 2],
];

const MODELS: readonly Rule[] = [
  [/^(MacBook|iMac|Macmini|MacPro|MacStudio|Mac\d)/, "computer", "macOS", 2],
  [/^iPhone/, "phone", "iOS", 2],
  [/^iPad/, null, "iOS", 2],
  [/^AppleTV/, "tv", null, 2],
  [/Chromecast|Google TV|SHIELD|BRAVIA|Roku/i, "tv", null, 2],
  [/Google Home|Nest (Mini|Audio)|HomePod|Sonos|Echo/i, "speaker", null, 2],
  [
    /LaserJet|OfficeJet|DeskJet|ENVY|Brother|EPSON|Canon (MF|TS|MG|iR)|Kyocera|Lexmark/i,
    "printer",
    null,
    2,
  ],
];

const UPNP_TYPES: readonly Rule[] = [
  [
    /device:(InternetGatewayDevice|WANDevice|WANConnectionDevice|WFADevice)/,
    "network",
    null,
    2,
  ],
  [/device:Printer/, "printer", null, 2],
  [/device:DigitalSecurityCamera/, "camera", null, 2],
  [/dial-multiscreen-org|device:tvdevice/i, "tv", null, 2],
  [/device:MediaRenderer/, "tv", null, 1],
  [/device:ZonePlayer|Sonos/, "speaker", null, 2],
];

const SERVERS: readonly Rule[] = [
  [/Sonos/, "speaker", "Linux", 2],
  [/\bRoku\b/, "tv", null, 2],
  [/Microsoft-Windows|Windows\/\d/, "computer", "Windows", 1],
  [/\bLinux\b/, null, "Linux", 1],
];

const VENDORS: readonly Rule[] = [
  [/^Raspberry Pi/, "computer", "Linux", 1],
  [/^Sonos/, "speaker", null, 2],
  [/^Roku/, "tv", null, 2],
  [/Hikvision|Dahua|Axis Communications|Reolink|Amcrest/i, "camera", null, 2],
  [
    /^(Espressif|Tuya|Shelly|ITEAD|Shenzhen Bilian|Wemo|Belkin International)/i,
    "iot",
    null,
    1,
  ],
  [
    /^(Ubiquiti|MikroTik|Netgear|TP-LINK|AVM Audiovisuelles|Juniper|Aruba|Ruckus|Zyxel|Cisco Meraki)/i,
    "network",
    null,
    1,
  ],
  [
    /^(Brother Industries|Seiko Epson|Lexmark|Kyocera|Xerox)/i,
    "printer",
    null,
    1,
  ],
  [/^Apple/, null, "Apple", 1],
  [/^(Sony Interactive|Nintendo|Microsoft Xbox)/i, "tv", null, 1],
];

function match(
  rules: readonly Rule[],
  source: HintSource,
  field: string,
  value: string,
): Hint[] {
  const out: Hint[] = [];
  for (const [re, kind, os, strength] of rules) {
    if (!re.test(value)) continue;
    out.push({
      source,
      field,
      value,
      ...(kind ? { kind } : {}),
      ...(os ? { os } : {}),
      strength,
    });
    break;
  }
  return out;
}

/** Hints from a DHCP client's option 60 and option 55. */
export function dhcpHints(vendorClass: string, paramList: string): Hint[] {
  const out: Hint[] = [];
  if (vendorClass) {
    const m = match(VENDOR_CLASS, "dhcp", "option 60", vendorClass);
    out.push(
      ...(m.length ? m : [
        {
          source: "dhcp",
          field: "option 60",
          value: vendorClass,
          strength: 1,
        } as Hint,
      ]),
    );
  }
  if (paramList) {
    const known = PARAM_LISTS.get(paramList);
    out.push({
      source: "dhcp",
      field: known ? `option 55 (${known[1]})` : "option 55",
      value: paramList,
      ...(known ? { os: known[0] } : {}),
      strength: 2,
    });
  }
  return out;
}

/** Hints from an HTTP User-Agent the device sent. */
export function userAgentHints(ua: string): Hint[] {
  const m = match(USER_AGENT, "http", "User-Agent", ua);
  return m.length
    ? m
    : [{ source: "http", field: "User-Agent", value: ua, strength: 1 }];
}

/** Hints from an mDNS service type the device announced. */
export function serviceHints(service: string): Hint[] {
  const m = match(SERVICES, "mdns", "service", service);
  return m.length
    ? m
    : [{ source: "mdns", field: "service", value: service, strength: 1 }];
}

/** Hints from a model string in an mDNS TXT record. */
export function modelHints(model: string): Hint[] {
  const m = match(MODELS, "mdns", "model (TXT)", model);
  return m.length
    ? m
    : [{ source: "mdns", field: "model (TXT)", value: model, strength: 1 }];
}

/** Hints from an SSDP announcement's SERVER and NT/ST. */
export function ssdpHints(server: string, type: string): Hint[] {
  const out: Hint[] = [];
  if (server) {
    const m = match(SERVERS, "ssdp", "SERVER", server);
    out.push(
      ...(m.length ? m : [
        {
          source: "ssdp",
          field: "SERVER",
          value: server,
          strength: 1,
        } as Hint,
      ]),
    );
  }
  if (type) out.push(...match(UPNP_TYPES, "ssdp", "NT/ST", type));
  return out;
}

/** Hints from the MAC's vendor. */
export function vendorHints(vendor: string): Hint[] {
  return match(VENDORS, "vendor", "OUI", vendor);
}

/** A conclusion with its evidence. */
export interface Conclusion<T extends string> {
  readonly value: T;
  /** "likely": strong evidence; "possibly": only weak evidence. */
  readonly confidence: "likely" | "possibly";
  /** The hints behind it, as "source field: value". */
  readonly evidence: string[];
  /** Hints that point elsewhere (shown too). */
  readonly against: string[];
}

/** How a hint reads as evidence. */
export function hintText(h: Hint): string {
  return `${h.source} ${h.field}: ${h.value}`;
}

function conclude<T extends string>(
  hints: readonly Hint[],
  pick: (h: Hint) => T | undefined,
): Conclusion<T> | null {
  const score = new Map<T, number>();
  const strong = new Set<T>();
  for (const h of hints) {
    const v = pick(h);
    if (v === undefined) continue;
    score.set(v, (score.get(v) ?? 0) + h.strength);
    if (h.strength === 2) strong.add(v);
  }
  let best: T | null = null, top = 0, second = 0;
  for (const [v, s] of score) {
    if (s > top) {
      second = top;
      top = s;
      best = v;
    } else if (s > second) second = s;
  }
  if (best === null || top === second) return null;
  const evidence: string[] = [], against: string[] = [];
  for (const h of hints) {
    const v = pick(h);
    if (v === undefined) continue;
    (v === best ? evidence : against).push(hintText(h));
  }
  return {
    value: best,
    confidence: strong.has(best) && top >= second + 2 ? "likely" : "possibly",
    evidence,
    against,
  };
}

/**
 * The kind and OS family the hints support, each null when there is no
 * evidence or it is evenly split. "Apple" (macOS or iOS) gives way to
 * macOS or iOS when either is also named.
 */
export function classify(hints: readonly Hint[]): {
  kind: Conclusion<DeviceKind> | null;
  os: Conclusion<OsFamily> | null;
} {
  const named = hints.some((h) => h.os === "macOS" || h.os === "iOS");
  return {
    kind: conclude(hints, (h) => h.kind),
    os: conclude(hints, (h) => h.os === "Apple" && named ? undefined : h.os),
  };
}
