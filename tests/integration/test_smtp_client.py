"""The libdanemta SMTP client and its OpenSSL DANE glue, driven through
tests/tools/smtp-probe against real SMTP receivers (tests/world/smtpd.py)
with certificates made by the openssl CLI at test time.

Self-contained: no DNS. The TLSA records, the TLSA base domain and the
reference identifiers are given on the probe's command line, as the plan
would give them.  Receivers listen on 127.0.5.1, one port each.

Run: DANEMTA_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_smtp_client.py
Set SMTP_PROBE_WRAPPER="valgrind --leak-check=full --error-exitcode=99" to
run the hostile cases under valgrind (the ASan build needs nothing).
"""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "world"))
from worldgen import Certs  # noqa: E402  (the openssl CLI helper of the world)

SMTPD = os.path.join(TOP, "tests", "world", "smtpd.py")
BUILD = os.path.join(TOP, os.environ.get("DANEMTA_BUILD", "build"))
PROBE = os.path.join(BUILD, "tests", "tools", "smtp-probe")
PYTHON = "/usr/bin/python3"
ADDR = "127.0.5.1"
MX = "mx1.dane.test"
DOMAIN = "dane.test"

# receiver name -> (certificate name or None, behaviour)
STAGES = ["greeting", "ehlo", "starttls", "tls_ehlo", "mail", "rcpt", "data", "dot"]
RECEIVERS = {
    "good": ("good", {}),
    "expired": ("expired", {}),
    "selfsigned": ("selfsigned", {}),
    "wrongname": ("wrongname", {}),
    "nexthop": ("nexthop", {}),
    "wildcard": ("wildcard", {}),
    "nota": ("nota", {}),
    "ta-expired": ("ta-expired", {}),
    "partialwild": ("partialwild", {}),
    "cnonly": ("cnonly", {}),
    "cnsan": ("cnsan", {}),
    "deep": ("deep", {}),
    "hidden": ("good", {"hide_starttls": True}),
    "r454": ("good", {"starttls_reply": "454 4.7.0 TLS not available"}),
    "tlsfail": ("good", {"tls_fail": "alert"}),
    "tlsgarbage": ("good", {"tls_fail": "garbage"}),
    "heloonly": ("good", {"helo_only": True}),
    "plainonly": (None, {}),
    "small": ("good", {"size": 100}),
    "rcptrej": ("good", {"rcpt_reject": {"bad@dane.test": "550 5.1.1 no such user"}}),
    "endless": ("good", {"raw": {"greeting": "220 " + "x" * 200000}}),
    "flood": ("good", {"flood_lines": {"stage": "ehlo", "seconds": 20, "bytes": 20000000}}),
    "big": ("good", {"big_reply": {"stage": "greeting", "bytes": 10485760, "code": 220}}),
    "nul": ("good", {"raw": {"greeting": "220 mx1\u0000evil\r\n"}}),
    "code99": ("good", {"raw": {"ehlo": "99 hello\r\n"}}),
    "bytepp": (None, {"byte_per_packet": {"delay": 0.001}}),
    "bytepp-tls": ("good", {"byte_per_packet": {"delay": 0.001}}),
    "slow": ("good", {"stall": {"stage": "mail", "seconds": 30}}),
}
for _st in STAGES:
    RECEIVERS["close-" + _st] = ("good", {"close_at": _st})


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """root-ca -> int-ca (pathlen 0) -> leaves; the chains sent are the leaf
    and its issuers unless stated."""
    c = Certs(str(tmp_path_factory.mktemp("pki")))
    c.ca("root-ca", "danemta test root")
    c.ca("int-ca", "danemta test intermediate", issuer="root-ca", pathlen=0)
    c.leaf("good", cn=MX, sans=[MX])
    c.leaf("expired", cn=MX, sans=[MX], start=-60, end=-1)
    c.leaf("selfsigned", cn="localhost", issuer=None)
    c.leaf("wrongname", cn="other.example.net", sans=["other.example.net"])
    c.leaf("nexthop", cn=DOMAIN, sans=[DOMAIN])
    c.leaf("wildcard", cn="*.dane.test", sans=["*.dane.test"])
    c.leaf("nota", cn=MX, sans=[MX], send=["int-ca"])
    c.leaf("ta-expired", cn=MX, sans=[MX], start=-60, end=-1)
    c.leaf("stale", cn=MX, sans=[MX])
    c.leaf("partialwild", cn="mx*.dane.test", sans=["mx*.dane.test"])
    c.leaf("cnonly", cn=MX)
    c.leaf("cnsan", cn=MX, sans=["other.example.net"])
    c.ca("int2-ca", "danemta test second intermediate", issuer="int-ca")
    c.leaf("deep", cn=MX, sans=[MX], issuer="int2-ca")
    return c


