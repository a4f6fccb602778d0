/**
 * Devices: what is on the home network, by MAC address, with its vendor
 * (IEEE registry), names (DHCP, mDNS, NetBIOS, LLMNR), hints (DHCP
 * fingerprints, SSDP, User-Agents, JA4), the kind and OS family the
 * evidence supports, its addresses over time, and what it does (traffic,
 * peers, services). Passive: it only reads frames the pipeline already
 * decoded. The inventory is an observer of the pipeline; persistence is
 * wired by the appliance through store/.
 *
 * @module
 */
export * from "./oui.ts";
export * from "./text.ts";
export * from "./dhcp_client.ts";
export * from "./nbns.ts";
export * from "./ssdp.ts";
export * from "./mdns.ts";
export * from "./hints.ts";
export * from "./inventory.ts";
export * from "./record.ts";
