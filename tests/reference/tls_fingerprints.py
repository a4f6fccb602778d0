#!/usr/bin/env python3
"""A second implementation of JA3, JA3S and JA4, for NetSentinel's tests.

Written from the specifications, not from NetSentinel's code:
  JA3/JA3S  https://github.com/salesforce/ja3 (README: field order, GREASE)
  JA4       https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md

tshark (Wireshark) reads the capture and reassembles TCP; this script takes
each ClientHello and ServerHello's raw bytes from tshark's JSON (-x) and
computes the fingerprints itself, and the SHA-1 of the server's first
certificate. It also passes on tshark's own JA3 and
JA3S (fields tls.handshake.ja3*, Wireshark 3.6+), so a test compares three
implementations.

  tls_fingerprints.py CAPTURE [TSHARK]

Prints one JSON object: "client_ip:client_port" -> fields.
"""
import hashlib
import json
import struct
import subprocess
import sys

GREASE = {0x0A0A + 0x1010 * i for i in range(16)}


def u16list(b):
    return [struct.unpack_from("!H", b, i)[0] for i in range(0, len(b) - 1, 2)]


def parse_hello(raw, client):
    """Handshake message bytes (with the 4-byte header) -> dict of fields."""
    body = raw[4:4 + int.from_bytes(raw[1:4], "big")]
    p = 0
    version = struct.unpack_from("!H", body, p)[0]
    p += 2 + 32
    sid = body[p]
    p += 1 + sid
    out = {"version": version, "extensions": [], "groups": [], "formats": [],
           "sigalgs": [], "alpn": [], "versions": [], "sni": False}
    if client:
        n = struct.unpack_from("!H", body, p)[0]
        out["ciphers"] = u16list(body[p + 2:p + 2 + n])
        p += 2 + n
        p += 1 + body[p]
    else:
        out["ciphers"] = [struct.unpack_from("!H", body, p)[0]]
        p += 3
    if p + 2 <= len(body):
        end = p + 2 + struct.unpack_from("!H", body, p)[0]
        p += 2
        while p + 4 <= end:
            t, n = struct.unpack_from("!HH", body, p)
            d = body[p + 4:p + 4 + n]
            p += 4 + n
            out["extensions"].append(t)
            if t == 0:
                out["sni"] = True
            elif t == 10:
                out["groups"] = u16list(d[2:])
            elif t == 11:
                out["formats"] = list(d[1:1 + d[0]])
            elif t == 13:
                out["sigalgs"] = u16list(d[2:])
            elif t == 16:
                q = 2
                while q < len(d):
                    out["alpn"].append(d[q + 1:q + 1 + d[q]])
                    q += 1 + d[q]
            elif t == 43:
                out["versions"] = u16list(d[1:]) if client else u16list(d)
    return out


def dash(values):
    return "-".join(str(v) for v in values if v not in GREASE)


def ja3(h):
    s = ",".join([str(h["version"]), dash(h["ciphers"]), dash(h["extensions"]),
                  dash(h["groups"]), dash(h["formats"])])
    return s, hashlib.md5(s.encode()).hexdigest()


def ja3s(h):
    s = ",".join([str(h["version"]), dash(h["ciphers"]), dash(h["extensions"])])
    return s, hashlib.md5(s.encode()).hexdigest()


VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10",
            0x0300: "s3", 0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def alnum(c):
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def sha12(s):
    return "000000000000" if s == "" else hashlib.sha256(s.encode()).hexdigest()[:12]


def ja4(h):
    versions = [v for v in h["versions"] if v not in GREASE]
    v = max(versions) if versions else h["version"]
    ciphers = [c for c in h["ciphers"] if c not in GREASE]
    exts = [e for e in h["extensions"] if e not in GREASE]
    alpns = [a for a in h["alpn"]
             if not (len(a) == 2 and int.from_bytes(a, "big") in GREASE)]
    if not alpns or len(alpns[0]) == 0:
        alpn = "00"
    else:
        a = alpns[0]
        if alnum(a[0]) and alnum(a[-1]):
            alpn = chr(a[0]) + chr(a[-1])
        else:
            x = a.hex()
            alpn = x[0] + x[-1]
    head = "t%s%s%02d%02d%s" % (VERSIONS.get(v, "00"), "d" if h["sni"] else "i",
                                min(len(ciphers), 99), min(len(exts), 99), alpn)
    cs = ",".join("%04x" % c for c in sorted(ciphers))
    es = ",".join("%04x" % e for e in sorted(e for e in exts if e not in (0, 16)))
    sigs = [s for s in h["sigalgs"] if s not in GREASE]
    if es and sigs:
        es += "_" + ",".join("%04x" % s for s in sigs)
    return "%s_%s_%s" % (head, sha12(cs), sha12(es))


