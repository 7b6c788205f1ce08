"""The domain owner's diagnostics in `danemta check` (issue 6 item 4) and
the schema-2 verdict of its JSON (issue 5 item 5), against the test world
(real nsd, libunbound, openssl certificates and SMTP receivers; the v-*.test
domains were made for the diagnostics, see tests/world/README.md).

For each diagnostic id, the world domain that triggers it must show it in
`check --json` and in the text output; good.test must show none.  Nothing
is faked.
"""

import json
import re
import subprocess

import pytest

from conftest import danemta_bin

GOOD = "good.test"

# id -> (a world domain that triggers it, severity, found by DNS alone)
DIAGNOSTICS = {
    "stale-tlsa": ("r05-stale.test", "error", False),
    "group-not-current": ("v-future.test", "error", False),
    "fragile-3-0-x": ("v-fragile.test", "warning", True),
    "pkix-usage-on-port-25": ("r29-pkix-only.test", "warning", True),
    "partial-tlsa": ("r26-no-preempt.test", "warning", True),
    "ta-not-sent": ("r38-ta-not-sent.test", "error", False),
    "ta-name-mismatch": ("r37-ta-name-mismatch.test", "error", False),
    "ta-chain-expired": ("r40-ta-expired-leaf.test", "error", False),
    "tlsa-unsigned-zone": ("r08-unsigned.test", "warning", True),
    "insecure-mx-host": ("r10-insecure-provider.test", "warning", True),
    "tlsa-lookup-broken": ("r20-tlsa-servfail.test", "error", True),
    "tlsa-wrong-owner": ("v-wrong-owner.test", "warning", True),
    "bad-digest-length": ("r31-malformed.test", "error", True),
    "sha512-only": ("v-sha512-only.test", "warning", True),
    "full-records": ("r46-agility-full.test", "warning", True),
    "rrsig-expiring": ("v-rrsig-expiring.test", "warning", True),
    "tlsa-ttl-long": ("v-ttl-long.test", "warning", True),
    "starttls-missing-with-tlsa": ("r47-no-starttls.test", "error", False),
}

DOMAINS = sorted({d for d, _, _ in DIAGNOSTICS.values()}) + [GOOD]
VERDICTS = {"dane-authenticated", "tls-unauthenticated", "opportunistic", "defer",
            "bounce"}
DIAG_KEYS = {"id", "severity", "host", "address", "detail", "explanation", "fix"}


def check(world, *args):
    return subprocess.run([danemta_bin(), "check", "--timeout", "5", "--unbound-config",
                           world.unbound_conf, *args], capture_output=True, text=True,
                          timeout=180)


def by_domain(r):
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    return {o["domain"]: o for o in objs}


def text_sections(out):
    """domain -> the diagnostic lines of its "DOMAIN: problems:" section."""
    sections, cur = {}, None
    for ln in out.splitlines():
        m = re.match(r"^(\S+): problems:$", ln)
        if m:
            cur = sections.setdefault(m.group(1), [])
        elif ln.startswith("  ") and cur is not None:
            cur.append(ln)
        else:
            cur = None
    return sections


@pytest.fixture(scope="module")
def runs(world):
    """One concurrent run of every domain per mode: full JSON, full text,
    --dns-only JSON."""
    full = check(world, "--json", *DOMAINS)
    text = check(world, *DOMAINS)
    dns = check(world, "--dns-only", "--json", *DOMAINS)
    for r in (full, text, dns):
        assert r.returncode in (0, 1), r.stderr
    return {"full": by_domain(full), "text": text, "dns": by_domain(dns),
            "rc": (full.returncode, text.returncode, dns.returncode)}


def ids(o):
    return {d["id"] for d in o["diagnostics"]}


@pytest.mark.parametrize("diag", sorted(DIAGNOSTICS))
def test_diagnostic_json(runs, diag):
    domain, severity, _ = DIAGNOSTICS[diag]
    o = runs["full"][domain]
    found = [d for d in o["diagnostics"] if d["id"] == diag]
    assert found, (diag, domain, o["diagnostics"])
    for d in found:
        assert set(d) == DIAG_KEYS
        assert d["severity"] == severity
        assert d["detail"] and d["explanation"] and d["fix"]
    if severity == "error":
        # an error diagnostic makes the check's status a problem
        assert o["status"] == "problem"
        assert any(p.startswith(diag + ": ") for p in o["problems"]), o["problems"]


@pytest.mark.parametrize("diag", sorted(DIAGNOSTICS))
def test_diagnostic_text(runs, diag):
    domain, severity, _ = DIAGNOSTICS[diag]
    lines = text_sections(runs["text"].stdout).get(domain)
    assert lines, runs["text"].stdout
    head = [ln for ln in lines if ln.startswith("  %s: %s " % (severity, diag))]
    assert head, lines
    i = lines.index(head[0])
    assert lines[i + 1].startswith("      why: ") and lines[i + 2].startswith("      fix: ")


