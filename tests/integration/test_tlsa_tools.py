"""`danemta tlsa verify`, `danemta tlsa rollover` and the diagnostics,
against the test world (real nsd, libunbound, openssl certificates and
SMTP receivers; domains v-*.test were added for these tests, see
tests/world/README.md).

Faked: only the clock of the rollover gate, through its state file (a
"first seen" time written in the past), as said where it is done.
"""

import json
import os
import time

import pytest

GOOD = "good.test"

# diagnostic -> a world domain that triggers it (checked with verify --mx)
DIAGNOSTICS = {
    "stale-tlsa": "r05-stale.test",
    "group-not-current": "v-future.test",
    "fragile-3-0-x": "v-fragile.test",
    "pkix-usage-on-port-25": "r29-pkix-only.test",
    "partial-tlsa": "r26-no-preempt.test",
    "ta-not-sent": "r38-ta-not-sent.test",
    "ta-name-mismatch": "r37-ta-name-mismatch.test",
    "ta-chain-expired": "r40-ta-expired-leaf.test",
    "tlsa-unsigned-zone": "r08-unsigned.test",
    "insecure-mx-host": "r10-insecure-provider.test",
    "tlsa-lookup-broken": "r20-tlsa-servfail.test",
    "tlsa-wrong-owner": "v-wrong-owner.test",
    "bad-digest-length": "r31-malformed.test",
    "sha512-only": "v-sha512-only.test",
    "full-records": "r46-agility-full.test",
    "rrsig-expiring": "v-rrsig-expiring.test",
    "tlsa-ttl-long": "v-ttl-long.test",
    "starttls-missing-with-tlsa": "r47-no-starttls.test",
}


def run_json(danemta, world, *args):
    r = danemta("tlsa", *args, "--unbound-config", world.unbound_conf,
                "--timeout", "5", "--json", timeout=120)
    assert r.stdout.strip(), r.stderr
    return r.returncode, json.loads(r.stdout)


def verify(danemta, world, name, *opts):
    return run_json(danemta, world, "verify", *opts, name)


def rollover(danemta, world, host, state, *opts):
    return run_json(danemta, world, "rollover", "--state-dir", str(state), *opts, host)


def ids(o):
    return {d["id"] for d in o["diagnostics"]}


# ---- verify

def test_verify_good(danemta, world):
    rc, o = verify(danemta, world, "mx1." + GOOD)
    assert rc == 0
    (a,) = o["addresses"]
    assert a["result"] == "dane-authenticated"
    assert [r["group"] for r in a["records"]] == ["match"]
    assert a["records"][0]["match"] == 0
    assert o["diagnostics"] == []


def test_verify_text(danemta, world):
    r = danemta("tlsa", "verify", "--unbound-config", world.unbound_conf,
                "mx1." + GOOD, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "matches depth 0" in r.stdout
    assert "verdict: ok" in r.stdout


def test_verify_stale(danemta, world):
    rc, o = verify(danemta, world, "mx1.r05-stale.test")
    assert rc == 1
    assert o["addresses"][0]["records"][0]["match"] is False
    assert "stale-tlsa" in ids(o)


def test_verify_group_only_future_chain(danemta, world):
    # 3 1 1 of the current key matches; 2 0 1 names a CA whose certificate
    # (v-future-next, made but not deployed) is the future chain's issuer
    rc, o = verify(danemta, world, "mx1.v-future.test")
    assert rc == 1
    groups = {r["record"][:5]: r["group"] for r in o["addresses"][0]["records"]}
    assert groups == {"3 1 1": "match", "2 0 1": "no-match"}
    assert ids(o) == {"group-not-current"}


def test_verify_sha512_group_by_session(danemta, world):
    # 3 1 2 cannot be decided from the chain's SHA-256 digests: verify
    # asks OpenSSL with a single-record DANE session
    rc, o = verify(danemta, world, "mx1.v-sha512-only.test")
    assert rc == 0
    assert o["addresses"][0]["records"][0]["match"] == 0


def test_verify_current_and_next(danemta, world):
    rc, o = verify(danemta, world, "mx1.v-roll-ok.test")
    assert rc == 0  # both records are 3 1 1: one group, the current matches
    m = [r["match"] for r in o["addresses"][0]["records"]]
    assert sorted(m, key=str) == sorted([0, False], key=str)


def test_verify_no_tlsa(danemta, world):
    rc, o = verify(danemta, world, "mx1.r22-tlsa-nodata.test")
    assert rc == 2


def test_verify_silent_server(danemta, world):
    r = danemta("tlsa", "verify", "--unbound-config", world.unbound_conf,
                "--timeout", "2", "mx1.v-silent.test", timeout=120)
    assert r.returncode == 3
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("danemta: tlsa verify:")]
    assert len(lines) == 1 and "no address presented" in lines[0], r.stderr


