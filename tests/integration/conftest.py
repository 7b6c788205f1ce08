"""pytest plumbing for danemta's integration tests.

Fixtures:
  world    (session) brings the test world up once (tests/world/up) and takes
           it down at the end of the run (tests/world/down), also when tests
           fail, on Ctrl-C, SIGTERM or SIGHUP, and at interpreter exit.
           Gives a World: paths, receivers, matrix entries, query-log and
           fault helpers.  STATE is $DANEMTA_WORLD or /tmp/danemta-world;
           DANEMTA_WORLD_KEEP=1 leaves the world running after the run.
  danemta  a function running the built binary, returning CompletedProcess:
           danemta("check", "good.test", timeout=60).  The binary is
           $DANEMTA_BIN, else <repo>/$DANEMTA_BUILD/src/cli/danemta
           (DANEMTA_BUILD defaults to "build").

Tests marked `world_cycle` (they bring worlds up and down themselves) run
before every other test, so that they never meet the session world.
"""

import atexit
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent.parent
WORLD_DIR = TOP / "tests" / "world"
PYTHON = "/usr/bin/python3"


def world_state():
    return os.environ.get("DANEMTA_WORLD", "/tmp/danemta-world")


def danemta_bin():
    b = os.environ.get("DANEMTA_BIN")
    if b:
        return b
    build = os.environ.get("DANEMTA_BUILD", "build")
    return str(TOP / build / "src" / "cli" / "danemta")


def load_matrix():
    with open(WORLD_DIR / "matrix.json") as f:
        return json.load(f)


class World:
    """A running world: everything tests need to know about it."""

    def __init__(self, state):
        self.state = Path(state)
        with open(self.state / "world.json") as f:
            self.info = json.load(f)
        self.unbound_conf = self.info["unbound_conf"]
        self.root_key = self.info["root_key"]
        self.queries_log = Path(self.info["queries_log"])
        self.faults_file = Path(self.info["faults"])
        self.certs = Path(self.info["certs"])
        self.resolv_conf = self.state / "unbound" / "resolv.conf"
        self.receivers = self.info["receivers"]
        self.matrix = load_matrix()
        self.env = {"DANEMTA_WORLD": str(self.state)}

    # -- matrix and receivers
    def entry(self, domain):
        for e in self.matrix:
            if e["domain"] == domain:
                return e
        raise KeyError(domain)

    def receiver(self, name):
        return self.receivers[name]

    def receivers_for_host(self, hostname):
        h = hostname.lower().rstrip(".")
        return [n for n, r in self.receivers.items() if r["hostname"] == h]

    def cert_path(self, name):
        return self.certs / (name + ".crt")

    # -- DNS query log: "time qname qtype proto action", one line a query
    def query_mark(self):
        """The current end of the query log; pass it to queries(since=)."""
        try:
            return self.queries_log.stat().st_size
        except FileNotFoundError:
            return 0

    def queries(self, since=0):
        out = []
        with open(self.queries_log) as f:
            f.seek(since)
            for ln in f:
                p = ln.rstrip("\n").split("\t")
                if len(p) == 5:
                    out.append({"time": float(p[0]), "qname": p[1], "qtype": p[2],
                                "proto": p[3], "action": p[4]})
        return out

    # -- faults: rules of tests/world/dnsfault.py, re-read at each query
    def faults(self):
        with open(self.faults_file) as f:
            return json.load(f)

    def set_faults(self, cfg):
        tmp = str(self.faults_file) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.replace(tmp, self.faults_file)

    def add_fault(self, qname, qtype, action, subtree=False):
        """Add a rule; returns the previous config (give it to set_faults)."""
        old = self.faults()
        new = dict(old, rules=old["rules"] + [{"qname": qname, "qtype": qtype,
                                               "action": action, "subtree": subtree}])
        self.set_faults(new)
        return old

    # -- receivers' files
    def sessions(self, name):
        p = Path(self.receivers[name]["dir"]) / "sessions.log"
        if not p.exists():
            return []
        return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()]

    def mail(self, name):
        return sorted((Path(self.receivers[name]["dir"]) / "mail").glob("*.eml"))

    def set_behaviour(self, name, behaviour):
        """Runtime override, re-read by smtpd.py at each connection; None
        removes it."""
        p = Path(self.receivers[name]["dir"]) / "behaviour.json"
        if behaviour is None:
            p.unlink(missing_ok=True)
            return
        tmp = str(p) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(behaviour, f)
        os.replace(tmp, p)


def world_up(state):
    return subprocess.run([str(WORLD_DIR / "up"), str(state)], capture_output=True,
                          text=True, timeout=180)


def world_down(state):
    return subprocess.run([str(WORLD_DIR / "down"), str(state)], capture_output=True,
                          text=True, timeout=120)


_session = {"state": None}


def _session_down(*_):
    state = _session["state"]
    _session["state"] = None
    if state is not None and os.environ.get("DANEMTA_WORLD_KEEP") != "1":
        world_down(state)


def _on_signal(signum, frame):
    # Turn the signal into KeyboardInterrupt so pytest unwinds and runs the
    # finalizers; atexit is the backstop.
    _session_down()
    raise KeyboardInterrupt("signal %d" % signum)


@pytest.fixture(scope="session")
def world():
    state = world_state()
    _session["state"] = state
    atexit.register(_session_down)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    r = world_up(state)
    if r.returncode != 0:
        _session_down()
        pytest.fail("tests/world/up failed:\n" + r.stdout + r.stderr, pytrace=False)
    try:
        yield World(state)
    finally:
        _session_down()


@pytest.fixture
def danemta():
    binary = danemta_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail("no danemta binary at %s (build it, or set DANEMTA_BIN or "
                    "DANEMTA_BUILD)" % binary, pytrace=False)

    def run(*args, input=None, timeout=120, env=None, check=False):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([binary] + [str(a) for a in args], input=input,
                              capture_output=True, text=True, timeout=timeout, env=e,
                              check=check)

    run.path = binary
    return run


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "world_cycle: brings worlds up and down itself; runs first")


def pytest_collection_modifyitems(session, config, items):
    first = [i for i in items if i.get_closest_marker("world_cycle")]
    rest = [i for i in items if not i.get_closest_marker("world_cycle")]
    items[:] = first + rest

