"""The EHLO name: this host's name when it is fully qualified, else
localhost (RFC 5321 §4.1.1.1); --helo overrides.  The host name is set in a
private UTS namespace (unshare --uts), so the machine's own is untouched."""
import json
import subprocess
from pathlib import Path

import pytest

from conftest import danemta_bin


def send_with_hostname(world, hostname, *extra):
    msg = b"From: a@client.test\r\nTo: postmaster@good.test\r\n\r\nhelo test\r\n"
    script = 'hostname "$0" && exec "$@"'
    cmd = ["unshare", "--uts", "sh", "-c", script, hostname, danemta_bin(),
           "send", "--unbound-config", world.unbound_conf,
           "--from", "a@client.test", "--to", "postmaster@good.test", *extra, "-"]
    r = subprocess.run(cmd, input=msg, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    newest = max(world.mail("good"), key=lambda p: p.stat().st_mtime_ns)
    return json.loads(newest.with_suffix(".json").read_text())["helo"]


@pytest.mark.parametrize("hostname, helo", [
    ("relay.client.test", "relay.client.test"),
    ("vm", "localhost"),             # not qualified
])
def test_default_ehlo_name(world, hostname, helo):
    assert send_with_hostname(world, hostname) == helo


def test_helo_option_wins(world):
    assert send_with_hostname(world, "relay.client.test",
                              "--helo", "mx.sender.test") == "mx.sender.test"
