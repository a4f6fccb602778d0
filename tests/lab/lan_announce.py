#!/usr/bin/env python3
"""Announcements a home device makes, sent the way the devices send them,
for the devices lab test (tests/devices_lab_test.ts):

  ssdp SERVER NT LOCATION       a UPnP NOTIFY ssdp:alive to 239.255.255.250:1900
  mdns HOST ADDR INSTANCE TY    an unsolicited DNS-SD announcement (RFC 6762
                                8.3) of an IPP printer to 224.0.0.251:5353
  nbns NAME ADDR BCAST SECONDS  a NetBIOS name registration broadcast
                                (RFC 1002 4.2.2, as nmbd sends at start), then
                                answers name queries for NAME for SECONDS

Only the standard library; each mode sends and exits (nbns after SECONDS).
"""
import socket
import struct
import sys
import time


def dns_name(name):
    out = b""
    for label in name.split("."):
        if label:
            b = label.encode()
            out += bytes([len(b)]) + b
    return out + b"\x00"


def rr(name, rtype, rdata, cache_flush=True, ttl=120):
    cls = 0x8001 if cache_flush else 0x0001
    return dns_name(name) + struct.pack("!HHIH", rtype, cls, ttl, len(rdata)) + rdata


def ssdp(server, nt, location):
    msg = (
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        "CACHE-CONTROL: max-age=1800\r\n"
        f"LOCATION: {location}\r\nNT: {nt}\r\nNTS: ssdp:alive\r\n"
        f"SERVER: {server}\r\nUSN: uuid:2f402f80-da50-11e1-9b23-00178868aabb::{nt}\r\n\r\n"
    ).encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 4)
    for _ in range(2):
        s.sendto(msg, ("239.255.255.250", 1900))
        time.sleep(0.1)


def mdns(host, addr, instance, ty):
    svc = "_ipp._tcp.local"
    inst = f"{instance}.{svc}"
    inst_wire = bytes([len(instance.encode())]) + instance.encode() + dns_name(svc)
    txt = b"".join(bytes([len(x)]) + x for x in [b"txtvers=1", f"ty={ty}".encode(), b"pdl=application/pdf"])
    answers = [
        rr(svc, 12, inst_wire, cache_flush=False, ttl=4500),
        inst_wire + struct.pack("!HHIH", 33, 0x8001, 120, 6 + len(dns_name(host + ".local")))
        + struct.pack("!HHH", 0, 0, 631) + dns_name(host + ".local"),
        inst_wire + struct.pack("!HHIH", 16, 0x8001, 4500, len(txt)) + txt,
        rr(host + ".local", 1, socket.inet_aton(addr)),
    ]
    msg = struct.pack("!HHHHHH", 0, 0x8400, 0, len(answers), 0, 0) + b"".join(answers)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.bind(("", 5353))
    for _ in range(2):
        s.sendto(msg, ("224.0.0.251", 5353))
        time.sleep(0.1)


def nb_encode(name, suffix):
    raw = name.upper().ljust(15)[:15].encode() + bytes([suffix])
    out = bytes([32])
    for b in raw:
        out += bytes([0x41 + (b >> 4), 0x41 + (b & 15)])
    return out + b"\x00"


def nbns(name, addr, bcast, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind(("", 137))
    qname = nb_encode(name, 0x00)
    reg = (struct.pack("!HHHHHH", 0x4242, 0x2910, 1, 0, 0, 1) + qname + struct.pack("!HH", 0x20, 1)
           + b"\xc0\x0c" + struct.pack("!HHIH", 0x20, 1, 300000, 6) + b"\x00\x00" + socket.inet_aton(addr))
    s.sendto(reg, (bcast, 137))
    s.settimeout(0.5)
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        if len(data) < 12 + 34 or data[2] & 0x80:
            continue
        if data[12:12 + 34] != qname and data[12:12 + 33] != qname[:33]:
            continue
        tid = data[0:2]
        resp = (tid + struct.pack("!HHHHH", 0x8500, 0, 1, 0, 0) + data[12:12 + 34]
                + struct.pack("!HHIH", 0x20, 1, 300000, 6) + b"\x00\x00" + socket.inet_aton(addr))
        s.sendto(resp, peer)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "ssdp":
        ssdp(*args)
    elif mode == "mdns":
        mdns(*args)
    elif mode == "nbns":
        nbns(args[0], args[1], args[2], float(args[3]))
    else:
        sys.exit(f"unknown mode {mode}")