def free_port():
    s = socket.socket()
    s.bind((ADDR, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_smtpd(base, certs, attempt):
    """Start smtpd.py with every receiver on fresh ports; None if it died
    (a port taken between free_port() and its bind)."""
    rcvs = []
    info = {}
    for name, (cert, behaviour) in RECEIVERS.items():
        d = base / ("%s.%d" % (name, attempt))
        d.mkdir()
        rc = {"name": name, "address": ADDR, "port": free_port(), "hostname": MX,
              "starttls": cert is not None, "dir": str(d), "behaviour": behaviour}
        if cert is not None:
            rc.update(certs.pair(cert))
        rcvs.append(rc)
        info[name] = rc
    cfg = base / ("smtpd.%d.json" % attempt)
    cfg.write_text(json.dumps({"receivers": rcvs}))
    pidfile = base / ("smtpd.%d.pid" % attempt)
    log = open(base / ("smtpd.%d.log" % attempt), "w")
    proc = subprocess.Popen([PYTHON, SMTPD, "--config", str(cfg), "--pidfile", str(pidfile),
                             "--log", str(base / ("smtpd.%d.trace" % attempt))],
                            stdout=log, stderr=log)
    log.close()
    for _ in range(300):
        if pidfile.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    if pidfile.exists():
        return proc, info
    proc.kill()
    proc.wait()
    return None, (base / ("smtpd.%d.log" % attempt)).read_text()


@pytest.fixture(scope="module")
def world(certs, tmp_path_factory):
    """One smtpd.py process with every receiver; yields name -> receiver."""
    base = tmp_path_factory.mktemp("smtpd")
    for attempt in range(3):
        proc, info = start_smtpd(base, certs, attempt)
        if proc is not None:
            break
    assert proc is not None, info
    yield info
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def tlsa(certs, name, u, s, m):
    return certs.tlsa(name, u, s, m)


def sessions(rc):
    path = os.path.join(rc["dir"], "sessions.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def mails(rc):
    d = os.path.join(rc["dir"], "mail")
    if not os.path.isdir(d):
        return []
    return sorted(x for x in os.listdir(d) if x.endswith(".eml"))


def wait_sessions(rc, n, timeout=10):
    """smtpd writes the sessions.log line when the session ends."""
    end = time.time() + timeout
    while time.time() < end:
        s = sessions(rc)
        if len(s) >= n:
            return s
        time.sleep(0.05)
    return sessions(rc)


def hostile_wrapper():
    """A sanitised probe checks itself; a plain one runs under valgrind."""
    with open(PROBE, "rb") as f:
        if b"__asan_init" in f.read():
            return []
    return ["valgrind", "-q", "--leak-check=full", "--error-exitcode=99",
            "--errors-for-leak-kinds=definite,indirect"]


def probe(rc, mode, records=(), base=MX, refids=(), messages=(), rcpts=("user@dane.test",),
          sender="sender@client.test", timeout=10, extra=(), wrapper=None):
    cmd = [PROBE, "--connect", "%s:%d" % (rc["address"], rc["port"]), "--mode", mode,
           "--timeout", str(timeout)]
    if base:
        cmd += ["--base", base]
    for r in refids:
        cmd += ["--refid", r]
    for t in records:
        cmd += ["--tlsa", t]
    if messages:
        cmd += ["--from", sender]
        for r in rcpts:
            cmd += ["--to", r]
        for m in messages:
            cmd += ["--message", str(m)]
    cmd += list(extra)
    if wrapper is None:
        wrapper = shlex.split(os.environ.get("SMTP_PROBE_WRAPPER", ""))
    p = subprocess.run(wrapper + cmd, capture_output=True, timeout=120)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    out = json.loads(p.stdout)
    out["log"] = err
    return out


@pytest.fixture
def msgfile(tmp_path):
    f = tmp_path / "msg.eml"
    f.write_bytes(b"From: sender@client.test\nTo: user@dane.test\nSubject: hello\n\n"
                  b"Hello.\n.leading dot\n..two dots\n.\nlast line")
    return f


def n_sessions(rc):
    return len(sessions(rc))


def run_and_session(rc, **kw):
    """Probe once; return (probe JSON, the receiver's sessions.log line)."""
    before = n_sessions(rc)
    out = probe(rc, **kw)
    s = wait_sessions(rc, before + 1)
    assert len(s) == before + 1
    return out, s[-1]


def assert_nothing_sent(sess):
    assert sess["data_bytes"] == 0
    assert "MAIL" not in sess["commands"]
    assert "RCPT" not in sess["commands"]
    assert "DATA" not in sess["commands"]


# ---------------------------------------------------------------- DANE-EE(3)

def test_3_1_1_match_delivers_at_depth_0(world, certs, msgfile):
    rc = world["good"]
    n = len(mails(rc))
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "good", 3, 1, 1)],
                                messages=[msgfile], extra=["--dnssec"])
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["tls"]["matched"] == tlsa(certs, "good", 3, 1, 1)
    assert out["tls"]["matched_depth"] == 0
    assert out["tls"]["sni"] == MX and sess["sni"] == MX
    assert out["messages"][0]["outcome"] == "ok"
    assert out["messages"][0]["recipients"][0]["outcome"] == "ok"
    assert out["completed"] and out["error"] is None
    assert len(mails(rc)) == n + 1
    assert sess["tls"] and sess["outcome"] == "quit"
    # the chain: leaf, intermediate, root with their SPKI digests
    chain = out["tls"]["chain"]
    assert len(chain) == 3
    assert chain[0]["spki_sha256"] == tlsa(certs, "good", 3, 1, 1).split()[3]
    assert "CN=mx1.dane.test" in chain[0]["subject"]
    assert "danemta test intermediate" in chain[0]["issuer"]
    log = out["log"]
    assert "Connecting to [%s]:%d (DNSSEC)" % (ADDR, rc["port"]) in log
    assert "DANE: validated successfully (3 1 1 %s" % chain[0]["spki_sha256"][:8] in log
    assert "depth 0)" in log
    assert "Connection is now using TLS (TLSv1.3, " in log


