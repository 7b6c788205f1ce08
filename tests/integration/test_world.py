"""The test world itself (tests/world): DNSSEC through libunbound, the fault
front, the resolver daemon, the receivers, and clean up/down cycles.

(a) libunbound (python3-unbound, Debian's binding of the same library
    danemta links) loaded with STATE/unbound.conf sees secure, insecure and
    bogus answers where the world says so.
(b) the world comes up and goes down twice in a row with no process and no
    listening port left.  Marked world_cycle: conftest runs it before every
    other test, i.e. before the session world exists (the addresses are
    fixed, so two worlds cannot run at once).
(c) every receiver answers EHLO and presents the certificate configured for
    it (and for SNI receivers, the SNI one only for its name).
"""

import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import unbound  # python3-unbound (Debian)

from conftest import PYTHON, WORLD_DIR, world_down, world_up

RR_A = unbound.RR_TYPE_A
RR_MX = unbound.RR_TYPE_MX
RR_TLSA = 52
RR_CNAME = unbound.RR_TYPE_CNAME
SERVFAIL = 2
NXDOMAIN = 3

NET = os.environ.get("DANEMTA_WORLD_NET", "127.0")
WORLD_ADDRS = re.compile(r"^%s\.0\.[234]:(5354|53)$|^%s\.1\.\d+:(25|2525)$"
                         % (re.escape(NET), re.escape(NET)))


def resolve(world, name, rrtype):
    ctx = unbound.ub_ctx()
    assert ctx.config(world.unbound_conf) == 0
    status, result = ctx.resolve(name, rrtype, unbound.RR_CLASS_IN)
    assert status == 0, unbound.ub_strerror(status)
    return result


def state_of(result):
    if result.bogus:
        return "bogus"
    if result.rcode == SERVFAIL:
        return "servfail"
    return "secure" if result.secure else "insecure"


# (name, type, expected DNSSEC state, expected rcode, has data)
DNS_CASES = [
    ("mx1.good.test", RR_A, "secure", 0, True),
    ("good.test", RR_MX, "secure", 0, True),
    ("_25._tcp.mx1.good.test", RR_TLSA, "secure", 0, True),
    ("mx1.unsigned.test", RR_A, "insecure", 0, True),
    ("mx1.bogus.test", RR_A, "bogus", None, None),
    ("bogus.test", RR_MX, "bogus", None, None),
    ("mx1.expired-sigs.test", RR_A, "bogus", None, None),
    ("r06-mx-servfail.test", RR_MX, "servfail", SERVFAIL, False),
    ("r06-mx-bogus.test", RR_MX, "bogus", None, None),
    ("r07-nxdomain.test", RR_MX, "secure", NXDOMAIN, False),
    ("r07-nullmx.test", RR_MX, "secure", 0, True),
    ("r08-unsigned.test", RR_MX, "insecure", 0, True),
    ("r09-insecure-mx.test", RR_MX, "insecure", 0, True),
    ("_25._tcp.mx1.r09-host.test", RR_TLSA, "secure", 0, True),
    ("mx1.r10-provider.test", RR_A, "insecure", 0, True),
    ("_25._tcp.mx1.r10-provider.test", RR_TLSA, "servfail", SERVFAIL, False),
    ("r11-implicit-mx.test", RR_MX, "secure", 0, False),
    ("_25._tcp.r11-implicit-mx.test", RR_TLSA, "secure", 0, True),
    ("alias.r12-cname.test", RR_CNAME, "secure", 0, True),
    ("mx1.r13-cname-mx.test", RR_CNAME, "secure", 0, True),
    ("_25._tcp.mx13.provider.test", RR_TLSA, "secure", 0, True),
    ("_25._tcp.mx14.provider.test", RR_TLSA, "secure", NXDOMAIN, False),
    ("mx1.r15-cname-unsigned-tlsa.test", RR_CNAME, "secure", 0, True),
    ("mx1.r15-cname-unsigned-tlsa.test", RR_A, "insecure", 0, True),
    ("mx16.provider-unsigned.test", RR_A, "insecure", 0, True),
    ("_25._tcp.mx1.r18-tlsa-cname.test", RR_TLSA, "secure", 0, True),
    ("_25._tcp.mx1.r19-tlsa-cname-insecure.test", RR_TLSA, "insecure", 0, True),
    ("_25._tcp.mx1.r20-tlsa-servfail.test", RR_TLSA, "servfail", SERVFAIL, False),
    ("_25._tcp.mx1.r20-tlsa-refused.test", RR_TLSA, "servfail", SERVFAIL, False),
    ("_25._tcp.mx1.r20-broken-denial.test", RR_TLSA, "bogus", None, None),
    ("_25._tcp.mx1.r21-tlsa-bogus.test", RR_TLSA, "bogus", None, None),
    ("_25._tcp.mx2.r21-tlsa-bogus.test", RR_TLSA, "secure", 0, True),
    ("_25._tcp.mx1.r22-tlsa-nodata.test", RR_TLSA, "secure", 0, False),
    ("_25._tcp.mx1.r22-tlsa-nxdomain.test", RR_TLSA, "secure", NXDOMAIN, False),
    ("_25._tcp.mx1.r23-wildcard-nsec3.test", RR_TLSA, "secure", 0, True),
    ("_25._tcp.mx1.r23-wildcard-nsec.test", RR_TLSA, "secure", 0, True),
    ("_2525._tcp.mx1.r24-port2525.test", RR_TLSA, "secure", 0, True),
    ("mx1.r28-mx1-bogus-a.test", RR_A, "bogus", None, None),
    ("mx2.r28-mx1-bogus-a.test", RR_A, "secure", 0, True),
    ("_25._tcp.mx1.r39-ta-full-in-dns.test", RR_TLSA, "secure", 0, True),
    ("r43-ta-insecure-mx.test", RR_MX, "insecure", 0, True),
    ("_25._tcp.a.b.r41-wild-deep.test", RR_TLSA, "secure", 0, True),
]


