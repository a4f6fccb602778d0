/**
 * IP fragments built byte by byte (RFC 791 §3.2 for IPv4, RFC 8200 §4.5
 * for IPv6), for defragmentation tests and the bench: a whole packet cut
 * into fragments, and single fragments with any offset, length and flag.
 *
 * @module
 */

/** Concatenates byte arrays and plain byte lists. */
function join(...parts: (Uint8Array | number[])[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * One IPv4 fragment: `header` (an IPv4 header, 20 bytes or more, whose
 * length, flags and offset are rewritten) with `data` at byte offset `off`
 * (a multiple of 8), more-fragments as given.
 */
export function ipv4Fragment(
  header: Uint8Array,
  off: number,
  data: Uint8Array,
  more: boolean,
): Uint8Array {
  const hl = (header[0]! & 15) * 4;
  const out = join(header.subarray(0, hl), data);
  const total = out.length;
  out[2] = total >> 8;
  out[3] = total & 0xff;
  const word = (more ? 0x2000 : 0) | (off >> 3);
  out[6] = word >> 8;
  out[7] = word & 0xff;
  return out;
}

/**
 * Cuts the IPv4 packet `packet` into fragments of at most `size` data bytes
 * (rounded down to a multiple of 8), in order.
 */
export function fragmentIpv4(packet: Uint8Array, size: number): Uint8Array[] {
  const hl = (packet[0]! & 15) * 4;
  const total = (packet[2]! << 8) | packet[3]!;
  const data = packet.subarray(hl, total);
  const step = Math.max(8, size & ~7);
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += step) {
    const end = Math.min(data.length, off + step);
    out.push(
      ipv4Fragment(packet, off, data.subarray(off, end), end < data.length),
    );
  }
  return out;
}

/**
 * One IPv6 fragment: the 40-byte header of `header` (payload length and
 * next header rewritten), a fragment header with next header `nh`,
 * identification `id`, then `data` at byte offset `off`.
 */
export function ipv6Fragment(
  header: Uint8Array,
  o: { nh: number; id: number; off: number; more: boolean },
  data: Uint8Array,
): Uint8Array {
  const fh = [
    o.nh,
    0,
    (o.off >> 8) & 0xff,
    (o.off & 0xf8) | (o.more ? 1 : 0),
    (o.id >>> 24) & 0xff,
    (o.id >>> 16) & 0xff,
    (o.id >>> 8) & 0xff,
    o.id & 0xff,
  ];
  const out = join(header.subarray(0, 40), fh, data);
  const plen = out.length - 40;
  out[4] = plen >> 8;
  out[5] = plen & 0xff;
  out[6] = 44;
  return out;
}

/**
 * Cuts the IPv6 packet `packet` (a 40-byte header, no extension headers)
 * into fragments of at most `size` data bytes, in order.
 */
export function fragmentIpv6(
  packet: Uint8Array,
  size: number,
  id = 0x01020304,
): Uint8Array[] {
  const nh = packet[6]!;
  const plen = (packet[4]! << 8) | packet[5]!;
  const data = packet.subarray(40, 40 + plen);
  const step = Math.max(8, size & ~7);
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += step) {
    const end = Math.min(data.length, off + step);
    out.push(
      ipv6Fragment(
        packet,
        { nh, id, off, more: end < data.length },
        data.subarray(off, end),
      ),
    );
  }
  return out;
}

const addr4 = (s: string) => s.split(".").map(Number);
function addr6(s: string): number[] {
  const [head, tail] = s.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const words = [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  return words.flatMap((w) => {
    const x = parseInt(w, 16);
    return [x >> 8, x & 0xff];
  });
}

/** An IPv4 packet (20-byte header, checksum 0) around `payload`. */
export function ipv4Packet(
  o: { src: string; dst: string; proto: number; id: number; ttl?: number },
  payload: Uint8Array,
): Uint8Array {
  const total = 20 + payload.length;
  return join(
    [0x45, 0, total >> 8, total & 0xff, o.id >> 8, o.id & 0xff, 0, 0],
    [o.ttl ?? 64, o.proto, 0, 0],
    addr4(o.src),
    addr4(o.dst),
    payload,
  );
}

/** An IPv6 packet (no extension headers) around `payload`. */
export function ipv6Packet(
  o: { src: string; dst: string; nh: number; hlim?: number },
  payload: Uint8Array,
): Uint8Array {
  const n = payload.length;
  return join(
    [0x60, 0, 0, 0, n >> 8, n & 0xff, o.nh, o.hlim ?? 64],
    addr6(o.src),
    addr6(o.dst),
    payload,
  );
}

/** A TCP header (20 bytes, checksum 0) with `flags`, then `payload`. */
export function tcpSegment(
  sport: number,
  dport: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return join(
    [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff],
    [0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0],
    payload,
  );
}

/** An ICMP/ICMPv6 echo request (`type` 8 or 128) with `n` bytes of data. */
export function echoRequest(type: number, n: number, id = 7): Uint8Array {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = i & 0xff;
  return join([type, 0, 0, 0, id >> 8, id & 0xff, 0, 1], data);
}
