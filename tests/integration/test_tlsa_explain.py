"""danemta tlsa explain: how an SMTP client treats the records a domain owner
wrote (RFC 6698 §2, RFC 7672 §3.1.3, RFC 7671 §9).  Needs no world."""
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DANEMTA = os.environ.get("DANEMTA_BIN") or str(
    REPO / os.environ.get("DANEMTA_BUILD", "build") / "src/cli/danemta")

D32 = "0123456789abcdef" * 4
D64 = "fedcba9876543210" * 8


def explain(*args, stdin=None):
    return subprocess.run([DANEMTA, "tlsa", "explain", *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("record, verdict, reason", [
    ("3 1 1 " + D32, "usable", None),
    ("dane-ee spki sha2-256 " + D32, "usable", None),
    ("2 0 2 " + D64, "usable", None),
    ("0 0 1 " + D32, "unusable", "PKIX-TA is not used in SMTP"),
    ("1 1 1 " + D32, "unusable", "PKIX-EE is not used in SMTP"),
    ("3 1 1 " + D32[:62], "unusable", "32 octets, got 31"),
    ("3 1 2 " + D32, "unusable", "64 octets, got 32"),
    ("3 2 1 " + D32, "unusable", "selector"),
    ("3 1 3 " + D32, "unusable", "matching type"),
    ("3 0 0 3082deadbeef", "unusable", "certificate"),
    ("\\# 35 030101" + D32, "usable", None),
])
def test_single_record(record, verdict, reason):
    r = explain(record)
    assert r.returncode == (0 if verdict == "usable" else 1), r.stderr
    line = r.stdout.splitlines()[0]
    assert f": {verdict}" in line
    if reason:
        assert reason in line
    j = json.loads(explain("--json", record).stdout)
    assert j[0]["usable"] == (verdict == "usable")
    assert (j[0]["reason"] is None) == (reason is None)


def test_agility_prunes_weaker_digest_in_same_group():
    # RFC 7671 §9: with SHA2-512 present, 3 1 1 is not used; 2 0 1 is
    # another (usage, selector) group and stays.
    r = explain("--json", "3 1 1 " + D32, "3 1 2 " + D64, "2 0 1 " + D32)
    j = json.loads(r.stdout)
    assert [e["usable"] for e in j] == [False, True, True]
    assert "SHA2-512" in j[0]["reason"] or "stronger" in j[0]["reason"]
    assert r.returncode == 1


def test_zone_lines_from_stdin_keep_owner():
    text = ("; published records\n"
            "_25._tcp.mx1.example.test. 300 IN TLSA 3 1 1 " + D32 + "\n"
            "\n"
            "_25._tcp.mx1.example.test. IN TLSA 1 1 1 " + D32 + "\n")
    r = explain("-", stdin=text)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("_25._tcp.mx1.example.test")
    assert " 3 1 1 " in lines[0] and ": usable" in lines[0]
    assert " 1 1 1 " in lines[1] and ": unusable" in lines[1]


def test_only_unusable_records_say_tls_without_authentication():
    r = explain("0 0 1 " + D32, "4 0 1 " + D32)
    assert r.returncode == 1
    assert "no usable record" in r.stdout


@pytest.mark.parametrize("bad", [
    "\\# 2 0301",          # RDATA of 2 octets: shorter than usage/selector/mtype
    "3 1",
    "3 1 1 abc",           # odd number of hex digits
    "3 1 1 zz",
    "256 1 1 00",
    "",
])
def test_malformed_record_is_a_one_line_error(bad):
    r = explain(bad)
    assert r.returncode == 65
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert "not a TLSA record" in r.stderr


def test_usage_errors():
    assert explain().returncode == 64
    assert explain("--bogus", "3 1 1 00").returncode == 64
    r = explain("-", stdin="")
    assert r.returncode == 65 and "no records" in r.stderr
