/**
 * Address and port variables for rule headers: Suricata's defaults (its
 * `suricata.yaml` `vars:` section), `HOME_NET` from the policy's
 * `home_net`, and the config's own (`rules.vars`), which win.
 *
 * @module
 */
import type { VarLookup } from "./parse.ts";

/** Suricata's default address groups (suricata.yaml, 7.0). */
export const DEFAULT_ADDRESS_VARS: Readonly<Record<string, string>> = {
  HOME_NET: "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
  EXTERNAL_NET: "!$HOME_NET",
  HTTP_SERVERS: "$HOME_NET",
  SMTP_SERVERS: "$HOME_NET",
  SQL_SERVERS: "$HOME_NET",
  DNS_SERVERS: "$HOME_NET",
  TELNET_SERVERS: "$HOME_NET",
  AIM_SERVERS: "$EXTERNAL_NET",
  DC_SERVERS: "$HOME_NET",
  DNP3_SERVER: "$HOME_NET",
  DNP3_CLIENT: "$HOME_NET",
  MODBUS_CLIENT: "$HOME_NET",
  MODBUS_SERVER: "$HOME_NET",
  ENIP_CLIENT: "$HOME_NET",
  ENIP_SERVER: "$HOME_NET",
};

/** Suricata's default port groups (suricata.yaml, 7.0). */
export const DEFAULT_PORT_VARS: Readonly<Record<string, string>> = {
  HTTP_PORTS: "80",
  SHELLCODE_PORTS: "!80",
  ORACLE_PORTS: "1521",
  SSH_PORTS: "22",
  DNP3_PORTS: "20000",
  MODBUS_PORTS: "502",
  FILE_DATA_PORTS: "[$HTTP_PORTS,110,143]",
  FTP_PORTS: "21",
  GENEVE_PORTS: "6081",
  VXLAN_PORTS: "4789",
  TEREDO_PORTS: "3544",
};

/**
 * The variable table: defaults, then `HOME_NET` from `homeNet` (CIDR
 * texts) when given, then `extra` (`NAME → "expression"`).
 */
export function ruleVars(
  homeNet: readonly string[] | null,
  extra: Readonly<Record<string, string>> = {},
): VarLookup {
  const t = new Map<string, string>([
    ...Object.entries(DEFAULT_ADDRESS_VARS),
    ...Object.entries(DEFAULT_PORT_VARS),
  ]);
  if (homeNet !== null && homeNet.length > 0) {
    t.set("HOME_NET", `[${homeNet.join(",")}]`);
  }
  for (const [k, v] of Object.entries(extra)) t.set(k.replace(/^\$/, ""), v);
  return (name) => t.get(name);
}
