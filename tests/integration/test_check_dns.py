"""danemta check --dns-only against the test world (issue 4).

Every tests/world/matrix.json entry whose outcome DNS alone decides is
checked for its domain policy and per-host modes and TLSA base domains,
from one concurrent run (-j 16) per option set; then the details the RFC
fixes (no TLSA query under insecure addresses, taken from the fault front's
query log; candidate order; TLSA-owner CNAME; port; agility; unusable
reasons), bad input, a dead resolver and the JSON Lines schema.

Uses conftest.py's session `world` and its binary ($DANEMTA_BIN, or
$DANEMTA_BUILD/src/cli/danemta).  Run:
  DANEMTA_BUILD=build-d /usr/bin/python3 -m pytest -q tests/integration/test_check_dns.py
"""

import json
import subprocess
import time

import pytest

from conftest import danemta_bin, load_matrix

TIMEOUT = 5  # --dns-timeout for the matrix runs: dropped queries end in time

STATUSES = {"secure", "insecure", "bogus", "indeterminate"}
POLICIES = {"dane", "tls-required", "opportunistic", "defer", "bounce"}
MODES = {"dane", "tls-required", "opportunistic", "skip"}
LOOKUPS = {"ok", "nodata", "nxdomain", "error", "not-done"}

MATRIX = load_matrix()


def dns_decides(e):
    """Mandatory-DANE rows need a sender policy that check does not have."""
    opts = e["dns"].get("options") or {}
    return set(opts) <= {"dane_insecure_mx"}


DNS_ROWS = [e for e in MATRIX if dns_decides(e)]


