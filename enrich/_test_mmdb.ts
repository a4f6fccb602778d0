/**
 * A minimal MaxMind DB writer for tests: builds small City- or ASN-shaped
 * databases in memory so the reader is tested against real `.mmdb` bytes
 * without shipping third-party test files. Follows the MaxMind DB format 2.0
 * (24-bit records, IPv4 networks under ::/96 in an IPv6 tree).
 *
 * @module
 */
import { parseCidr } from "../decode/mod.ts";

/** A value the writer can encode. Integers become uint32 (or int32 when negative), others doubles. */
export type MmdbValue =
  | string
  | number
  | boolean
  | readonly MmdbValue[]
  | { readonly [key: string]: MmdbValue };

/** What {@link writeMmdb} builds. */
export interface MmdbSpec {
  /** `database_type` in the metadata. */
  type: string;
  /** 6 (default) for a tree holding both families, 4 for IPv4 only. */
  ipVersion?: 4 | 6;
  /** Networks ("81.2.69.0/24", "2001:db8::/32") and their records; less specific first. */
  networks: ReadonlyArray<readonly [string, MmdbValue]>;
}

const enc = new TextEncoder();

function control(out: number[], type: number, size: number): void {
  let sizeBits: number;
  const ext: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 285) {
    sizeBits = 29;
    ext.push(size - 29);
  } else if (size < 65_821) {
    sizeBits = 30;
    const s = size - 285;
    ext.push(s >> 8, s & 255);
  } else {
    sizeBits = 31;
    const s = size - 65_821;
    ext.push((s >> 16) & 255, (s >> 8) & 255, s & 255);
  }
  if (type <= 7) out.push((type << 5) | sizeBits);
  else out.push(sizeBits, type - 7);
  out.push(...ext);
}

function encode(out: number[], v: MmdbValue): void {
  if (typeof v === "string") {
    const b = enc.encode(v);
    control(out, 2, b.length);
    out.push(...b);
  } else if (typeof v === "boolean") {
    control(out, 14, v ? 1 : 0);
  } else if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
      const bytes: number[] = [];
      for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
      control(out, 6, bytes.length);
      out.push(...bytes);
    } else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) {
      const dv = new DataView(new ArrayBuffer(4));
      dv.setInt32(0, v);
      control(out, 8, 4);
      out.push(...new Uint8Array(dv.buffer));
    } else {
      const dv = new DataView(new ArrayBuffer(8));
      dv.setFloat64(0, v);
      control(out, 3, 8);
      out.push(...new Uint8Array(dv.buffer));
    }
  } else if (Array.isArray(v)) {
    control(out, 11, v.length);
    for (const x of v) encode(out, x);
  } else {
    const entries = Object.entries(v as { [key: string]: MmdbValue });
    control(out, 7, entries.length);
    for (const [k, x] of entries) {
      encode(out, k);
      encode(out, x);
    }
  }
}

type Rec = { n: number } | { data: number } | null;

/**
 * Builds the bytes of a MaxMind DB holding the given networks.
 *
 * @example
 * ```ts
 * const bytes = writeMmdb({
 *   type: "Test-ASN",
 *   networks: [["81.2.69.0/24", { autonomous_system_number: 20712 }]],
 * });
 * ```
 */
export function writeMmdb(spec: MmdbSpec): Uint8Array {
  const ipVersion = spec.ipVersion ?? 6;
  const nodes: [Rec, Rec][] = [[null, null]];
  const data: number[] = [];
  for (const [net, value] of spec.networks) {
    const c = parseCidr(net);
    if (c === null) throw new TypeError(`Bad network "${net}"`);
    if (c.version === 6 && ipVersion === 4) {
      throw new TypeError(`IPv6 network "${net}" in an IPv4 database`);
    }
    const offset = data.length;
    encode(data, value);
    const bits: number[] = [];
    if (c.version === 4) {
      if (ipVersion === 6) { for (let i = 0; i < 96; i++) bits.push(0); }
      for (let i = 0; i < c.bits; i++) {
        bits.push((c.words[0]! >>> (31 - i)) & 1);
      }
    } else {
      for (let i = 0; i < c.bits; i++) {
        bits.push((c.words[i >> 5]! >>> (31 - (i & 31))) & 1);
      }
    }
    if (bits.length === 0) throw new TypeError("A /0 network is not supported");
    let cur = 0;
    for (let i = 0; i < bits.length; i++) {
      const node = nodes[cur]!;
      const bit = bits[i]!;
      if (i === bits.length - 1) {
        node[bit] = { data: offset };
        break;
      }
      const rec = node[bit]!;
      if (rec !== null && "n" in rec) {
        cur = rec.n;
        continue;
      }
      // Push a less specific network (or nothing) down both branches.
      nodes.push([rec, rec]);
      node[bit] = { n: nodes.length - 1 };
      cur = nodes.length - 1;
    }
  }
  const nodeCount = nodes.length;
  const tree = new Uint8Array(nodeCount * 6);
  const value = (r: Rec) =>
    r === null ? nodeCount : "n" in r ? r.n : nodeCount + 16 + r.data;
  nodes.forEach(([l, r], i) => {
    for (const [j, v] of [[0, value(l)], [3, value(r)]] as const) {
      tree[i * 6 + j] = (v >> 16) & 255;
      tree[i * 6 + j + 1] = (v >> 8) & 255;
      tree[i * 6 + j + 2] = v & 255;
    }
  });
  const meta: number[] = [0xab, 0xcd, 0xef, ...enc.encode("MaxMind.com")];
  encode(meta, {
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_700_000_000,
    database_type: spec.type,
    description: { en: `${spec.type} test database` },
    ip_version: ipVersion,
    languages: ["en"],
    node_count: nodeCount,
    record_size: 24,
  });
  const out = new Uint8Array(tree.length + 16 + data.length + meta.length);
  out.set(tree, 0);
  out.set(data, tree.length + 16);
  out.set(meta, tree.length + 16 + data.length);
  return out;
}