@pytest.mark.parametrize("leaf", ["expired", "selfsigned"])
def test_3_1_1_ignores_dates_and_names(world, certs, msgfile, leaf):
    """RFC 7672 §3.1.1: DANE-EE has no name and no expiry checks."""
    rc = world[leaf]
    n = len(mails(rc))
    out = probe(rc, mode="dane", records=[tlsa(certs, leaf, 3, 1, 1)], messages=[msgfile])
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["tls"]["verify_code"] == 0
    assert out["messages"][0]["outcome"] == "ok"
    assert len(mails(rc)) == n + 1


@pytest.mark.parametrize("rr", [(3, 0, 1), (3, 1, 2), (3, 0, 2), (3, 1, 0), (3, 0, 0)])
def test_3_x_x_forms_match(world, certs, rr):
    out = probe(world["good"], mode="dane", records=[tlsa(certs, "good", *rr)])
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["tls"]["matched_depth"] == 0
    assert out["completed"]


def test_stale_3_1_1_fails_and_sends_nothing(world, certs, msgfile):
    rc = world["good"]
    n = len(mails(rc))
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "stale", 3, 1, 1)],
                                messages=[msgfile])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "validation-failure"
    assert out["messages"][0]["outcome"] == "none"
    assert "DANE: no certificate matches the TLSA records of mx1.dane.test" in out["log"]
    assert "X.509 error: " in out["log"]
    assert len(mails(rc)) == n
    assert_nothing_sent(sess)