def run(args, stdin=None, timeout=120):
    return subprocess.run([danemta_bin(), *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def check(world, *args, stdin=None):
    return run(["check", "--dns-only", "--unbound-config", world.unbound_conf, *args],
               stdin=stdin)


def jsonl(p):
    return [json.loads(line) for line in p.stdout.splitlines()]


def run_matrix(world, *extra):
    """One concurrent run per (port, --dane-insecure-mx); the queries sent."""
    groups = {}
    for e in DNS_ROWS:
        key = (e["dns"].get("port"), bool((e["dns"].get("options") or {})
                                          .get("dane_insecure_mx")))
        groups.setdefault(key, []).append(e["domain"])
    mark = world.query_mark()
    out, runs = {}, []
    for (port, dim), domains in sorted(groups.items(), key=str):
        args = ["--json", "-j", "16", "--dns-timeout", str(TIMEOUT), *extra]
        if port:
            args += ["--port", str(port)]
        if dim:
            args.append("--dane-insecure-mx")
        p = check(world, *args, *domains)
        objs = jsonl(p)
        runs.append((domains, p, objs))
        for o in objs:
            out[(o["domain"], port, dim)] = o
    log = [(q["time"], q["qname"], q["qtype"], q["proto"], q["action"])
           for q in world.queries(since=mark)]
    return {"by": out, "runs": runs, "log": log}


@pytest.fixture(scope="module")
def results(world):
    return run_matrix(world)


@pytest.fixture(scope="module")
def plan_only(world):
    """The same runs without the diagnostics, whose extra lookups ask what
    a sender never asks (TLSA under insecure hosts, at _465 and _587)."""
    return run_matrix(world, "--no-diagnostics")


def get(results, e):
    opts = e["dns"].get("options") or {}
    return results["by"][(e["domain"], e["dns"].get("port"),
                          bool(opts.get("dane_insecure_mx")))]


# ---- the matrix ----

@pytest.mark.parametrize("e", DNS_ROWS,
                         ids=["r%02d-%s" % (e["row"], e["domain"]) for e in DNS_ROWS])
def test_matrix(results, e):
    o = get(results, e)
    exp = e["dns"]
    assert o["policy"] == exp["policy"], o["policy_reason"]
    got = {h["name"]: h for h in o["hosts"]}
    assert len(o["hosts"]) == len(exp["hosts"]), [h["name"] for h in o["hosts"]]
    for h in exp["hosts"]:
        g = got[h["name"]]
        assert g["mode"] == h["mode"], g["reason"]
        if h.get("tlsa_base"):
            assert g["tlsa_base"] == h["tlsa_base"]
        if h["mode"] in ("opportunistic", "skip"):
            assert g["tlsa_base"] is None


def test_runs_keep_input_order_and_exit_status(results):
    for domains, p, objs in results["runs"]:
        assert [o["domain"] for o in objs] == domains
        statuses = {o["status"] for o in objs}
        want = 1 if "problem" in statuses else 75 if "incomplete" in statuses else 0
        assert p.returncode == want, p.stderr


def test_matrix_covers_issue_rows():
    rows = {e["row"] for e in DNS_ROWS}
    for r in (6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
              25, 26, 28, 29, 30, 31, 34, 45, 46):
        assert r in rows


# ---- what the RFC fixes beyond the policy ----

def tlsa_queries(log, suffix):
    return [q for q in log if q[2] == "TLSA" and q[1].rstrip(".").endswith(suffix)]


def test_no_tlsa_query_for_insecure_addresses(plan_only):
    log = plan_only["log"]
    assert all(o["diagnostics"] is None for o in plan_only["by"].values())
    # positive control: the log does see the TLSA queries we send
    assert tlsa_queries(log, "_25._tcp.mx1.good.test")
    for host in ("mx1.r10-provider.test", "mx1.r08-unsigned.test",
                 "mx1.unsigned.test", "mx16.provider-unsigned.test",
                 "mx16.provider.test"):
        qs = tlsa_queries(log, host)
        assert qs == [], qs
    # the addresses were looked up, the TLSA never
    assert [q for q in log if q[1] == "mx1.r10-provider.test." and q[2] == "A"]


def test_insecure_mx_option(results):
    e_off = next(e for e in DNS_ROWS if e["domain"] == "r09-insecure-mx.test")
    e_on = next(e for e in DNS_ROWS if e["domain"] == "r09-insecure-mx-opt.test")
    off, on = get(results, e_off), get(results, e_on)
    assert off["mx_dnssec"] == "insecure" and off["hosts"][0]["tlsa_candidates"] == []
    assert on["mx_dnssec"] == "insecure" and on["policy"] == "dane"
    assert "MX RRset insecure" in on["policy_reason"]


def host(results, domain, name=None):
    e = next(e for e in DNS_ROWS if e["domain"] == domain)
    o = get(results, e)
    return next(h for h in o["hosts"] if name is None or h["name"] == name)


def test_cname_candidates_expanded_first(results):
    h = host(results, "r14-cname-mx-orig.test")
    assert h["cname_target"] == "mx14.provider.test"
    c = h["tlsa_candidates"]
    assert [x["base"] for x in c] == ["mx14.provider.test", "mx1.r14-cname-mx-orig.test"]
    assert c[0]["dnssec"] == "secure" and c[0]["lookup"] in ("nodata", "nxdomain")
    h = host(results, "r13-cname-mx.test")
    assert h["tlsa_candidates"][1]["lookup"] == "not-done"


def test_secure_first_link_insecure_target(results):
    h = host(results, "r15-cname-unsigned-tlsa.test")
    assert h["dnssec"] == "insecure" and h["cname_dnssec"] == "secure"
    assert [x["base"] for x in h["tlsa_candidates"]] == ["mx1.r15-cname-unsigned-tlsa.test"]
    h = host(results, "r16-cname-insecure.test")
    assert h["cname_dnssec"] == "insecure" and h["tlsa_candidates"] == []


def test_intermediate_never_candidate(results):
    h = host(results, "r17-chain.test")
    bases = [x["base"] for x in h["tlsa_candidates"]]
    assert bases == ["c.r17-chain.test", "mx1.r17-chain.test"]
    assert not tlsa_queries(results["log"], "_25._tcp.b.r17-chain.test")


def test_tlsa_owner_cname_keeps_base(results):
    h = host(results, "r18-tlsa-cname.test")
    assert h["tlsa_base"] == "mx1.r18-tlsa-cname.test"
    assert h["tlsa_candidates"][0]["cname_target"] == "tlsa._dane.r18-tlsa-cname.test"
    assert [(t["usage"], t["selector"], t["mtype"]) for t in h["tlsa"]] == [(2, 0, 1)]


def test_wildcard_tlsa(results):
    for d in ("r23-wildcard-nsec3.test", "r23-wildcard-nsec.test"):
        h = host(results, d)
        assert h["tlsa_dnssec"] == "secure" and h["mode"] == "dane"


def test_port_2525(results):
    h = host(results, "r24-port2525.test")
    assert h["tlsa_candidates"][0]["owner"] == "_2525._tcp.mx1.r24-port2525.test"
    assert tlsa_queries(results["log"], "_2525._tcp.mx1.r24-port2525.test")
    assert not tlsa_queries(results["log"], "_25._tcp.mx1.r24-port2525.test")


def test_tlsa_errors_skip_the_host(results):
    # the validator turns an upstream REFUSED or NOTIMP into SERVFAIL
    for d, words in (("r20-tlsa-servfail.test", ("SERVFAIL",)),
                     ("r20-tlsa-refused.test", ("SERVFAIL", "REFUSED")),
                     ("r20-tlsa-notimp.test", ("SERVFAIL", "NOTIMP")),
                     ("r20-tlsa-timeout.test", ("SERVFAIL", "timed out")),
                     ("r20-broken-denial.test", ("bogus",))):
        h = host(results, d)
        assert h["mode"] == "skip" and h["tlsa_lookup"] == "error", h
        assert any(w in h["reason"] for w in words), h["reason"]
    h = host(results, "r21-tlsa-bogus.test", "mx1.r21-tlsa-bogus.test")
    assert h["tlsa_dnssec"] == "bogus" and h["mode"] == "skip"


def test_unusable_reasons(results):
    h = host(results, "r29-pkix-only.test")
    assert {t["reason"] for t in h["tlsa"]} == {"PKIX-TA is not used in SMTP",
                                                "PKIX-EE is not used in SMTP"}
    h = host(results, "r30-unknown-params.test")
    assert len(h["tlsa"]) == 4 and not any(t["usable"] for t in h["tlsa"])
    h = host(results, "r31-malformed.test")
    reasons = sorted(t["reason"] for t in h["tlsa"])
    assert h["tlsa_usable"] == 0 and len(reasons) == 3
    assert any("SHA2-256 digest must be 32 octets, got 31" in r for r in reasons)
    assert any("SHA2-512 digest must be 64 octets, got 32" in r for r in reasons)
    assert any("not a DER certificate" in r for r in reasons)


def test_agility_pruning(results):
    h = host(results, "r45-agility-sha512.test")
    by = {t["mtype"]: t for t in h["tlsa"]}
    assert by[2]["usable"] and not by[1]["usable"]
    assert "stronger digest" in by[1]["reason"]
    h = host(results, "r46-agility-malformed512.test")
    by = {t["mtype"]: t for t in h["tlsa"]}
    assert by[1]["usable"] and not by[2]["usable"]
    h = host(results, "r46-agility-groups.test")
    assert all(t["usable"] for t in h["tlsa"])  # 3 1 1 and 2 0 2: two groups


def test_mx_failures(results):
    o = results["by"][("r06-mx-timeout.test", None, False)]
    assert o["mx_lookup"] == "error" and o["status"] == "incomplete"
    o = results["by"][("r06-mx-bogus.test", None, False)]
    assert o["mx_dnssec"] == "bogus" and o["status"] == "problem"
    o = results["by"][("r07-nullmx.test", None, False)]
    assert o["null_mx"] is True and o["policy"] == "bounce"
    o = results["by"][("r07-nxdomain.test", None, False)]
    assert o["mx_lookup"] == "nxdomain" and o["mx_dnssec"] == "secure"
    o = results["by"][("r11-implicit-mx.test", None, False)]
    assert o["mx_lookup"] == "nodata" and o["hosts"][0]["implicit"] is True
    o = results["by"][("alias.r12-cname.test", None, False)]
    assert o["domain_expanded"] == "r12-target.test"


# ---- the JSON Lines schema (docs/check-json.md) ----

def check_schema(o):
    assert o["schema"] == 2
    assert isinstance(o["domain"], str)
    assert o["mx_lookup"] in LOOKUPS
    assert o["mx_dnssec"] in STATUSES | {None}
    assert o["policy"] in POLICIES
    assert isinstance(o["policy_reason"], str) and o["policy_reason"]
    # --dns-only: no delivery verdict (docs/check-json.md, schema 2)
    assert "verdict" not in o and "reason" not in o and "delivery" not in o
    assert o["status"] in ("ok", "problem", "incomplete")
    assert isinstance(o["problems"], list)
    assert (o["status"] == "ok") == (o["problems"] == [])
    for d in o["diagnostics"]:
        assert set(d) == {"id", "severity", "host", "address", "detail",
                          "explanation", "fix"}
        assert d["severity"] in ("warning", "error") and d["address"] == ""
    assert isinstance(o["null_mx"], bool) and isinstance(o["port"], int)
    for h in o["hosts"]:
        assert isinstance(h["name"], str) and isinstance(h["preference"], int)
        assert h["dnssec"] in STATUSES and h["mode"] in MODES and h["reason"]
        assert h["cname_target"] is None or isinstance(h["cname_target"], str)
        assert h["tlsa_base"] is None or isinstance(h["tlsa_base"], str)
        for a in h["addresses"]:
            assert a["family"] in ("ipv4", "ipv6") and a["dnssec"] in STATUSES
            assert isinstance(a["address"], str)
        for c in h["tlsa_candidates"]:
            assert c["lookup"] in LOOKUPS and c["owner"].startswith("_")
        for t in h["tlsa"]:
            assert {"usage", "selector", "mtype", "data", "usable", "reason"} <= set(t)
            assert all(ch in "0123456789abcdef" for ch in t["data"])
            assert (t["reason"] is None) == t["usable"]


def test_json_schema(results):
    n = 0
    for _, _, objs in results["runs"]:
        for o in objs:
            check_schema(o)
            n += 1
    assert n == len(DNS_ROWS)


# ---- input and failures ----

def test_human_trace(world):
    p = check(world, "good.test", "r29-pkix-only.test")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[0].startswith("good.test: MX secure")
    # the address comes from the world (DANEMTA_WORLD_NET moves it)
    (good,) = world.receivers_for_host("mx1.good.test")
    addr = world.receiver(good)["address"]
    assert addr.startswith(world.info["net"] + ".")
    assert "mx1.good.test[10]: MX secure; A %s secure;" % addr in p.stdout
    assert "TLSA _25._tcp.mx1.good.test secure: 3 1 1 " in p.stdout
    assert "unusable (PKIX-TA is not used in SMTP)" in p.stdout
    assert "good.test: policy dane" in p.stdout
    assert "problem: mx1.r29-pkix-only.test: every TLSA record is unusable" in p.stdout


def test_file_and_stdin(world, tmp_path):
    f = tmp_path / "domains"
    f.write_text("# a comment\n\nr22-tlsa-nodata.test\ngood.test  \n")
    p = check(world, "--json", "-f", str(f))
    assert p.returncode == 0, p.stderr
    assert [o["domain"] for o in jsonl(p)] == ["r22-tlsa-nodata.test", "good.test"]
    p = check(world, "--json", "-f", "-", stdin="unsigned.test\n")
    assert p.returncode == 0 and jsonl(p)[0]["policy"] == "opportunistic"


@pytest.mark.parametrize("args,stdin,text", [
    (["exa mple.test"], None, "invalid domain \"exa mple.test\": character not allowed"),
    (["a..test"], None, "empty label"),
    (["x" * 64 + ".test"], None, "label longer than 63 octets"),
    (["a." * 127 + "test"], None, "longer than 253"),
    (["-f", "EMPTY"], None, "no domains"),
    (["-f", "-"], "", "stdin: no domains"),
    (["-f", "-"], "good.test\nbad_domain-.test\n", "stdin:2: invalid domain"),
    ([], None, "no domain given"),
    (["-j", "0", "good.test"], None, "too small"),
    (["--port", "70000", "good.test"], None, "too large"),
    (["--resolver", "not-an-ip", "good.test"], None, "expected an IP address"),
    (["--dns-timeout", "0", "good.test"], None, "too small"),
])
def test_bad_input(world, tmp_path, args, stdin, text):
    empty = tmp_path / "empty"
    empty.write_text("")
    args = [str(empty) if a == "EMPTY" else a for a in args]
    p = check(world, *args, stdin=stdin)
    assert p.returncode == 64
    assert text in p.stderr
    assert p.stdout == ""
    first = [line for line in p.stderr.splitlines() if line][0]
    assert first.startswith("danemta")


def test_unreadable_config_is_unavailable():
    p = run(["check", "--dns-only", "--unbound-config", "/nonexistent/unbound.conf",
             "good.test"])
    assert p.returncode == 69
    assert p.stderr.strip() == ("danemta check: cannot read unbound configuration "
                                "/nonexistent/unbound.conf: No such file or directory")


def test_dead_resolver_ends_in_time():
    t = time.monotonic()
    p = run(["check", "--dns-only", "--resolver", "127.0.0.9@9", "--dns-timeout", "2",
             "--json", "example.com", "example.net"], timeout=30)
    took = time.monotonic() - t
    assert p.returncode in (69, 75), p.stderr
    assert took < 4.5, took
    for o in jsonl(p):
        assert o["policy"] == "defer" and o["status"] == "incomplete"
        assert o["mx_lookup"] == "error" and o["mx_error"]


def test_address_literal(world):
    p = check(world, "--json", "[127.0.1.2]")
    o = jsonl(p)[0]
    assert p.returncode == 0
    assert o["address_literal"] is True and o["policy"] == "opportunistic"
    assert o["hosts"][0]["addresses"][0]["address"] == "127.0.1.2"


def test_unreadable_file_is_noinput(tmp_path):
    p = run(["check", "--dns-only", "-f", str(tmp_path / "missing")])
    assert p.returncode == 66
    assert "missing: No such file or directory" in p.stderr
