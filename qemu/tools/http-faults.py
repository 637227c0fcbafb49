#!/usr/bin/env python3
"""An HTTP/1.1 server that misbehaves on purpose, for the `http` tests (nginx serves the
well-behaved files). Serves files from ROOT on ADDR:PORT:

  /files/NAME                 the file, with Range (206) support
  /cut/N/NAME                 the file, but a response that starts at byte 0 is cut with a
                              TCP reset after N body bytes (a Range request is served whole)
  /chunked/NAME               the file in chunked transfer coding, chunks of varying size
  /redirect/K/NAME            302 to /redirect/K-1/NAME, and /redirect/0/NAME to /files/NAME
  /status/CODE                that status with a short body
  /huge                       Content-Length: 1 TiB, then a few bytes and a reset
It also answers DNS on ADDR:53 (UDP): an A query for any name under `.lab` gets ADDR, any
other name NXDOMAIN.
usage: http-faults.py ROOT ADDR PORT
"""
import http.server, os, random, socket, struct, sys, threading

ROOT = sys.argv[1]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reset(self):
        # SO_LINGER 0: close() sends a RST, as a crashed server or a middlebox would.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def file(self, name):
        p = os.path.join(ROOT, os.path.basename(name))
        try:
            with open(p, "rb") as f:
                return f.read()
        except OSError:
            return None

    def plain(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def serve(self, data, cut=None):
        first = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            first = int(rng[6:-1])
            if first >= len(data):
                return self.plain(416, "range not satisfiable\n")
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - first))
        self.send_header("ETag", '"lifeboat-test-1"')
        self.send_header("Connection", "close")
        self.end_headers()
        if cut is not None and first == 0:
            self.wfile.write(data[:cut])
            self.wfile.flush()
            return self.reset()
        self.wfile.write(data[first:])

    def do_GET(self):
        parts = self.path.split("/")[1:]
        kind = parts[0] if parts else ""
        if kind == "files" and len(parts) == 2 and (d := self.file(parts[1])) is not None:
            return self.serve(d)
        if kind == "cut" and len(parts) == 3 and (d := self.file(parts[2])) is not None:
            return self.serve(d, cut=int(parts[1]))
        if kind == "chunked" and len(parts) == 2 and (d := self.file(parts[1])) is not None:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            r, i = random.Random(len(d)), 0
            while i < len(d):
                n = min(r.choice([1, 7, 100, 1460, 4096, 65536, 300000]), len(d) - i)
                self.wfile.write(b"%x\r\n" % n + d[i:i + n] + b"\r\n")
                i += n
            self.wfile.write(b"0\r\n\r\n")
            return
        if kind == "redirect" and len(parts) == 3:
            k = int(parts[1])
            to = f"/redirect/{k - 1}/{parts[2]}" if k > 0 else f"/files/{parts[2]}"
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            return
        if kind == "status" and len(parts) == 2:
            return self.plain(int(parts[1]), "as asked\n")
        if kind == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 40))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            return self.reset()
        self.plain(404, "no such file\n")


def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 53))
    addr = socket.inet_aton(sys.argv[2])
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        labels, i = [], 12
        while i < len(q) and q[i] != 0:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        r = bytearray(q[:2]) + b"\x81\x80" + b"\x00\x01" + b"\x00\x00" * 3 + question
        if name.endswith(".lab"):
            r[7] = 1
            r += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + addr
        else:
            r[3] |= 3
        s.sendto(bytes(r), peer)


threading.Thread(target=dns, daemon=True).start()
http.server.ThreadingHTTPServer((sys.argv[2], int(sys.argv[3])), H).serve_forever()
