"""Shared helpers of the danemta benchmarks (issue 7): the world's state,
restarting the world's daemons, and measuring a process tree's CPU, wall
time and peak RSS.  Standard library only; run with /usr/bin/python3."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORLD = os.path.join(ROOT, "tests", "world")
WITH_RESOLVER = os.path.join(WORLD, "with-resolver")
RESOLVER_ADDR = "127.0.0.4"


def die(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.exit(1)


def state_dir(arg=None):
    return os.path.abspath(arg or os.environ.get("DANEMTA_WORLD") or "/tmp/danemta-world")


def world(state):
    p = os.path.join(state, "world.json")
    if not os.path.exists(p):
        die("no world in %s (tests/world/up %s)" % (state, state))
    with open(p) as f:
        return json.load(f)


def build_dir():
    """The build directory holding danemta: $DANEMTA_BUILD or build-bench."""
    b = os.environ.get("DANEMTA_BUILD") or os.path.join(ROOT, "build-bench")
    return os.path.abspath(b)


def tool(rel):
    """Path of a built program (e.g. 'src/cli/danemta') or None."""
    p = os.path.join(build_dir(), rel)
    return p if os.access(p, os.X_OK) else None


def world_running(state):
    pf = os.path.join(state, "pids", "nsd.pid")
    if not os.path.exists(pf):
        return False
    try:
        os.kill(int(open(pf).read().strip()), 0)
        return True
    except (ValueError, OSError):
        return False


def _stop_group(pid):
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    for _ in range(50):  # 0.5 s grace: neither daemon keeps state
        try:
            os.killpg(pid, 0)
        except OSError:
            return
        time.sleep(0.01)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    time.sleep(0.1)


def restart_daemon(state, name, argv, logf, probe):
    """Restart one of the world's daemons the way tests/world/up starts it:
    its own session, pid (= pgid) in STATE/pids/NAME.pid so that
    tests/world/down still stops it.  PROBE: a function that returns True once
    the daemon answers."""
    pf = os.path.join(state, "pids", name + ".pid")
    try:
        _stop_group(int(open(pf).read().strip()))
    except (OSError, ValueError):
        pass
    with open(logf, "ab") as log:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True)
    with open(pf, "w") as f:
        f.write("%d\n" % p.pid)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if p.poll() is not None:
            die("%s exited at start (see %s)" % (name, logf))
        if probe():
            return
        time.sleep(0.05)
    die("%s did not answer after a restart" % name)


def dns_answers(addr, port, qname="test.", qtype=6, timeout=0.2):
    """True when ADDR@PORT answers a UDP query (any rcode): a start probe
    with a short timeout (drill waits seconds on a lost first packet)."""
    import random
    import socket
    import struct

    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in qname.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(q, (addr, port))
            data = s.recv(4096)
        except OSError:
            return False
    return len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid


def restart_nsd(state):
    restart_daemon(state, "nsd", ["nsd", "-d", "-c", os.path.join(state, "dns", "nsd.conf")],
                   os.path.join(state, "dns", "nsd.err"),
                   lambda: dns_answers("127.0.0.2", 5354))


def flush_resolver(state):
    """Empty the world's unbound daemon's cache.  Its remote control is off
    (tests/world/up), so the only way is a restart."""
    restart_daemon(state, "unbound",
                   ["unbound", "-d", "-c", os.path.join(state, "unbound", "unbound.conf")],
                   os.path.join(state, "unbound", "unbound.err"),
                   lambda: dns_answers(RESOLVER_ADDR, 53))


class Run:
    """Figures of one measured command (the whole process tree)."""

    def __init__(self, argv, rc, wall, cpu, maxrss_kb, out, err):
        self.argv, self.rc, self.wall, self.cpu = argv, rc, wall, cpu
        self.maxrss_kb, self.out, self.err = maxrss_kb, out, err


def measure(argv, stdin=None, env=None, timeout=900):
    """Run ARGV to its end and return a Run: wall seconds, CPU seconds
    (user + system of the process and every descendant it waited for,
    from wait4) and the peak RSS of the largest single process (KB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else
                         subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    # communicate() would reap the child itself; read by hand, then wait4.
    bufs = {}

    def drain(name, f):
        bufs[name] = f.read()

    ts = [threading.Thread(target=drain, args=("out", p.stdout)),
          threading.Thread(target=drain, args=("err", p.stderr))]
    for t in ts:
        t.start()
    if stdin is not None:
        p.stdin.write(stdin)
        p.stdin.close()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.002)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in ts:
        t.join()
    return Run(argv, p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss,
               bufs.get("out", b"").decode(errors="replace"),
               bufs.get("err", b"").decode(errors="replace"))


def proc_tree_cpu(root_pids):
    """CPU seconds of the given pids and all their descendants, live or
    reaped, from /proc (for daemons we cannot wait for)."""
    tick = os.sysconf("SC_CLK_TCK")
    children = {}
    stats = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        ppid = int(rest[1])
        children.setdefault(ppid, []).append(int(d))
        # utime + stime + cutime + cstime: children already reaped count
        # in their parent's c* fields (Postfix's master reaps its smtp).
        stats[int(d)] = sum(int(x) for x in rest[11:15]) / tick
    total, todo, seen = 0.0, list(root_pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                      text=True).stdout.strip(),
            "postfix": subprocess.run(["postconf", "-dh", "mail_version"],
                                      capture_output=True, text=True).stdout.strip(),
            "load": "%.2f %.2f %.2f" % load}


def have(prog):
    return shutil.which(prog) is not None


def emit(result, path=None):
    """Print one JSON result line; also write it to PATH when given."""
    s = json.dumps(result, sort_keys=True)
    print(s)
    if path:
        with open(path, "w") as f:
            f.write(s + "\n")


def via_daemon_conf(state):
    """A libunbound configuration for danemta: STATE/unbound.conf (the
    world's trust anchor and settings) forwarding to the world's unbound
    daemon, the resolver the Postfix tools use; danemta still validates."""
    import re

    with open(os.path.join(state, "unbound.conf")) as f:
        text = f.read()
    text = re.sub(r"forward-addr: \S+", "forward-addr: %s@53" % RESOLVER_ADDR, text)
    os.makedirs(os.path.join(state, "bench"), exist_ok=True)
    p = os.path.join(state, "bench", "unbound-via-daemon.conf")
    with open(p, "w") as f:
        f.write("# bench: libunbound forwarding to the world's unbound daemon\n" + text)
    return p


def spki_311(state, cert):
    """The 3 1 1 data of the world certificate CERT's key."""
    import hashlib

    der = subprocess.run(["openssl", "pkey", "-in", os.path.join(state, "certs", cert + ".key"),
                          "-pubout", "-outform", "DER"], capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()

