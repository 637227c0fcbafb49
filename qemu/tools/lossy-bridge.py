#!/usr/bin/env python3
"""Lossy Ethernet bridge between a tap device and QEMU's `-netdev socket,udp=` / `dgram`
(one raw Ethernet frame per UDP datagram). This kernel has no sch_netem, so loss,
duplication and reordering are made here, in user space, from a seeded PRNG (a run is
reproducible). Both directions get the same treatment; ARP is never dropped (so a
test measures the transfer, not neighbour discovery).

usage: lossy-bridge.py TAP LISTEN_PORT QEMU_PORT [--loss P] [--dup P] [--reorder P]
                       [--delay MS] [--rate MBIT] [--queue N] [--seed N] [--stats FILE]
Percentages are per frame. --delay holds every frame MS milliseconds in each direction (a
long path: RTT = 2 x MS), --rate sends at most MBIT megabits per second in each direction
(frames queue behind each other), both without reordering. --queue bounds that queue: at
most N frames wait for the rate-limited link in each direction and a frame that finds N
waiting is dropped (tail drop, like a router's buffer or the kernel's txqueuelen). Reordering holds a frame back until the next frame in the
same direction has gone (or 20 ms pass). On SIGTERM it writes its counters to --stats.
"""
import argparse, fcntl, os, random, select, signal, socket, struct, sys, time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tap"); ap.add_argument("listen", type=int); ap.add_argument("qemu", type=int)
    ap.add_argument("--loss", type=float, default=0); ap.add_argument("--dup", type=float, default=0)
    ap.add_argument("--reorder", type=float, default=0); ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--delay", type=float, default=0); ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--stats")
    a = ap.parse_args()
    if a.queue > 0 and a.rate <= 0:
        ap.error("--queue needs --rate (without a bottleneck nothing waits)")
    rng = random.Random(a.seed)
    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", a.tap.encode(), IFF_TAP | IFF_NO_PI))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", a.listen))
    qemu = ("127.0.0.1", a.qemu)
    stats = {"frames": 0, "dropped": 0, "duplicated": 0, "reordered": 0, "overflowed": 0}
    held = {}  # direction -> (frame, deadline)
    import collections
    line = {"to_qemu": collections.deque(), "to_tap": collections.deque()}  # (due, frame)
    free_at = {"to_qemu": 0.0, "to_tap": 0.0}  # when the rate limit lets the next frame go
    # Frames not yet through the bottleneck: the times their last bit leaves it.
    waiting = {"to_qemu": collections.deque(), "to_tap": collections.deque()}

    def send(direction, frame):
        try:
            if direction == "to_qemu":
                udp.sendto(frame, qemu)
            else:
                os.write(tap, frame)
        except OSError:
            pass  # no QEMU yet, or a full buffer: the frame is lost, as on a wire

    def out(direction, frame):
        if a.delay <= 0 and a.rate <= 0:
            send(direction, frame)
            return
        now = due = time.monotonic()
        if a.rate > 0:
            w = waiting[direction]
            while w and w[0] <= now:
                w.popleft()
            if a.queue > 0 and len(w) >= a.queue:
                stats["overflowed"] += 1
                return
            due = max(due, free_at[direction]) + len(frame) * 8 / (a.rate * 1e6)
            free_at[direction] = due
            w.append(due)
        line[direction].append((due + a.delay / 1000.0, frame))

    def flush():
        now = time.monotonic()
        wait = 0.005
        for d, q in line.items():
            while q and q[0][0] <= now:
                send(d, q.popleft()[1])
            if q:
                wait = min(wait, q[0][0] - now)
        return max(wait, 0)

    def forward(direction, frame):
        stats["frames"] += 1
        is_arp = len(frame) >= 14 and frame[12:14] == b"\x08\x06"
        if not is_arp and rng.random() * 100 < a.loss:
            stats["dropped"] += 1
            return
        copies = 1
        if not is_arp and rng.random() * 100 < a.dup:
            stats["duplicated"] += 1
            copies = 2
        if not is_arp and direction not in held and rng.random() * 100 < a.reorder:
            stats["reordered"] += 1
            held[direction] = (frame, time.monotonic() + 0.02)
            copies -= 1
        for _ in range(copies):
            out(direction, frame)
        if direction in held and held[direction][0] is not frame:
            out(direction, held.pop(direction)[0])

    def stop(*_):
        if a.stats:
            with open(a.stats, "w") as f:
                f.write(" ".join(f"{k}={v}" for k, v in stats.items()) + "\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wait = 0.005
    while True:
        r, _, _ = select.select([tap, udp], [], [], wait)
        if tap in r:
            forward("to_qemu", os.read(tap, 65536))
        if udp in r:
            frame, _ = udp.recvfrom(65536)
            forward("to_tap", frame)
        now = time.monotonic()
        for d in [d for d, (_, t) in held.items() if t <= now]:
            out(d, held.pop(d)[0])
        wait = flush()

if __name__ == "__main__":
    main()