def test_verify_bad_name(danemta, world):
    r = danemta("tlsa", "verify", "--unbound-config", world.unbound_conf, "bad..name")
    assert r.returncode == 64


# ---- diagnostics

@pytest.mark.parametrize("diag,domain", sorted(DIAGNOSTICS.items()))
def test_diagnostic(danemta, world, diag, domain):
    rc, o = verify(danemta, world, domain, "--mx")
    found = [d for d in o["diagnostics"] if d["id"] == diag]
    assert found, (diag, domain, o["diagnostics"])
    d = found[0]
    assert d["explanation"] and d["fix"] and d["detail"]
    assert d["severity"] in ("warning", "error")


def test_healthy_domain_has_no_diagnostic(danemta, world):
    rc, o = verify(danemta, world, GOOD, "--mx")
    assert rc == 0
    assert o["diagnostics"] == []


def test_rrsig_warn_days(danemta, world):
    # good.test is signed for 30 days: warned with a 40-day window only
    _, o = verify(danemta, world, GOOD, "--mx")
    assert "rrsig-expiring" not in ids(o)
    _, o = verify(danemta, world, GOOD, "--mx", "--rrsig-warn-days", "40")
    assert "rrsig-expiring" in ids(o)


# ---- rollover

def cert(world, name, ext="crt"):
    return os.path.join(world.info["certs"], "%s.%s" % (name, ext))


def fake_first_seen(state, owner, days_ago):
    """FAKES THE CLOCK: rewrite the state file's first-seen times as if the
    tool had first seen every record of OWNER DAYS_AGO days ago."""
    path = os.path.join(str(state), "rollover-state")
    out = []
    with open(path) as f:
        for ln in f:
            p = ln.rstrip("\n").split(" ", 2)
            if len(p) == 3 and p[0] == owner:
                p[1] = str(int(time.time()) - days_ago * 86400)
            out.append(" ".join(p))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def test_rollover_next_missing(danemta, world, tmp_path):
    rc, o = rollover(danemta, world, "mx1.v-roll-missing.test", tmp_path,
                     "--new-cert", cert(world, "v-roll-missing-next"))
    assert rc == 1
    (rec,) = o["publish"]
    assert rec.startswith("3 1 1 ")
    # the printed record is what `tlsa create` makes for the new cert
    r = danemta("tlsa", "create", cert(world, "v-roll-missing-next"))
    assert rec.split()[3] in r.stdout


def test_rollover_current_and_next(danemta, world, tmp_path):
    owner = "_25._tcp.mx1.v-roll-ok.test"
    args = ("--new-cert", cert(world, "v-roll-ok-next"))
    rc, o = rollover(danemta, world, "mx1.v-roll-ok.test", tmp_path, *args)
    assert o["publish"] == [] and o["current_covered"] is True
    # first run: evidence is either the RRSIG inception (a day ago in the
    # world, TTL 60: safe) or "first seen now" (unsafe for 2 x TTL)
    if "inception" in o["source"]:
        assert rc == 0
    else:
        assert rc == 2 and "now" in o["source"]
    fake_first_seen(tmp_path, owner, 1)
    rc, o = rollover(danemta, world, "mx1.v-roll-ok.test", tmp_path, *args)
    assert rc == 0, o
    # the same gate with the bare next key
    rc, o = rollover(danemta, world, "mx1.v-roll-ok.test", tmp_path,
                     "--new-key", cert(world, "v-roll-ok-next", "key"))
    assert rc == 0, o