def test_3_1_1_of_intermediate_only_fails(world, certs):
    """Checklist §6 row 4: DANE-EE matches the leaf only."""
    out = probe(world["good"], mode="dane", records=[tlsa(certs, "int-ca", 3, 1, 1)])
    assert out["result"] == "dane-failed"


def test_agility_sha512_mismatch_wins(world, certs, msgfile):
    """Row 45: 3 1 1 matches, 3 1 2 does not; SHA2-512 is preferred."""
    rc = world["good"]
    n = len(mails(rc))
    good = tlsa(certs, "good", 3, 1, 1)
    bad512 = tlsa(certs, "stale", 3, 1, 2)
    out, sess = run_and_session(rc, mode="dane", records=[good, bad512], messages=[msgfile])
    assert out["result"] == "dane-failed"
    assert len(mails(rc)) == n
    assert_nothing_sent(sess)


@pytest.mark.parametrize("records", [
    [("good", 3, 1, 0), ("stale", 3, 1, 2)],   # Full(0) is never pruned
    [("good", 3, 1, 1), ("stale", 2, 0, 2)],   # pruning stays in its usage+selector
])
def test_agility_keeps_full_and_groups(world, certs, records):
    out = probe(world["good"], mode="dane",
                records=[tlsa(certs, n, u, s, m) for n, u, s, m in records])
    assert out["result"] == "dane-authenticated", out["reason"]


def test_pkix_usages_never_added(world, certs):
    """A matching 1 1 1 next to a non-matching 3 1 1 (row 33) fails: PKIX
    usages are not used in SMTP."""
    out = probe(world["good"], mode="dane",
                records=[tlsa(certs, "good", 1, 1, 1), tlsa(certs, "stale", 3, 1, 1)])
    assert out["result"] == "dane-failed"
    assert out["tlsa_added"] == 1


def test_only_pkix_records_is_no_dane(world, certs):
    out, sess = run_and_session(world["good"], mode="dane",
                                records=[tlsa(certs, "good", 0, 0, 1)])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "tlsa-invalid"
    assert_nothing_sent(sess)


# ---------------------------------------------------------------- DANE-TA(2)

def test_2_0_1_intermediate_name_match(world, certs, msgfile):
    rc = world["good"]
    n = len(mails(rc))
    out = probe(rc, mode="dane", records=[tlsa(certs, "int-ca", 2, 0, 1)], messages=[msgfile])
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["tls"]["matched_depth"] == 1
    assert out["tls"]["peername"] == MX
    assert len(mails(rc)) == n + 1


def test_2_0_1_root_sent_matches(world, certs):
    out = probe(world["good"], mode="dane", records=[tlsa(certs, "root-ca", 2, 0, 1)])
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["tls"]["matched_depth"] == 2


def test_2_0_1_next_hop_reference_identifier(world, certs):
    """Row 36: a leaf naming only the next-hop domain, via a secure MX."""
    rr = [tlsa(certs, "int-ca", 2, 0, 1)]
    out = probe(world["nexthop"], mode="dane", records=rr, refids=[DOMAIN])
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["tls"]["peername"] == DOMAIN
    # Without that reference identifier (insecure MX, row 43) it fails.
    out = probe(world["nexthop"], mode="dane", records=rr)
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-host-mismatch"


def test_2_0_1_name_mismatch(world, certs, msgfile):
    rc = world["wrongname"]
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "int-ca", 2, 0, 1)],
                                refids=[DOMAIN], messages=[msgfile])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-host-mismatch"
    assert out["tls"]["verify_code"] == 62  # X509_V_ERR_HOSTNAME_MISMATCH
    assert "X.509 error: hostname mismatch (62)" in out["log"]
    assert_nothing_sent(sess)
    assert mails(rc) == []