def as_list(x):
    return x if isinstance(x, list) else [x]


def handshakes(layer):
    """(handshake dict, raw hex) pairs anywhere under a tls layer."""
    if isinstance(layer, list):
        for x in layer:
            yield from handshakes(x)
        return
    if not isinstance(layer, dict):
        return
    if "tls.handshake" in layer and "tls.handshake_raw" in layer:
        hs = as_list(layer["tls.handshake"])
        raws = layer["tls.handshake_raw"]
        raws = raws if raws and isinstance(raws[0], list) else [raws]
        for h, r in zip(hs, raws):
            yield h, r[0]
    for k, v in layer.items():
        if k not in ("tls.handshake", "tls.handshake_raw"):
            yield from handshakes(v)


def first_raw(x, key):
    """The first raw hex value of `key` anywhere under x."""
    if isinstance(x, list):
        for y in x:
            r = first_raw(y, key)
            if r is not None:
                return r
    elif isinstance(x, dict):
        if key in x:
            v = x[key]
            while isinstance(v, list) and v and isinstance(v[0], list):
                v = v[0]
            return v[0]
        for y in x.values():
            r = first_raw(y, key)
            if r is not None:
                return r
    return None


def main():
    path = sys.argv[1]
    tshark = sys.argv[2] if len(sys.argv) > 2 else "tshark"
    text = subprocess.run(
        [tshark, "-r", path, "-x", "-T", "json", "--no-duplicate-keys", "-o", "tls.desegment_ssl_records:TRUE",
         "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2 || tls.handshake.type == 11"],
        check=True, capture_output=True, text=True).stdout
    out = {}
    for pkt in json.loads(text or "[]"):
        layers = pkt["_source"]["layers"]
        if "tcp" not in layers:
            continue  # QUIC: TLS over UDP is not read by NetSentinel
        ip = layers.get("ip") or layers.get("ipv6")
        src = ip.get("ip.src") or ip.get("ipv6.src")
        dst = ip.get("ip.dst") or ip.get("ipv6.dst")
        sport, dport = layers["tcp"]["tcp.srcport"], layers["tcp"]["tcp.dstport"]
        for h, raw in handshakes(layers.get("tls")):
            kind = h.get("tls.handshake.type")
            b = bytes.fromhex(raw)
            # The first hello of each side counts (a ClientHello sent again
            # after a HelloRetryRequest does not replace it).
            if kind == "1" and "ja3" not in out.get("%s:%s" % (src, sport), {}):
                key = "%s:%s" % (src, sport)
                f = parse_hello(b, True)
                s, m = ja3(f)
                rec = out.setdefault(key, {})
                rec.update({"ja3_string": s, "ja3": m, "ja4": ja4(f),
                            "tshark_ja3": h.get("tls.handshake.ja3"),
                            "tshark_ja3_string": h.get("tls.handshake.ja3_full")})
            elif kind == "2" and "ja3s" not in out.get("%s:%s" % (dst, dport), {}):
                key = "%s:%s" % (dst, dport)
                f = parse_hello(b, False)
                s, m = ja3s(f)
                rec = out.setdefault(key, {})
                rec.update({"ja3s_string": s, "ja3s": m,
                            "tshark_ja3s": h.get("tls.handshake.ja3s"),
                            "tshark_ja3s_string": h.get("tls.handshake.ja3s_full")})
            elif kind == "11" and "cert_sha1" not in out.get("%s:%s" % (dst, dport), {}):
                der = first_raw(h, "tls.handshake.certificate_raw")
                if der is not None:
                    sha = hashlib.sha1(bytes.fromhex(der)).hexdigest()
                    rec = out.setdefault("%s:%s" % (dst, dport), {})
                    rec["cert_sha1"] = ":".join(sha[i:i + 2] for i in range(0, 40, 2))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