@pytest.mark.parametrize("diag", sorted(DIAGNOSTICS))
def test_diagnostic_dns_only(runs, diag):
    domain, severity, by_dns = DIAGNOSTICS[diag]
    o = runs["dns"][domain]
    # the DNS-only subset: what the plan and the extra lookups show
    assert (diag in ids(o)) == by_dns, (diag, o["diagnostics"])
    for d in o["diagnostics"]:
        assert set(d) == DIAG_KEYS and d["address"] == ""


def test_connection_diagnostics_name_the_address(runs, world):
    for diag, (domain, _, by_dns) in DIAGNOSTICS.items():
        if by_dns:
            continue
        o = runs["full"][domain]
        addrs = {a["address"] for h in o["hosts"] for a in h["addresses"]}
        for d in o["diagnostics"]:
            if d["id"] == diag:
                assert d["host"] and d["address"] in addrs, d


def test_healthy_domain_has_none(runs, world):
    for mode in ("full", "dns"):
        o = runs[mode][GOOD]
        assert o["diagnostics"] == [] and o["status"] == "ok" and o["problems"] == []
    assert GOOD not in text_sections(runs["text"].stdout)
    r = check(world, GOOD)
    assert r.returncode == 0, r.stdout
    assert "problems:" not in r.stdout and "problem:" not in r.stdout


def test_schema_2_verdict(runs):
    for domain, o in runs["full"].items():
        assert o["schema"] == 2
        assert o["verdict"] in VERDICTS and o["reason"], o
        assert o["status"] in ("ok", "problem", "incomplete")
        assert (o["status"] == "ok") == (o["problems"] == [])
        assert o["policy_reason"]
        # delivery keeps only what verdict/reason do not say
        assert "verdict" not in o["delivery"] and "reason" not in o["delivery"]
        assert set(o["delivery"]) == {"policy", "warning", "tlsrpt_result",
                                      "recipient"}
    assert runs["full"][GOOD]["verdict"] == "dane-authenticated"
    assert runs["full"]["r05-stale.test"]["verdict"] == "defer"
    for o in runs["dns"].values():
        assert o["schema"] == 2 and "verdict" not in o and "reason" not in o
        assert "delivery" not in o and o["policy_reason"]


@pytest.mark.parametrize("domain,mode,rc", [
    # a warning alone leaves the status ok: exit 0
    ("v-ttl-long.test", [], 0),
    ("v-fragile.test", ["--dns-only"], 0),
    # an error diagnostic alone (the delivery itself is authenticated): 1
    ("v-future.test", [], 1),
    ("r05-stale.test", [], 1),
    ("r20-tlsa-servfail.test", ["--dns-only"], 1),
    (GOOD, [], 0),
])
def test_exit_status(world, domain, mode, rc):
    r = check(world, "--json", *mode, domain)
    assert r.returncode == rc, r.stdout
    o = json.loads(r.stdout)
    assert o["status"] == ("ok" if rc == 0 else "problem")


def test_all_at_once_exit_status(runs):
    # some domain of the set has a problem: every mode exits 1
    assert runs["rc"] == (1, 1, 1)


def test_rrsig_warn_days(world):
    # good.test is signed for 30 days: warned with a 40-day window only
    r = check(world, "--json", "--dns-only", GOOD)
    assert "rrsig-expiring" not in ids(json.loads(r.stdout))
    for mode in ([], ["--dns-only"]):
        r = check(world, "--json", "--rrsig-warn-days", "40", *mode, GOOD)
        o = json.loads(r.stdout)
        (d,) = [d for d in o["diagnostics"] if d["id"] == "rrsig-expiring"]
        assert d["host"] == "mx1.good.test" and "warning at 40" in d["detail"]
        assert r.returncode == 0 and o["status"] == "ok"  # a warning


@pytest.mark.parametrize("value", ["0", "366", "-1", "x", "", "3d", "99999999999999999999"])
def test_rrsig_warn_days_malformed(world, value):
    r = check(world, "--rrsig-warn-days", value, GOOD)
    assert r.returncode == 64
    assert r.stdout == "" and "danemta check: " in r.stderr


def test_no_diagnostics_option(world):
    # The diagnostics ask what a sender never asks (TLSA under an insecure
    # host, to report tlsa-unsigned-zone); --no-diagnostics asks none of it.
    owner = "_25._tcp.mx1.r08-unsigned.test."
    for opt, asked in (([], True), (["--no-diagnostics"], False)):
        mark = world.query_mark()
        r = check(world, "--json", "--dns-only", *opt, "r08-unsigned.test")
        assert r.returncode == 0, r.stderr
        o = json.loads(r.stdout)
        qs = [q for q in world.queries(since=mark)
              if q["qname"] == owner and q["qtype"] == "TLSA"]
        assert bool(qs) == asked, qs
        if asked:
            assert ids(o) == {"tlsa-unsigned-zone"}
        else:
            assert o["diagnostics"] is None and o["status"] == "ok"
