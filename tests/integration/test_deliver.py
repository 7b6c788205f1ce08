"""Delivery against the test world: every row of tests/world/matrix.json
through both `danemta check --json` (the delivery verdict and each
address's session) and `danemta send` (the message arrives at the "via"
receiver and nowhere else, or the exit status is 75/69 and no receiver
stored it), then the cases of issue 5's "Done when" list one by one,
switching receiver behaviours where the world has no dedicated receiver.

Nothing is faked: real nsd, real unbound validation, real OpenSSL
certificates, real SMTP receivers (tests/world/smtpd.py).
"""

import json
import uuid
from pathlib import Path

import pytest

from conftest import load_matrix

MATRIX = load_matrix()
ROWS = [e for e in MATRIX if "delivery" in e]

USABLE = {"dane-authenticated", "tls", "tls-unauthenticated", "plaintext"}
RESULTS = USABLE | {"starttls-missing", "tls-failed", "dane-failed",
                    "connect-failed", "smtp-failed", "skipped"}
VERDICTS = {"dane-authenticated", "tls-unauthenticated", "opportunistic",
            "defer", "bounce"}
# The session result a sender's verdict comes from.
VERDICT_OF = {"dane-authenticated": "dane-authenticated",
              "tls-unauthenticated": "tls-unauthenticated",
              "tls": "opportunistic", "plaintext": "opportunistic"}
# Rows where the message reaches a DANE-authenticated server and is lost
# there (the server drops the connection in DATA): bytes may arrive.
DATA_REACHES_SERVER = {"r48-drop-in-data.test"}
# The check sends no message, so it cannot see what only happens in DATA:
# there the server is DANE-authenticated and a dry run succeeds.
CHECK_VERDICT = {"r48-drop-in-data.test": "dane-authenticated"}


def opt_args(d):
    """Command-line options for a matrix "delivery" entry."""
    a = []
    o = d.get("options") or {}
    if o.get("dane_insecure_mx"):
        a.append("--dane-insecure-mx")
    if o.get("policy"):
        a += ["--policy", o["policy"]]
    if o.get("audit"):
        a.append("--dane-audit")
    if d.get("port"):
        a += ["--port", str(d["port"])]
    return a


class Snapshot:
    """Every receiver's sessions.log length and stored mail, before a run."""

    def __init__(self, world):
        self.world = world
        self.sessions = {n: len(world.sessions(n)) for n in world.receivers}
        self.mail = {n: set(world.mail(n)) for n in world.receivers}

    def new_sessions(self, name):
        return self.world.sessions(name)[self.sessions[name]:]

    def new_mail(self, name):
        return sorted(set(self.world.mail(name)) - self.mail[name])

    def holders(self, token):
        """Receivers that stored a message containing token."""
        out = []
        for n in self.world.receivers:
            for p in self.new_mail(n):
                if token.encode() in p.read_bytes():
                    out.append((n, p))
        return out

    def touched(self):
        return {n for n in self.world.receivers if self.new_sessions(n)}


def message(token, rcpt):
    return ("From: sender@client.test\r\nTo: %s\r\nSubject: test %s\r\n"
            "Message-ID: <%s@client.test>\r\n\r\nbody %s\r\n.leading dot\r\n"
            % (rcpt, token, token, token))


def run_check(world, danemta, domain, extra=()):
    r = danemta("check", "--json", "--timeout", "10", "--unbound-config",
                world.unbound_conf, *extra, domain, timeout=120)
    assert r.returncode in (0, 1, 75), r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    return r, json.loads(lines[0])


def run_send(world, danemta, rcpt, token, extra=(), json_out=True):
    args = ["send", "--from", "sender@client.test", "--to", rcpt, "--timeout",
            "10", "--unbound-config", world.unbound_conf, "-v"]
    if json_out:
        args.append("--json")
    r = danemta(*args, *extra, "-", input=message(token, rcpt), timeout=120)
    return r, (json.loads(r.stdout) if json_out and r.stdout else None)


