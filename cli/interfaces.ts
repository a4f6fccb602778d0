/**
 * `interfaces`: each network interface with its addresses, state, and
 * whether this process may capture on it.
 *
 * @module
 */
import {
  defaultRouteInterface,
  formatInterfacesTable,
  listInterfaces,
} from "../capture/mod.ts";
import { bool, type Command, type Flags } from "./command.ts";
import { printOut } from "../common/output.ts";

/** The `interfaces` command. */
export const interfacesCommand: Command = {
  name: "interfaces",
  summary: "list interfaces, their addresses and whether capture is permitted",
  options: { json: { type: "boolean" } },
  help: `Usage: netsentinel interfaces [--json]

Lists every network interface with its addresses, up/down state, MTU, and
whether this process is permitted to capture on it (checked by really opening
it with libpcap). The interface of the default route is marked with "*".

Options:
  --json        print the list as JSON
  -h, --help    show this help`,
  async run(flags: Flags): Promise<number> {
    const list = await listInterfaces();
    const def = await defaultRouteInterface();
    if (bool(flags, "json")) {
      printOut(
        JSON.stringify({ default_route: def, interfaces: list }, null, 2),
      );
    } else {
      printOut(formatInterfacesTable(list, { defaultRoute: def }));
    }
    return 0;
  },
};
