"""Postfix's posttls-finger as an independent oracle for `danemta check`.

For every domain of tests/world/matrix.json, posttls-finger (-c: no mail,
-l dane or dane-only, -L summary) runs inside tests/world/with-resolver, so
that it resolves through the world's validating unbound, and reports each
TLS connection it made as Verified / Trusted / Untrusted / Anonymous.  For
every address it reached, `danemta check --json` on the same domain must
agree on "DANE-authenticated or not"; when posttls-finger made no TLS
connection at all, danemta must not report an authenticated session at
the first host it would have used.

Legitimate differences (each is explained in DIFFERS and asserted to be
exactly that difference, so a change on either side is noticed):
  * Postfix applies DANE to MX hosts of an insecure MX RRset on its own
    (it logs "MX RRset insecure: log verified as trusted"), so danemta runs
    here with --dane-insecure-mx throughout;
  * with an insecure MX, Postfix still accepts the next-hop domain as a
    DANE-TA reference identifier; RFC 7672 §3.2.2 allows only the MX host
    name there, so danemta refuses r43 and Postfix calls it "Trusted";
  * audit mode (row 49) has no posttls-finger equivalent: both run in
    enforcing mode.
"""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import WORLD_DIR, load_matrix

# A dropped query (rows 6 and 20, "timeout") makes the world's unbound
# daemon hold its forwarder as unresponsive for a while, and lookups then
# fail with "try again": run those rows last, and retry a temporary DNS
# failure where danemta's own resolver found hosts.
MATRIX = sorted(load_matrix(), key=lambda e: "timeout" in e["domain"])
PF = shutil.which("posttls-finger") or "/usr/sbin/posttls-finger"
LINE = re.compile(r"(Verified|Trusted|Untrusted|Anonymous) TLS connection "
                  r"established to ([^\[\s]+)\[([0-9a-fA-F.:]+)\]:(\d+)")

# domain -> (posttls-finger's view, danemta's view) of the first address.
DIFFERS = {
    "r43-ta-insecure-mx.test": (True, False),
}

pytestmark = pytest.mark.skipif(not os.access(PF, os.X_OK),
                                reason="posttls-finger (Debian package postfix) "
                                       "is not installed")


def posttls_finger(world, entry):
    d = entry["delivery"]
    level = "dane-only" if (d.get("options") or {}).get("policy") == "dane-only" \
        else "dane"
    dest = entry["domain"]
    if d.get("port"):
        dest += ":%d" % d["port"]
    env = dict(os.environ, DANEMTA_WORLD=str(world.state))
    try:
        r = subprocess.run([str(WORLD_DIR / "with-resolver"), PF, "-c", "-l", level,
                            "-L", "summary", dest], capture_output=True, text=True,
                           timeout=90, env=env)
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() + (e.stderr or b"").decode()
    seen = {}
    for m in LINE.finditer(out):
        seen.setdefault(m.group(3), m.group(1) in ("Verified", "Trusted"))
    return seen, out


def danemta_check(world, danemta, entry):
    d = entry["delivery"]
    args = ["check", "--json", "--timeout", "10", "--unbound-config",
            world.unbound_conf, "--dane-insecure-mx"]
    if (d.get("options") or {}).get("policy"):
        args += ["--policy", d["options"]["policy"]]
    if d.get("port"):
        args += ["--port", str(d["port"])]
    r = danemta(*args, entry["domain"], timeout=120)
    return json.loads(r.stdout.splitlines()[0])


@pytest.mark.parametrize("entry", MATRIX, ids=[e["domain"] for e in MATRIX])
def test_agrees_with_posttls_finger(world, danemta, entry):
    o = danemta_check(world, danemta, entry)
    seen, raw = posttls_finger(world, entry)
    for _ in range(10):
        if seen or "try again" not in raw or not o["hosts"]:
            break
        time.sleep(1)
        seen, raw = posttls_finger(world, entry)
    ours = {a["address"]: a["result"] == "dane-authenticated"
            for h in o["hosts"] for a in h["addresses"]}
    if entry["domain"] in DIFFERS:
        pf_view, our_view = DIFFERS[entry["domain"]]
        (addr, auth), = seen.items()
        assert auth == pf_view and ours[addr] == our_view, raw
        return
    for addr, auth in seen.items():
        assert addr in ours, (addr, ours, raw)
        assert ours[addr] == auth, (addr, o["hosts"], raw)
    if not seen:
        # posttls-finger made no TLS connection (DNS failure, no STARTTLS,
        # handshake failure, dane-only refusal): nor did danemta
        # authenticate at the first usable host.
        first = next((h for h in o["hosts"] if h["addresses"]), None)
        if first is not None:
            assert not any(a["result"] == "dane-authenticated"
                           for a in first["addresses"]), (first, raw)