@pytest.mark.parametrize("name,rrtype,state,rcode,havedata", DNS_CASES,
                         ids=["%s/%d" % (c[0], c[1]) for c in DNS_CASES])
def test_libunbound_status(world, name, rrtype, state, rcode, havedata):
    r = resolve(world, name, rrtype)
    assert state_of(r) == state, (r.why_bogus, r.rcode)
    if rcode is not None:
        assert r.rcode == rcode
    if havedata is not None:
        assert bool(r.havedata) == havedata


def test_expired_signature_reason(world):
    r = resolve(world, "mx1.expired-sigs.test", RR_A)
    assert r.bogus and "expired" in r.why_bogus


def test_secure_answer_data(world):
    r = resolve(world, "mx1.good.test", RR_A)
    assert r.secure and r.data.address_list == [world.receivers["good"]["address"]]


def test_timeout_name_fails(world):
    """A dropped MX query: libunbound gives up with SERVFAIL, not an answer."""
    t = time.monotonic()
    r = resolve(world, "r06-mx-timeout.test", RR_MX)
    assert r.rcode == SERVFAIL and not r.havedata
    assert time.monotonic() - t < 60


def test_query_log_records_queries(world):
    mark = world.query_mark()
    resolve(world, "_25._tcp.mx1.r01-dane.test", RR_TLSA)
    seen = world.queries(since=mark)
    assert any(q["qname"] == "_25._tcp.mx1.r01-dane.test." and q["qtype"] == "TLSA"
               and q["action"] == "forward" for q in seen), seen
    mark = world.query_mark()
    resolve(world, "r06-mx-servfail.test", RR_MX)
    seen = world.queries(since=mark)
    assert any(q["qname"] == "r06-mx-servfail.test." and q["action"] == "servfail"
               for q in seen), seen


def test_runtime_fault_rule(world):
    """A rule added at run time applies to the next query, and goes away."""
    old = world.add_fault("mx1.r01-dane.test.", "A", "refused")
    try:
        r = resolve(world, "mx1.r01-dane.test", RR_A)
        assert r.rcode == SERVFAIL
    finally:
        world.set_faults(old)
    r = resolve(world, "mx1.r01-dane.test", RR_A)
    assert r.secure and r.havedata