def test_2_0_1_wildcards(world, certs):
    """Row 41: *.dane.test matches mx1.dane.test, not a.b.dane.test."""
    rr = [tlsa(certs, "int-ca", 2, 0, 1)]
    out = probe(world["wildcard"], mode="dane", records=rr)
    assert out["result"] == "dane-authenticated", out["reason"]
    out = probe(world["wildcard"], mode="dane", records=rr, base="a.b.dane.test")
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-host-mismatch"


def test_2_0_1_no_partial_wildcards(world, certs):
    """Row 41: 'mx*.dane.test' is not a wildcard a DANE client accepts."""
    out = probe(world["partialwild"], mode="dane", records=[tlsa(certs, "int-ca", 2, 0, 1)])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-host-mismatch"


@pytest.mark.parametrize("name,result", [("cnonly", "dane-authenticated"),
                                         ("cnsan", "dane-failed")])
def test_2_0_1_common_name_only_without_dns_ids(world, certs, name, result):
    """Row 42: the CN counts only when the certificate has no DNS-ID."""
    out = probe(world[name], mode="dane", records=[tlsa(certs, "int-ca", 2, 0, 1)])
    assert out["result"] == result, out["reason"]


def test_2_0_1_ta_path_length_enforced(world, certs):
    """Row 44: the TA says pathlen 0; a second intermediate breaks it."""
    out = probe(world["deep"], mode="dane", records=[tlsa(certs, "int-ca", 2, 0, 1)])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-not-trusted"
    out = probe(world["deep"], mode="dane", records=[tlsa(certs, "int2-ca", 2, 0, 1)])
    assert out["result"] == "dane-authenticated", out["reason"]


def test_2_0_1_ta_not_sent(world, certs, msgfile):
    """Row 38: the root is not sent; no local trust store is consulted."""
    rc = world["nota"]
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "root-ca", 2, 0, 1)],
                                messages=[msgfile])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-not-trusted"
    assert len(out["tls"]["chain"]) == 2
    assert_nothing_sent(sess)


def test_2_0_0_full_ta_in_dns_need_not_be_sent(world, certs):
    """Row 39 (RFC 7671 §5.2.2)."""
    out = probe(world["nota"], mode="dane", records=[tlsa(certs, "root-ca", 2, 0, 0)])
    assert out["result"] == "dane-authenticated", out["reason"]


def test_2_0_1_expired_leaf(world, certs, msgfile):
    """Row 40: DANE-TA keeps PKIX date checks."""
    rc = world["ta-expired"]
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "int-ca", 2, 0, 1)],
                                messages=[msgfile])
    assert out["result"] == "dane-failed"
    assert out["tlsrpt_result"] == "certificate-expired"
    assert_nothing_sent(sess)


# ------------------------------------------------------------- downgrades

@pytest.mark.parametrize("name,result", [
    ("hidden", "starttls-missing"),
    ("r454", "starttls-missing"),
    ("heloonly", "starttls-missing"),
    ("tlsfail", "tls-failed"),
    ("tlsgarbage", "tls-failed"),
])
@pytest.mark.parametrize("mode", ["dane", "tls-required"])
def test_no_tls_no_mail(world, certs, msgfile, name, result, mode):
    """Rows 32, 47, 48: where TLSA applies, no TLS means nothing is sent."""
    rc = world[name]
    out, sess = run_and_session(rc, mode=mode, records=[tlsa(certs, "good", 3, 1, 1)],
                                messages=[msgfile])
    assert out["result"] == result, out["reason"]
    assert out["messages"][0]["outcome"] == "none"
    assert out["reason"]
    if result == "starttls-missing":
        assert out["tlsrpt_result"] == "starttls-not-supported"
    assert_nothing_sent(sess)
    assert mails(rc) == []


def test_tls_required_unauthenticated(world, certs, msgfile):
    rc = world["selfsigned"]
    n = len(mails(rc))
    out = probe(rc, mode="tls-required", messages=[msgfile])
    assert out["result"] == "tls-unauthenticated"
    assert out["tls"]["verify_code"] != 0
    assert len(mails(rc)) == n + 1