def addresses(o):
    for h in o["hosts"]:
        for a in h["addresses"]:
            yield h, a


def used_address(o):
    used = [(h, a) for h, a in addresses(o) if a.get("used")]
    assert len(used) <= 1, used
    return used[0] if used else (None, None)


def assert_check(o, d):
    # schema 2: the delivery verdict is top-level
    assert o["verdict"] in VERDICTS
    assert o["verdict"] == d["verdict"], (o["reason"], o["problems"])
    assert o["reason"]
    for h, a in addresses(o):
        assert a["result"] in RESULTS, a
        if a["result"] in USABLE - {"plaintext"} or a["tls_version"]:
            assert a["tls_version"] in ("TLSv1.2", "TLSv1.3") and a["cipher"]
            assert a["chain"] and all(len(c["spki_sha256"]) == 64
                                      for c in a["chain"])
        if a["result"] == "dane-authenticated":
            assert a["matched"] and a["sni"] == h["tlsa_base"]
    h, a = used_address(o)
    if d["verdict"] in ("defer", "bounce"):
        assert a is None or d["verdict"] == "bounce"
        return
    assert a is not None, o
    assert VERDICT_OF.get(a["result"]) == d["verdict"] or (
        d["verdict"] == "dane-authenticated" and a["matched"]), a


def assert_send(world, snap, token, r, out, entry):
    d = entry["delivery"]
    holders = snap.holders(token)
    if d["via"] is None:
        want = 69 if d["verdict"] == "bounce" else 75
        assert r.returncode == want, r.stderr
        assert holders == [], holders
        rc = out["recipients"][0]
        assert rc["outcome"] == ("bounced" if want == 69 else "deferred")
        assert rc["text"]
        if entry["domain"] in DATA_REACHES_SERVER:
            return
        # Not one byte of the message reached any server.
        for n in snap.touched():
            for s in snap.new_sessions(n):
                assert s["data_bytes"] == 0 and s["messages"] == 0, (n, s)
                assert "MAIL" not in s["commands"], (n, s)
        return
    assert r.returncode == 0, r.stderr
    assert [n for n, _ in holders] == [d["via"]], holders
    eml = holders[0][1]
    side = json.loads(eml.with_suffix(".json").read_text())
    rc = out["recipients"][0]
    assert rc["outcome"] == "delivered" and rc["security"] == d["verdict"], rc
    assert side["tls"] == (d["verdict"] != "opportunistic" or side["tls"])
    if d["verdict"] in ("dane-authenticated", "tls-unauthenticated"):
        assert side["tls"] is True
    if d["verdict"] == "dane-authenticated":
        bases = {h.get("tlsa_base") for h in entry["dns"]["hosts"]}
        assert side["sni"] in bases, (side["sni"], bases)
    # The stored message is the one sent (dot-unstuffed, CRLF).
    body = eml.read_bytes()
    assert b"body " + token.encode() in body and b"\r\n.leading dot\r\n" in body


@pytest.mark.parametrize("entry", ROWS, ids=[e["domain"] for e in ROWS])
def test_matrix_check(world, danemta, entry):
    d = entry["delivery"]
    snap = Snapshot(world)
    r, o = run_check(world, danemta, entry["domain"], opt_args(d))
    if entry["domain"] in CHECK_VERDICT:
        d = dict(d, verdict=CHECK_VERDICT[entry["domain"]])
    assert_check(o, d)
    assert r.returncode == (0 if not o["problems"] else
                            75 if o["status"] == "incomplete" else 1)
    # A check sends no mail.
    for n in world.receivers:
        assert snap.new_mail(n) == []
        for s in snap.new_sessions(n):
            assert s["data_bytes"] == 0 and s["messages"] == 0


