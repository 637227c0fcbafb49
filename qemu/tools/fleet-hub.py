#!/usr/bin/env python3
"""A learning Ethernet switch between one tap device and N QEMU units on `-netdev socket,udp=`
/ `dgram` (one raw Ethernet frame per UDP datagram): the segment of a fleet lab.

usage: fleet-hub.py [--snoop SECONDS STATS_FILE] TAP LISTEN_PORT UNIT_PORT [UNIT_PORT ...]

Each unit's QEMU sends to 127.0.0.1:LISTEN_PORT from 127.0.0.1:UNIT_PORT. A frame goes to the
port its destination MAC was last seen on; broadcast, multicast and unknown destinations are
flooded to every other port (no IGMP snooping: a multicast frame reaches every unit, as on a
plain switch). The tap's own counters (/sys/class/net/TAP/statistics/tx_bytes) are the
server's egress.

With --snoop it is an IGMP snooping switch with its own querier, as managed switches are: it
sends a general query (IGMPv2, from 0.0.0.0, maximum response 1 s) to every unit every
SECONDS, and a datagram to a group (other than 224.0.0.x) reaches only the tap and the units
whose report for that group came within the last 2 x SECONDS + 1 s (RFC 2236's membership
interval with robustness 2; a leave ends it at once). A unit that does not answer the queries
is cut off from the group. STATS_FILE is rewritten as JSON after every query and report:
{"queries": N, "reports": {"UNIT_PORT": N, ...}, "pruned": N} (pruned: memberships that
expired, checked at each query: units cut off the group without having left it).
"""
import fcntl, json, os, select, signal, socket, struct, sys, time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def general_query():
    """An IGMPv2 general query to 224.0.0.1 from 0.0.0.0 (a snooping switch's proxy querier),
    with the Router Alert option, maximum response time 1 s."""
    igmp = bytearray(struct.pack("!BBH4s", 0x11, 10, 0, bytes(4)))
    igmp[2:4] = struct.pack("!H", checksum(bytes(igmp)))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x46, 0xC0, 24 + len(igmp), 0, 0, 1, 2, 0,
                               bytes(4), bytes([224, 0, 0, 1])) + b"\x94\x04\0\0")
    ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
    return bytes([1, 0, 0x5E, 0, 0, 1, 2, 0, 0, 0, 0, 0xFE, 8, 0]) + bytes(ip) + bytes(igmp)


def main():
    args = sys.argv[1:]
    snoop = None
    if args[:1] == ["--snoop"]:
        snoop, stats_file, args = float(args[1]), args[2], args[3:]
    if len(args) < 3:
        sys.exit(__doc__)
    tap_name, listen, units = args[0], int(args[1]), [int(p) for p in args[2:]]
    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", tap_name.encode(), IFF_TAP | IFF_NO_PI))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("127.0.0.1", listen))
    ports = ["tap"] + [("127.0.0.1", p) for p in units]
    where = {}  # MAC -> port
    members = {}  # group IP bytes -> {port: expiry}
    live = {}  # group IP bytes -> [ports the group's datagrams go to], kept for speed
    stats = {"queries": 0, "reports": {str(p): 0 for p in units}, "pruned": 0}

    def save():
        with open(stats_file + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(stats_file + ".tmp", stats_file)

    def expire(now):
        """Drops memberships whose last report is older than the membership interval."""
        for group, m in members.items():
            for p in [p for p, t in m.items() if t <= now]:
                del m[p]
                stats["pruned"] += 1
            live[group] = ["tap"] + list(m)

    def igmp(src, frame):
        """Learns from a unit's IGMP report or leave."""
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 2:
            return
        at = 14 + (frame[14] & 0x0F) * 4
        if len(frame) < at + 8:
            return
        kind, group = frame[at], frame[at + 4:at + 8]
        if kind in (0x12, 0x16):
            members.setdefault(group, {})[src] = time.monotonic() + 2 * snoop + 1
            stats["reports"][str(src[1])] += 1
            save()
        elif kind == 0x17:
            members.setdefault(group, {}).pop(src, None)
        else:
            return
        live[group] = ["tap"] + list(members[group])

    def group_ports(frame):
        """The ports a group datagram goes to, or None for ordinary flooding."""
        if frame[12:14] != b"\x08\x00" or len(frame) < 34 or frame[30] & 0xF0 != 0xE0:
            return None
        group = frame[30:34]
        if group[:3] == bytes([224, 0, 0]):
            return None
        return live.get(group, ["tap"])

    def send(port, frame):
        try:
            if port == "tap":
                os.write(tap, frame)
            else:
                udp.sendto(frame, port)
        except OSError:
            pass  # a unit not started yet (or gone): like a dead switch port

    def forward(src, frame):
        if len(frame) < 14:
            return
        if not frame[6] & 1:
            where[frame[6:12]] = src
        if snoop is not None:
            if src != "tap":
                igmp(src, frame)
            to = group_ports(frame)
            if to is not None:
                for p in to:
                    if p != src:
                        send(p, frame)
                return
        dst = where.get(frame[0:6]) if not frame[0] & 1 else None
        if dst is not None:
            if dst != src:
                send(dst, frame)
            return
        for p in ports:
            if p != src:
                send(p, frame)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    next_query = time.monotonic() + (snoop or 0)
    if snoop is not None:
        save()
    while True:
        wait = None
        if snoop is not None:
            now = time.monotonic()
            if now >= next_query:
                expire(now)
                query = general_query()
                for p in ports[1:]:
                    send(p, query)
                stats["queries"] += 1
                save()
                next_query = now + snoop
            wait = max(0.0, next_query - time.monotonic())
        r, _, _ = select.select([tap, udp], [], [], wait)
        if tap in r:
            forward("tap", os.read(tap, 65536))
        if udp in r:
            frame, src = udp.recvfrom(65536)
            if src in ports:
                forward(src, frame)


if __name__ == "__main__":
    main()