def test_opportunistic_tls_logs_x509_errors(world, msgfile):
    """No local trust store: the chain without its root cannot verify (20),
    the one with it ends in an untrusted self-signed root (19); neither is
    fatal without TLSA."""
    out = probe(world["good"], mode="opportunistic", base=None, messages=[msgfile])
    assert out["result"] == "tls"
    assert "X.509 error: self-signed certificate in certificate chain (19)" in out["log"]
    rc = world["nota"]
    out, sess = run_and_session(rc, mode="opportunistic", base=None, messages=[msgfile])
    assert out["result"] == "tls"
    assert "X.509 error: unable to get local issuer certificate (20)" in out["log"]
    assert out["messages"][0]["outcome"] == "ok"
    assert sess["tls"]


@pytest.mark.parametrize("name", ["hidden", "r454", "plainonly"])
def test_opportunistic_plaintext_fallback(world, msgfile, name):
    rc = world[name]
    out, sess = run_and_session(rc, mode="opportunistic", base=None, messages=[msgfile])
    assert out["result"] == "plaintext"
    assert out["messages"][0]["outcome"] == "ok"
    assert not sess["tls"] and sess["data_bytes"] > 0


def test_opportunistic_helo_fallback(world, msgfile):
    out, sess = run_and_session(world["heloonly"], mode="opportunistic", messages=[msgfile])
    assert out["result"] == "plaintext"
    assert "HELO" in sess["commands"]
    assert out["messages"][0]["outcome"] == "ok"


def test_mode_none_never_starttls(world, msgfile):
    out, sess = run_and_session(world["good"], mode="none", messages=[msgfile])
    assert out["result"] == "plaintext"
    assert "STARTTLS" not in sess["commands"] and not sess["tls"]


# --------------------------------------------------------- the dialogue

def test_several_messages_one_connection(world, certs, tmp_path):
    rc = world["good"]
    files = []
    for i in range(3):
        f = tmp_path / ("m%d.eml" % i)
        f.write_bytes(b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        files.append(f)
    n = len(mails(rc))
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "good", 3, 1, 1)],
                                messages=files)
    assert [m["outcome"] for m in out["messages"]] == ["ok"] * 3
    assert sess["messages"] == 3
    assert sess["commands"].count("MAIL") == 3 and sess["commands"].count("RSET") == 2
    assert len(mails(rc)) == n + 3


def test_dot_stuffing_and_crlf(world, msgfile):
    rc = world["good"]
    before = set(mails(rc))
    out = probe(rc, mode="opportunistic", messages=[msgfile])
    assert out["messages"][0]["outcome"] == "ok"
    new = sorted(set(mails(rc)) - before)
    assert len(new) == 1
    with open(os.path.join(rc["dir"], "mail", new[0]), "rb") as f:
        body = f.read()
    # smtpd stores the unstuffed message: the original, in CRLF form
    assert body == msgfile.read_bytes().replace(b"\n", b"\r\n") + b"\r\n"


def test_8bitmime_and_size_parameters(world, tmp_path):
    rc = world["good"]
    f = tmp_path / "8bit.eml"
    f.write_bytes("Subject: caf\u00e9\n\nd\u00e9j\u00e0 vu\n".encode())
    before = set(mails(rc))
    out = probe(rc, mode="opportunistic", messages=[f])
    assert out["messages"][0]["outcome"] == "ok"
    new = sorted(set(mails(rc)) - before)
    with open(os.path.join(rc["dir"], "mail", new[0][:-4] + ".json")) as j:
        side = json.load(j)
    opts = " ".join(side["mail_options"]).upper()
    assert "BODY=8BITMIME" in opts and "SIZE=" in opts


def test_size_limit_refuses_big_message(world, tmp_path):
    rc = world["small"]
    f = tmp_path / "big.eml"
    f.write_bytes(b"Subject: big\n\n" + b"x" * 500 + b"\n")
    out, sess = run_and_session(rc, mode="opportunistic", messages=[f])
    assert out["messages"][0]["outcome"] == "perm"
    assert "exceeds the server's limit 100" in out["messages"][0]["text"]
    assert "MAIL" not in sess["commands"]