@pytest.mark.parametrize("entry", ROWS, ids=[e["domain"] for e in ROWS])
def test_matrix_send(world, danemta, entry):
    token = uuid.uuid4().hex
    snap = Snapshot(world)
    rcpt = "user@" + entry["domain"]
    r, out = run_send(world, danemta, rcpt, token, opt_args(entry["delivery"]))
    assert_send(world, snap, token, r, out, entry)


# ---- issue 5 "Done when", case by case ----

def send_one(world, danemta, domain, extra=()):
    token = uuid.uuid4().hex
    snap = Snapshot(world)
    r, out = run_send(world, danemta, "user@" + domain, token, extra)
    return snap, token, r, out


@pytest.mark.parametrize("domain", ["r02-expired-leaf.test",
                                    "r02-notyet-leaf.test",
                                    "r03-selfsigned.test"])
def test_dane_ee_ignores_dates_and_names(world, danemta, domain):
    _, o = run_check(world, danemta, domain)
    (h, a), = list(addresses(o))
    assert a["result"] == "dane-authenticated" and a["matched"].startswith("3 1 1")
    assert a["matched_depth"] == 0
    snap, token, r, out = send_one(world, danemta, domain)
    assert r.returncode == 0, r.stderr
    assert "DANE: validated successfully (3 1 1" in r.stderr
    assert len(snap.holders(token)) == 1


@pytest.mark.parametrize("domain,tlsrpt", [
    ("r37-ta-name-mismatch.test", "certificate-host-mismatch"),
    ("r38-ta-not-sent.test", "certificate-not-trusted"),
    ("r40-ta-expired-leaf.test", "certificate-expired"),
])
def test_dane_ta_failures_defer(world, danemta, domain, tlsrpt):
    _, o = run_check(world, danemta, domain)
    (h, a), = list(addresses(o))
    assert a["result"] == "dane-failed" and a["tlsrpt_result"] == tlsrpt, a
    assert o["verdict"] == "defer"
    snap, token, r, out = send_one(world, danemta, domain)
    assert r.returncode == 75 and snap.holders(token) == []
    rcv = world.receivers_for_host(h["name"])
    assert rcv
    for s in snap.new_sessions(rcv[0]):
        assert "MAIL" not in s["commands"] and s["data_bytes"] == 0


@pytest.mark.parametrize("domain,result", [
    ("r47-no-starttls.test", "starttls-missing"),
    ("r47-starttls-454.test", "starttls-missing"),
    ("r47-helo-only.test", "starttls-missing"),
    ("r48-tls-fail.test", "tls-failed"),
])
def test_no_downgrade_with_tlsa(world, danemta, domain, result):
    _, o = run_check(world, danemta, domain)
    (h, a), = list(addresses(o))
    assert a["result"] == result, a
    snap, token, r, out = send_one(world, danemta, domain)
    assert r.returncode == 75, r.stderr
    rcv = world.receivers_for_host(h["name"])[0]
    sessions = snap.new_sessions(rcv)
    assert sessions
    for s in sessions:
        # Nothing after the failed STARTTLS, and no message byte at all.
        assert s["data_bytes"] == 0 and s["bytes_tls"] == 0, s
        assert "MAIL" not in s["commands"], s
    assert snap.holders(token) == []


def test_mx_failover(world, danemta):
    _, o = run_check(world, danemta, "r27-mx1-mismatch.test")
    res = [(h["name"], a["result"]) for h, a in addresses(o)]
    assert res[0][1] == "dane-failed" and res[1][1] == "dane-authenticated"
    snap, token, r, out = send_one(world, danemta, "r27-mx1-mismatch.test")
    assert r.returncode == 0
    assert "no certificate matches the TLSA records of mx1.r27-mx1-mismatch.test; " \
        "trying next MX" in r.stderr
    assert [n for n, _ in snap.holders(token)] == ["r27-mx1-mismatch-mx2"]
    assert out["recipients"][0]["security"] == "dane-authenticated"


