#!/usr/bin/python3
"""Fault-injecting DNS front for the danemta test world.

    /usr/bin/python3 tests/world/dnsfault.py --listen 127.0.0.3@5354 \
        --faults STATE/dns/faults.json --log STATE/dns/queries.log \
        --pidfile STATE/dns/dnsfault.pid

Listens on UDP and TCP, relays every query unchanged to the upstream
authoritative server (nsd; "upstream" in the faults file) over the same
transport, and relays the answer back byte for byte, unless a rule matches
the query's (qname, qtype).  Every query is logged, one line each:

    <unix time>\t<qname, lower case, trailing dot>\t<qtype>\t<udp|tcp>\t<action>

where action is "forward" or the fault applied.

The faults file is JSON: {"upstream": "127.0.0.2@5354", "rules": [
  {"qname": "_25._tcp.mx1.example.test.", "qtype": "TLSA",
   "action": "servfail|refused|notimp|drop|strip-denial",
   "subtree": false}]}
qtype "ANY" (or "*") matches every type; subtree true matches the name and
every name below it.  The file is re-read whenever its mtime changes, so a
test can add a rule at run time (write it atomically: tmp + rename).

Faults:
  servfail, refused, notimp  answer with that RCODE (no records)
  drop                       never answer (the resolver times out)
  strip-denial               forward, then delete every NSEC, NSEC3 and
                             RRSIG RRset from the authority section: a
                             broken proof of non-existence
"""

import argparse
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

UPSTREAM_TIMEOUT = 3.0
MAX_TCP_MSG = 65535


class Rules:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.rules = []
        self.upstream = ("127.0.0.2", 5354)
        self.lock = threading.Lock()
        self.reload()

    def reload(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        with self.lock:
            if self.mtime == st.st_mtime_ns:
                return
            import json

            with open(self.path) as f:
                cfg = json.load(f)
            up = cfg.get("upstream", "127.0.0.2@5354")
            host, _, port = up.partition("@")
            self.upstream = (host, int(port or 53))
            rules = []
            for r in cfg.get("rules", []):
                name = r["qname"].lower()
                if not name.endswith("."):
                    name += "."
                qt = r.get("qtype", "ANY").upper()
                rules.append((name, qt, r["action"], bool(r.get("subtree"))))
            self.rules = rules
            self.mtime = st.st_mtime_ns

    def match(self, qname, qtype):
        self.reload()
        with self.lock:
            for name, qt, action, subtree in self.rules:
                if qt not in ("ANY", "*") and qt != qtype:
                    continue
                if qname == name or (subtree and qname.endswith("." + name)):
                    return action
                if subtree and name == ".":
                    return action
        return "forward"


class Server:
    def __init__(self, rules, logpath):
        self.rules = rules
        self.logf = open(logpath, "a", buffering=1)
        self.loglock = threading.Lock()

    def log(self, qname, qtype, proto, action):
        with self.loglock:
            self.logf.write("%.6f\t%s\t%s\t%s\t%s\n" % (time.time(), qname, qtype, proto, action))

    def upstream_udp(self, wire):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(UPSTREAM_TIMEOUT)
            s.sendto(wire, self.rules.upstream)
            while True:
                data, _ = s.recvfrom(65535)
                if data[:2] == wire[:2]:
                    return data
        except OSError:
            return None
        finally:
            s.close()

    def upstream_tcp(self, wire):
        try:
            with socket.create_connection(self.rules.upstream, timeout=UPSTREAM_TIMEOUT) as s:
                s.sendall(struct.pack("!H", len(wire)) + wire)
                hdr = recv_exact(s, 2)
                if hdr is None:
                    return None
                return recv_exact(s, struct.unpack("!H", hdr)[0])
        except OSError:
            return None

    def handle(self, wire, proto):
        """Return the reply bytes for query WIRE, or None for no reply."""
        try:
            q = dns.message.from_wire(wire)
            qname = q.question[0].name.to_text().lower()
            qtype = dns.rdatatype.to_text(q.question[0].rdtype)
        except Exception:
            self.log("-", "-", proto, "unparsable-forward")
            q = None
            qname = qtype = None
        action = self.rules.match(qname, qtype) if q is not None else "forward"
        if q is not None:
            self.log(qname, qtype, proto, action)
        if action in ("servfail", "refused", "notimp"):
            r = dns.message.make_response(q)
            r.flags &= ~dns.flags.AA
            r.set_rcode(dns.rcode.from_text(action.upper()))
            return r.to_wire()
        if action == "drop":
            return None
        up = self.upstream_udp(wire) if proto == "udp" else self.upstream_tcp(wire)
        if up is None:
            return None
        if action == "strip-denial":
            try:
                r = dns.message.from_wire(up)
                strip = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3, dns.rdatatype.RRSIG)
                r.authority = [rr for rr in r.authority if rr.rdtype not in strip]
                return r.to_wire(max_size=65535 if proto == "tcp" else 0)
            except Exception:
                return up
        return up


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def make_servers(srv, host, port):
    class UDPHandler(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            reply = srv.handle(data, "udp")
            if reply is not None:
                sock.sendto(reply, self.client_address)

    class TCPHandler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(10)
            try:
                while True:
                    hdr = recv_exact(self.request, 2)
                    if hdr is None:
                        return
                    wire = recv_exact(self.request, struct.unpack("!H", hdr)[0])
                    if wire is None:
                        return
                    reply = srv.handle(wire, "tcp")
                    if reply is None:
                        return
                    self.request.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return

    class UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
        daemon_threads = True
        allow_reuse_address = True

    class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    return UDPServer((host, port), UDPHandler), TCPServer((host, port), TCPHandler)


def main():
    ap = argparse.ArgumentParser(description="danemta test-world fault-injecting DNS front")
    ap.add_argument("--listen", required=True, help="ADDR@PORT")
    ap.add_argument("--faults", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pidfile", required=True)
    a = ap.parse_args()
    host, _, port = a.listen.partition("@")
    srv = Server(Rules(a.faults), a.log)
    servers = make_servers(srv, host, int(port or 53))
    threads = [threading.Thread(target=s.serve_forever, args=(0.1,), daemon=True) for s in servers]
    for t in threads:
        t.start()
    tmp = a.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, a.pidfile)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.1):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    try:
        os.unlink(a.pidfile)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
