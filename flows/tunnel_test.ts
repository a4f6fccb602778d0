import assert from "node:assert/strict";
import { decodeBytes, newPacket, type Packet } from "../decode/mod.ts";
import { TunnelCache, tunnelOf } from "./mod.ts";
import { ipv4Packet, tcpSegment } from "../tests/fragment_frames.ts";
import { ethernet, udpDatagram, vxlan } from "../tests/tunnel_frames.ts";

const inner = ethernet(
  0x0800,
  ipv4Packet(
    { src: "10.99.0.66", dst: "10.99.0.10", proto: 6, id: 1 },
    tcpSegment(40000, 22, 2),
  ),
);

/** A VXLAN frame from outer source port `sport`, decoded. */
function vxlanPacket(sport: number, p = newPacket()): Packet {
  const frame = ethernet(
    0x0800,
    ipv4Packet(
      { src: "192.0.2.1", dst: "192.0.2.2", proto: 17, id: 2 },
      udpDatagram(sport, 4789, vxlan(inner)),
    ),
  );
  assert.equal(decodeBytes(p, frame), null);
  return p;
}

Deno.test("tunnelOf() writes Suricata's tunnel fields and the kind", () => {
  assert.deepEqual(tunnelOf(vxlanPacket(40001)), {
    src_ip: "192.0.2.1",
    src_port: 40001,
    dest_ip: "192.0.2.2",
    dest_port: 4789,
    proto: "UDP",
    depth: 1,
    type: "vxlan",
  });
});

Deno.test("TunnelCache gives one shared record per outer tuple among the last eight", () => {
  const cache = new TunnelCache();
  const p = newPacket();
  const first = cache.of(vxlanPacket(40001, p));
  assert.equal(cache.of(vxlanPacket(40001, p)), first, "the same object");
  const other = cache.of(vxlanPacket(40002, p));
  assert.notEqual(other, first);
  assert.equal(other!.src_port, 40002);
  // Eight more tuples push the first out: a new (equal) record is built.
  for (let k = 0; k < 8; k++) cache.of(vxlanPacket(41000 + k, p));
  const again = cache.of(vxlanPacket(40001, p));
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
  // Not tunnelled: null.
  assert.equal(decodeBytes(p, inner), null);
  assert.equal(cache.of(p), null);
});