def test_partial_deployment_warns(world, danemta):
    _, o = run_check(world, danemta, "r25-partial.test")
    assert "partial DANE" in (o["delivery"]["warning"] or "")
    snap, token, r, out = send_one(world, danemta, "r25-partial.test")
    assert r.returncode == 0
    assert "partial DANE deployment" in r.stderr
    assert out["domains"][0]["warning"]
    assert [n for n, _ in snap.holders(token)] == ["r25-partial-mx2"]


def test_sni_is_tlsa_base(world, danemta):
    snap, token, r, out = send_one(world, danemta, "r01-sni.test")
    assert r.returncode == 0, r.stderr
    (n, eml), = snap.holders(token)
    side = json.loads(eml.with_suffix(".json").read_text())
    assert side["sni"] == "mx1.r01-sni.test"
    for domain, base in (("r13-cname-mx.test", "mx13.provider.test"),
                         ("r14-cname-mx-orig.test", "mx1.r14-cname-mx-orig.test")):
        _, o = run_check(world, danemta, domain)
        (h, a), = list(addresses(o))
        assert a["sni"] == base and a["result"] == "dane-authenticated"


@pytest.fixture
def behaviour(world):
    """Switch receivers' behaviour; every change is undone afterwards."""
    changed = []

    def set_(name, b):
        changed.append(name)
        world.set_behaviour(name, b)

    yield set_
    for n in changed:
        world.set_behaviour(n, None)


@pytest.mark.parametrize("b,result", [
    ({"hide_starttls": True}, "starttls-missing"),
    ({"starttls_reply": "454 4.7.0 TLS not available"}, "starttls-missing"),
    ({"tls_fail": "alert"}, "tls-failed"),
    ({"tls_fail": "close"}, "tls-failed"),
])
def test_good_host_broken_tls_defers(world, danemta, behaviour, b, result):
    behaviour("good", b)
    _, o = run_check(world, danemta, "good.test")
    (h, a), = list(addresses(o))
    assert a["result"] == result and o["verdict"] == "defer"
    snap, token, r, out = send_one(world, danemta, "good.test")
    assert r.returncode == 75
    for s in snap.new_sessions("good"):
        assert "MAIL" not in s["commands"] and s["data_bytes"] == 0
    assert snap.holders(token) == []


def test_opportunistic_plaintext_retry(world, danemta, behaviour):
    behaviour("unsigned", {"tls_fail": "garbage"})
    _, o = run_check(world, danemta, "unsigned.test")
    (h, a), = list(addresses(o))
    assert a["result"] == "plaintext" and a["plaintext_retry"]
    snap, token, r, out = send_one(world, danemta, "unsigned.test")
    assert r.returncode == 0, r.stderr
    (n, eml), = snap.holders(token)
    assert json.loads(eml.with_suffix(".json").read_text())["tls"] is False
    # Without the retry the opportunistic host fails and mail waits.
    snap, token, r, out = send_one(world, danemta, "unsigned.test",
                                   ["--no-plaintext-retry"])
    assert r.returncode == 75 and snap.holders(token) == []


def test_permanent_after_authentication(world, danemta, behaviour):
    behaviour("good", {"rcpt_reject": {"user@good.test": "550 5.1.1 no such user"}})
    snap, token, r, out = send_one(world, danemta, "good.test")
    assert r.returncode == 69, r.stderr
    rc = out["recipients"][0]
    assert rc["outcome"] == "bounced" and rc["code"] == 550
    assert rc["enhanced"] == "5.1.1"
    # The recipient probe of check sees the same.
    r2, o = run_check(world, danemta, "user@good.test")
    assert o["verdict"] == "bounce"
    assert o["delivery"]["recipient"]["outcome"] == "perm"


