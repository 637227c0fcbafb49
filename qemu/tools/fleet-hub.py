#!/usr/bin/env python3
"""A learning Ethernet switch between one tap device and N QEMU units on `-netdev socket,udp=`
/ `dgram` (one raw Ethernet frame per UDP datagram): the segment of a fleet lab.

usage: fleet-hub.py TAP LISTEN_PORT UNIT_PORT [UNIT_PORT ...]

Each unit's QEMU sends to 127.0.0.1:LISTEN_PORT from 127.0.0.1:UNIT_PORT. A frame goes to the
port its destination MAC was last seen on; broadcast, multicast and unknown destinations are
flooded to every other port (no IGMP snooping: a multicast frame reaches every unit, as on a
plain switch). The tap's own counters (/sys/class/net/TAP/statistics/tx_bytes) are the
server's egress.
"""
import fcntl, os, select, signal, socket, struct, sys

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tap_name, listen, units = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", tap_name.encode(), IFF_TAP | IFF_NO_PI))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("127.0.0.1", listen))
    ports = ["tap"] + [("127.0.0.1", p) for p in units]
    where = {}  # MAC -> port

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
        dst = where.get(frame[0:6]) if not frame[0] & 1 else None
        if dst is not None:
            if dst != src:
                send(dst, frame)
            return
        for p in ports:
            if p != src:
                send(p, frame)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        r, _, _ = select.select([tap, udp], [], [])
        if tap in r:
            forward("tap", os.read(tap, 65536))
        if udp in r:
            frame, src = udp.recvfrom(65536)
            if src in ports:
                forward(src, frame)


if __name__ == "__main__":
    main()