def test_per_recipient_outcomes(world, msgfile):
    rc = world["rcptrej"]
    out = probe(rc, mode="opportunistic", messages=[msgfile],
                rcpts=["user@dane.test", "bad@dane.test"])
    r = out["messages"][0]["recipients"]
    assert r[0]["outcome"] == "ok"
    assert r[1]["outcome"] == "perm" and r[1]["code"] == 550 and r[1]["enhanced"] == "5.1.1"
    assert out["messages"][0]["outcome"] == "ok"


def test_recipient_probe_sends_no_data(world, certs):
    rc = world["rcptrej"]
    out, sess = run_and_session(rc, mode="dane", records=[tlsa(certs, "good", 3, 1, 1)],
                                messages=[], extra=["--from", "", "--to", "bad@dane.test",
                                                    "--probe"])
    assert out["messages"][0]["recipients"][0]["outcome"] == "perm"
    assert "DATA" not in sess["commands"] and sess["data_bytes"] == 0


def test_connect_refused(world):
    rc = {"address": ADDR, "port": free_port()}
    out = probe(rc, mode="dane", records=["3 1 1 " + "00" * 32])
    assert out["result"] == "connect-failed"
    assert "connect to [127.0.5.1]" in out["reason"]


def test_timeout_is_enforced(world, msgfile):
    t0 = time.time()
    out = probe(world["slow"], mode="opportunistic", messages=[msgfile], timeout=2)
    assert time.time() - t0 < 15
    assert out["error"] == "timed out"
    assert "timeout during MAIL/RCPT" in out["reason"]
    assert out["messages"][0]["outcome"] == "none"


# ------------------------------------------------------- hostile servers

@pytest.mark.parametrize("name,reason", [
    ("endless", "reply line longer than"),
    ("flood", "malformed reply"),
    ("big", "malformed reply"),
    ("nul", "malformed reply"),
    ("code99", "malformed reply"),
])
def test_hostile_replies(world, certs, msgfile, name, reason):
    out = probe(world[name], mode="opportunistic", messages=[msgfile], timeout=20,
                wrapper=hostile_wrapper())
    assert out["error"] is not None
    assert reason in out["reason"], out["reason"]
    assert out["messages"][0]["outcome"] == "none"


def test_byte_per_packet(world, certs, msgfile):
    rc = world["bytepp"]
    n = len(mails(rc))
    out = probe(rc, mode="opportunistic", messages=[msgfile, msgfile], timeout=30,
                wrapper=hostile_wrapper())
    assert out["result"] == "plaintext", out["reason"]
    assert out["messages"][1]["outcome"] == "ok"
    assert out["messages"][0]["outcome"] == "ok"
    assert len(mails(rc)) == n + 2


def test_byte_per_packet_under_dane(world, certs, msgfile):
    # Every reply, the 220 to STARTTLS included, one byte per packet: the
    # reply assembly must hold across reads and before and after TLS.
    rc = world["bytepp-tls"]
    n = len(mails(rc))
    out = probe(rc, mode="dane", records=[tlsa(certs, "good", 3, 1, 1)],
                messages=[msgfile], timeout=30, wrapper=hostile_wrapper())
    assert out["result"] == "dane-authenticated", out["reason"]
    assert out["messages"][0]["outcome"] == "ok"
    assert len(mails(rc)) == n + 1


@pytest.mark.parametrize("stage", STAGES)
def test_close_at_every_stage(world, certs, msgfile, stage):
    out = probe(world["close-" + stage], mode="dane", records=[tlsa(certs, "good", 3, 1, 1)],
                messages=[msgfile], wrapper=hostile_wrapper())
    assert out["error"] is not None
    assert out["reason"]
    assert out["messages"][0]["outcome"] != "ok"
    if stage in ("greeting", "ehlo", "starttls"):
        assert out["result"] == "smtp-failed"
    if stage in ("tls_ehlo", "mail", "rcpt", "data", "dot"):
        assert out["result"] == "dane-authenticated"