def test_policy_levels(world, danemta, tmp_path):
    # dane-only refuses an opportunistic domain without connecting.
    snap, token, r, out = send_one(world, danemta, "unsigned.test",
                                   ["--policy", "dane-only"])
    assert r.returncode == 75 and "dane-required" in out["recipients"][0]["text"]
    assert snap.touched() == set()
    # The table is the bypass list for broken DANE.
    table = tmp_path / "policy"
    table.write_text("# bypass\nr05-stale.test may\n.test dane\n")
    snap, token, r, out = send_one(world, danemta, "r05-stale.test",
                                   ["--policy-file", str(table)])
    assert r.returncode == 0, r.stderr
    assert out["recipients"][0]["security"] == "opportunistic"
    # none: plaintext even where TLSA exists.
    snap, token, r, out = send_one(world, danemta, "good.test", ["--policy", "none"])
    (n, eml), = snap.holders(token)
    assert json.loads(eml.with_suffix(".json").read_text())["tls"] is False
    # encrypt: TLS without DANE, so a stale TLSA does not matter.
    _, o = run_check(world, danemta, "r05-stale.test", ["--policy", "encrypt"])
    assert o["verdict"] == "tls-unauthenticated"
    bad = tmp_path / "bad"
    bad.write_text("good.test dane\ngood.test may extra\n")
    r = danemta("send", "--from", "a@b.test", "--to", "u@good.test",
                "--policy-file", str(bad), "-", input="x\r\n")
    assert r.returncode == 78 and "line 2" in r.stderr


def test_several_domains_in_parallel(world, danemta):
    token = uuid.uuid4().hex
    snap = Snapshot(world)
    rcpts = ["a@good.test", "b@r01-dane.test", "c@r05-stale.test",
             "d@r07-nullmx.test", "e@good.test"]
    args = ["send", "--json", "--from", "s@client.test", "--unbound-config",
            world.unbound_conf, "--timeout", "10"]
    for x in rcpts:
        args += ["--to", x]
    r = danemta(*args, "-", input=message(token, "many"), timeout=120)
    assert r.returncode == 75, r.stderr
    out = json.loads(r.stdout)
    got = {x["rcpt"]: x["outcome"] for x in out["recipients"]}
    assert got == {"a@good.test": "delivered", "b@r01-dane.test": "delivered",
                   "c@r05-stale.test": "deferred", "d@r07-nullmx.test": "bounced",
                   "e@good.test": "delivered"}
    # good.test got one message for both of its recipients.
    (eml,) = [p for n, p in snap.holders(token) if n == "good"]
    side = json.loads(eml.with_suffix(".json").read_text())
    assert sorted(side["rcpt_tos"]) == ["a@good.test", "e@good.test"]
    for line in ("c@r05-stale.test: deferred", "d@r07-nullmx.test: bounced"):
        assert line in r.stderr


def test_address_literal(world, danemta):
    rcv = world.receiver("unsigned")
    dest = "[%s]" % rcv["address"]
    snap, token, r, out = send_one(world, danemta, dest)
    assert r.returncode == 0, r.stderr
    assert "address literal" in r.stderr
    assert [n for n, _ in snap.holders(token)] == ["unsigned"]
    assert out["recipients"][0]["security"] == "opportunistic"


@pytest.mark.parametrize("args,msg", [
    (["--to", "u@good.test"], "--from and --to are required"),
    (["--from", "a@b.test"], "--from and --to are required"),
    (["--from", "a@b.test", "--to", "nobody"], "not an address"),
    (["--from", "a@b.test", "--to", "u@bad..test"], ""),
    (["--from", "a b@c.test", "--to", "u@good.test"], "not an address"),
    (["--from", "a@b.test", "--to", "u@good.test", "--policy", "strict"], "unknown level"),
    (["--from", "a@b.test", "--to", "u@good.test", "--port", "0"], ""),
    (["--from", "a@b.test", "--to", "u@good.test", "-", "-"], "standard input"),
])
def test_send_usage(danemta, args, msg):
    r = danemta("send", *args, input="x\r\n")
    assert r.returncode == 64 and msg in r.stderr