def test_matrix_is_current():
    """tests/world/matrix.json is what worldgen.py declares."""
    out = subprocess.run([PYTHON, str(WORLD_DIR / "worldgen.py"), "--matrix"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == json.loads((WORLD_DIR / "matrix.json").read_text())


def test_matrix_entries_are_consistent(world):
    verdicts = {"dane-authenticated", "tls-unauthenticated", "opportunistic", "defer",
                "bounce"}
    policies = {"dane", "tls-required", "opportunistic", "defer", "bounce"}
    rows = set()
    domains = [e["domain"] for e in world.matrix]
    assert len(domains) == len(set(domains))
    for e in world.matrix:
        rows.update(e["row"] if isinstance(e["row"], list) else [e["row"]])
        assert e["dns"]["policy"] in policies
        for h in e["dns"]["hosts"]:
            assert h["mode"] in ("dane", "tls-required", "opportunistic", "skip")
        d = e["delivery"]
        assert d["verdict"] in verdicts
        if d["verdict"] in ("defer", "bounce"):
            assert d["via"] is None
        else:
            assert d["via"] in world.receivers, e
    # Every row but 50 (MTA-STS, see README) has at least one domain.
    assert set(range(1, 50)) <= rows


def test_posttls_finger_through_resolver_daemon(world):
    """A peer that only reads /etc/resolv.conf validates through 127.0.0.4."""
    env = dict(os.environ, DANEMTA_WORLD=str(world.state))
    wr = str(WORLD_DIR / "with-resolver")
    ok = subprocess.run([wr, "posttls-finger", "-c", "-l", "dane", "good.test"],
                        capture_output=True, text=True, timeout=60, env=env)
    assert "Verified TLS connection established to mx1.good.test" in ok.stdout + ok.stderr
    bad = subprocess.run([wr, "posttls-finger", "-c", "-l", "dane", "r05-stale.test"],
                         capture_output=True, text=True, timeout=60, env=env)
    out = bad.stdout + bad.stderr
    assert "no matching DANE TLSA records" in out and "Untrusted TLS" in out


# ---------------------------------------------------------------- (c)


def peer_cert(addr, port, servername):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(addr, port, timeout=15) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        assert s.has_extn("starttls")
        code, _ = s.docmd("STARTTLS")
        assert code == 220
        with ctx.wrap_socket(s.sock, server_hostname=servername) as t:
            return t.getpeercert(binary_form=True)


def cert_der(world, name):
    return ssl.PEM_cert_to_DER_cert(world.cert_path(name).read_text())


def test_every_receiver(world):
    for name, r in world.receivers.items():
        addr, port, b = r["address"], r["port"], r["behaviour"]
        if b.get("stall", {}).get("stage") == "greeting":
            # A silent server on purpose: it must accept and say nothing.
            with socket.create_connection((addr, port), timeout=5) as sock:
                sock.settimeout(1)
                with pytest.raises(socket.timeout):
                    sock.recv(1)
            continue
        with smtplib.SMTP(addr, port, timeout=15) as s:
            code, _ = s.ehlo("client.test")
            if b.get("helo_only"):
                assert code == 502, name
                assert s.helo("client.test")[0] == 250, name
                continue
            assert code == 250, name
            advertised = s.has_extn("starttls")
            assert advertised == (r["starttls"] and not b.get("hide_starttls")), name
        if not advertised:
            continue
        if "starttls_reply" in b:
            with smtplib.SMTP(addr, port, timeout=15) as s:
                s.ehlo("client.test")
                assert s.docmd("STARTTLS")[0] == int(b["starttls_reply"][:3]), name
            continue
        if b.get("tls_fail"):
            with pytest.raises((ssl.SSLError, OSError)):
                peer_cert(addr, port, r["hostname"])
            continue
        want = cert_der(world, r["cert"])
        if r["sni"]:
            for sn, cn in r["sni"].items():
                assert peer_cert(addr, port, sn) == cert_der(world, cn), name
            assert peer_cert(addr, port, "other." + r["hostname"]) == want, name
        else:
            assert peer_cert(addr, port, r["hostname"]) == want, name


# ---------------------------------------------------------------- (b)


def listening():
    out = subprocess.run(["ss", "-Hlntu"], capture_output=True, text=True).stdout
    return sorted({ln.split()[4] for ln in out.splitlines()
                   if len(ln.split()) > 4 and WORLD_ADDRS.match(ln.split()[4])})


def alive(pid):
    try:
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def group_members(pgid):
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(p.name))
    return pids


@pytest.mark.world_cycle
def test_up_down_twice(tmp_path):
    if listening():
        pytest.fail("world addresses already in use before the cycle test: %s"
                    % listening(), pytrace=False)
    for i in range(2):
        state = tmp_path / ("cycle%d" % i)
        members = []
        t = time.monotonic()
        r = world_up(state)
        took = time.monotonic() - t
        assert r.returncode == 0, r.stdout + r.stderr
        try:
            pidfiles = sorted((state / "pids").glob("*.pid"))
            names = {p.stem for p in pidfiles}
            assert {"nsd", "dnsfault", "unbound", "smtpd"} <= names
            groups = [int(p.read_text()) for p in pidfiles]
            members = [m for g in groups for m in group_members(g)]
            assert all(group_members(g) for g in groups)
            up = listening()
            for a in (NET + ".0.2:5354", NET + ".0.3:5354", NET + ".0.4:53"):
                assert a in up
            assert sum(1 for a in up if a.startswith(NET + ".1.")) >= 60
        finally:
            d = world_down(state)
        assert d.returncode == 0, d.stdout + d.stderr
        assert not state.exists()
        assert members and [m for m in members if alive(m)] == []
        assert listening() == []
        print("cycle %d: up took %.1f s" % (i, took))