def test_rollover_too_recent(danemta, world, tmp_path):
    # TLSA TTL 2 days: 2 x TTL is longer than anything seen so far
    owner = "_25._tcp.mx1.v-roll-recent.test"
    args = ("--new-cert", cert(world, "v-roll-recent-next"))
    rc, o = rollover(danemta, world, "mx1.v-roll-recent.test", tmp_path, *args)
    assert rc == 2, o
    assert o["ttl"] >= 86400 and o["safe_at"]
    fake_first_seen(tmp_path, owner, 10)
    rc, o = rollover(danemta, world, "mx1.v-roll-recent.test", tmp_path, *args)
    assert rc == 0, o
    assert "state file" in o["source"] or "inception" in o["source"]


def test_rollover_current_not_covered(danemta, world, tmp_path):
    # r05: the only record is for a key no server uses; the "new" key is it
    rc, o = rollover(danemta, world, "mx1.r05-stale.test", tmp_path,
                     "--new-key", cert(world, "stale", "key"))
    fake_first_seen(tmp_path, "_25._tcp.mx1.r05-stale.test", 10)
    rc, o = rollover(danemta, world, "mx1.r05-stale.test", tmp_path,
                     "--new-key", cert(world, "stale", "key"))
    assert rc == 3, o
    assert o["current_covered"] is False


# ---- bad input: one clear line, non-zero exit

def bad_inputs(tmp_path, world):
    pem = open(cert(world, "v-roll-ok-next")).read()
    cases = {
        "truncated.pem": pem[: len(pem) // 2],
        "nocert.pem": "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n",
        "notcert.der": b"\x30\x03\x02\x01\x05",
    }
    paths = {}
    for n, data in cases.items():
        p = tmp_path / n
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        paths[n] = str(p)
    key = tmp_path / "pass.key"
    os.system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
              "-aes256 -pass pass:secret -out %s 2>/dev/null" % key)
    paths["pass.key"] = str(key)
    return paths


@pytest.mark.parametrize("name", ["truncated.pem", "nocert.pem", "notcert.der", "pass.key"])
def test_rollover_bad_input(danemta, world, tmp_path, name):
    path = bad_inputs(tmp_path, world)[name]
    opt = "--new-key" if name.endswith(".key") else "--new-cert"
    r = danemta("tlsa", "rollover", "--unbound-config", world.unbound_conf,
                "--state-dir", str(tmp_path), opt, path, "mx1.v-roll-ok.test")
    assert r.returncode == 65, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("danemta: tlsa rollover: "), r.stderr


def test_rollover_silent_server(danemta, world, tmp_path):
    c = cert(world, "v-silent")
    r = danemta("tlsa", "rollover", "--unbound-config", world.unbound_conf,
                "--state-dir", str(tmp_path), "--timeout", "2", "--new-cert", c,
                "mx1.v-silent.test", timeout=120)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "no server answered" in r.stdout


def test_rollover_usage(danemta, world):
    r = danemta("tlsa", "rollover", "mx1.good.test")
    assert r.returncode == 64


@pytest.mark.parametrize("opts", [("--mx", "example.com"), ("mx.example.com",)])
def test_verify_dead_resolver_is_a_dns_failure(danemta, opts):
    # A resolver that never answers: a temporary DNS failure (75) within the
    # timeout, not "no TLSA published" (2).
    t0 = time.monotonic()
    r = danemta("tlsa", "verify", "--resolver", "127.0.0.9@9", "--dns-timeout", "2",
                *opts, timeout=30)
    assert r.returncode == 75, r.stdout + r.stderr
    assert "a DNS lookup failed" in r.stdout
    assert "timed out after 2 s" in r.stdout
    assert time.monotonic() - t0 < 10