def test_send_input_errors(world, danemta, tmp_path):
    base = ["send", "--from", "a@b.test", "--to", "u@good.test",
            "--unbound-config", world.unbound_conf]
    r = danemta(*base, str(tmp_path / "missing"))
    assert r.returncode == 66
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    r = danemta(*base, str(empty))
    assert r.returncode == 65 and "empty" in r.stderr
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(35 * 1024 * 1024 + 1)
    snap = Snapshot(world)
    r = danemta(*base, str(big))
    assert r.returncode == 65 and "over" in r.stderr
    assert snap.touched() == set()


# ---- several messages over one session (issue 7, bench/send) ----

def send_files(world, danemta, tmp_path, rcpts, n, prefix="m"):
    """`danemta send` with n FILEs (one message each) to rcpts."""
    tokens, files = [], []
    for i in range(n):
        t = uuid.uuid4().hex
        f = tmp_path / ("%s%03d.eml" % (prefix, i))
        f.write_text(message(t, ", ".join(rcpts)), newline="")
        tokens.append(t)
        files.append(str(f))
    args = ["send", "--json", "--from", "sender@client.test", "--timeout", "10",
            "--unbound-config", world.unbound_conf, "-v"]
    for rc in rcpts:
        args += ["--to", rc]
    r = danemta(*args, *files, timeout=120)
    return tokens, files, r, (json.loads(r.stdout) if r.stdout else None)


def test_send_several_messages_one_session(world, danemta, tmp_path):
    n = 5
    rcpts = ["user@good.test", "other@good.test"]
    snap = Snapshot(world)
    tokens, files, r, out = send_files(world, danemta, tmp_path, rcpts, n)
    assert r.returncode == 0, r.stderr
    # One connection carried every message, each to both recipients.
    sessions = snap.new_sessions("good")
    assert len(sessions) == 1, sessions
    s = sessions[0]
    assert s["tls"] is True and s["messages"] == n, s
    assert s["commands"].count("MAIL") == n and s["commands"].count("DATA") == n
    assert snap.touched() == {"good"}
    for t in tokens:
        assert [name for name, _ in snap.holders(t)] == ["good"], t
    # Per-message, per-recipient outcomes, in the order of the FILEs.
    got = [(e["message"], e["file"], e["rcpt"]) for e in out["recipients"]]
    assert got == [(i, files[i], rc) for i in range(n) for rc in rcpts]
    for e in out["recipients"]:
        assert e["outcome"] == "delivered", e
        assert e["security"] == "dane-authenticated", e
        assert e["via"].startswith("mx") or "[" in e["via"], e
    for f in files:
        assert "%s: user@good.test: delivered via" % f in r.stderr


def test_send_messages_past_one_session(world, danemta, tmp_path):
    # More messages than one session carries (DELIVER_MSGS_MAX = 64): a
    # second session to the same host takes the rest.
    n = 70
    snap = Snapshot(world)
    tokens, files, r, out = send_files(world, danemta, tmp_path,
                                       ["user@good.test"], n)
    assert r.returncode == 0, r.stderr
    assert [s["messages"] for s in snap.new_sessions("good")] == [64, n - 64]
    assert len(out["recipients"]) == n
    assert all(e["outcome"] == "delivered" for e in out["recipients"])
    assert all(snap.holders(t) for t in tokens)


def test_send_several_messages_exit_over_all(world, danemta, tmp_path,
                                             behaviour):
    # Every message deferred at the only host: each is reported, exit 75.
    behaviour("good", {"tls_fail": "garbage"})
    snap = Snapshot(world)
    tokens, files, r, out = send_files(world, danemta, tmp_path,
                                       ["user@good.test"], 3)
    assert r.returncode == 75, r.stderr
    assert [e["outcome"] for e in out["recipients"]] == ["deferred"] * 3
    assert [e["message"] for e in out["recipients"]] == [0, 1, 2]
    for s in snap.new_sessions("good"):
        assert "MAIL" not in s["commands"] and s["data_bytes"] == 0
    assert all(snap.holders(t) == [] for t in tokens)
