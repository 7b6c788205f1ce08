"""danemta tlsa create --connect HOST[:PORT]: records from a live server.

Against the test world's receivers (real smtpd.py peers, real DNSSEC DNS
served by nsd and validated by libunbound), and against TLS servers this
file starts itself: `openssl s_server` for a bare TLS port, and a small
Python implicit-TLS SMTP server for port 465 (smtpd.py speaks STARTTLS
only).  The records must equal what `tlsa create` makes from the world's
certificate files and what is published in DNS (read with dig through the
world's validating resolver).

Run: unshare --net -- sh -c 'ip link set lo up && DANEMTA_BUILD=build-x \
     /usr/bin/python3 -m pytest -q -p no:cacheprovider \
     tests/integration/test_tlsa_connect.py'
"""

import json
import socket
import ssl
import subprocess
import threading
import time

import pytest

EX_USAGE, EX_NOHOST, EX_UNAVAILABLE = 64, 68, 69

# Addresses outside the world's 127.0.0.x and 127.0.1.x.
S_SERVER_ADDR = "127.0.9.1"
IMPLICIT_ADDR = "127.0.9.2"


def published(world, owner):
    """The TLSA RRset at owner as 'u s m hex' strings, from the world's
    validating resolver (dig +short splits and upper-cases the hex)."""
    addr, port = world.info["resolver"].split("@")
    out = subprocess.run(["dig", "+short", "+dnssec", "-p", port, "@" + addr, owner,
                          "TLSA"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    recs = []
    for ln in out.splitlines():
        p = ln.split()
        if len(p) >= 4 and p[0].isdigit() and p[3] != "TLSA":
            recs.append("%s %s %s %s" % (p[0], p[1], p[2], "".join(p[3:]).lower()))
    return sorted(recs)


def create(danemta, world, *args, timeout=60):
    return danemta("tlsa", "create", *args, "--unbound-config", world.unbound_conf,
                   timeout=timeout)


def rdata_lines(out):
    """'u s m hex' of each zone-file line, comments left out."""
    return [" ".join(ln.split()[-4:]) for ln in out.splitlines()
            if ln and not ln.startswith(";")]


def file_records(danemta, *args):
    r = danemta("tlsa", "create", *args)
    assert r.returncode == 0, r.stderr
    return rdata_lines(r.stdout)


def one_line_error(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("danemta: tlsa create: ")
    return lines[0]


def test_leaf_record_equals_dns_and_certificate_file(world, danemta):
    r = create(danemta, world, "--connect", "mx1.good.test")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    owner = "_25._tcp.mx1.good.test."
    assert lines[0].startswith(owner + " IN TLSA 3 1 1 ")
    rdata = rdata_lines(r.stdout)
    assert rdata == published(world, owner)
    assert rdata == file_records(danemta, world.cert_path("good"))


def test_address_literal_json_and_selector(world, danemta):
    addr = world.receiver("good")["address"]
    r = create(danemta, world, "--connect", addr + ":25", "--json", "-s", "cert")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["owner"] is None and j["port"] == 25
    assert [x["rdata"] for x in j["records"]] == \
        file_records(danemta, "-s", "0", world.cert_path("good"))
    assert j["records"][0]["subject"] == "CN=mx1.good.test"
    assert any("3 0 x" in w for w in j["warnings"])
    # --host names the owner for an address
    r = create(danemta, world, "--connect", addr, "--host", "mx1.good.test", "--ttl", "300")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("_25._tcp.mx1.good.test. 300 IN TLSA 3 1 1 ")


def test_sni_selects_the_certificate(world, danemta):
    # r01-sni picks its certificate by SNI; only the SNI=mx1 one is in DNS.
    rc = world.receiver("r01-sni")
    owner = "_25._tcp.%s." % rc["hostname"]
    by_name = create(danemta, world, "--connect", rc["hostname"])
    assert by_name.returncode == 0, by_name.stderr
    assert rdata_lines(by_name.stdout) == published(world, owner)
    by_addr = create(danemta, world, "--connect", rc["address"], "--sni", rc["hostname"])
    assert rdata_lines(by_addr.stdout) == rdata_lines(by_name.stdout)
    no_sni = create(danemta, world, "--connect", rc["address"])
    assert no_sni.returncode == 0, no_sni.stderr
    assert rdata_lines(no_sni.stdout) != rdata_lines(by_name.stdout)


def test_ta_gives_the_published_issuer_record(world, danemta):
    r = create(danemta, world, "--connect", "mx1.r35-ta-issuer.test", "--ta")
    assert r.returncode == 0, r.stderr
    recs = rdata_lines(r.stdout)
    chain = world.certs / "r35-ta-issuer.chain.pem"
    assert recs == file_records(danemta, "--ta", chain)
    assert all(x.startswith("2 0 1 ") for x in recs) and len(recs) >= 1
    pub = published(world, "_25._tcp.mx1.r35-ta-issuer.test.")
    assert pub and set(pub) <= set(recs), (pub, recs)
    # a server that sends only its own (self-signed) certificate has no
    # issuer to give
    r = create(danemta, world, "--connect", "mx1.r03-selfsigned.test", "--ta")
    assert r.returncode == 65
    assert "no issuer" in one_line_error(r)


def test_next_with_connect_matches_the_rollover_rrset(world, danemta):
    r = create(danemta, world, "--connect", "mx1.v-roll-ok.test",
               "--next", world.cert_path("v-roll-ok-next"))
    assert r.returncode == 0, r.stderr
    assert "; current: CN=" in r.stdout and "; next: " in r.stdout
    assert sorted(rdata_lines(r.stdout)) == published(world, "_25._tcp.mx1.v-roll-ok.test.")


def test_port_in_target_names_the_owner(world, danemta):
    rc = world.receiver("r24")
    assert rc["port"] == 2525
    # not 25 or 587: say that the server speaks SMTP first
    r = create(danemta, world, "--connect", "%s:2525" % rc["hostname"],
               "--starttls", "smtp")
    assert r.returncode == 0, r.stderr
    owner = "_2525._tcp.%s." % rc["hostname"]
    assert r.stdout.startswith(owner + " IN TLSA ")
    assert rdata_lines(r.stdout) == published(world, owner)
    # --port sets the port to connect to (and the owner) when HOST has none
    r2 = create(danemta, world, "--connect", rc["hostname"], "--port", "2525",
                "--starttls", "smtp")
    assert r2.stdout == r.stdout
    # implicit TLS by default on 2525: a clear error with the hint
    r3 = create(danemta, world, "--connect", "%s:2525" % rc["hostname"], "--timeout", "5")
    assert r3.returncode == EX_UNAVAILABLE
    line = one_line_error(r3)
    assert "TLS handshake failed" in line and "--starttls smtp" in line


def test_silent_server_times_out(world, danemta):
    t0 = time.monotonic()
    r = create(danemta, world, "--connect", "mx1.v-silent.test", "--timeout", "2")
    elapsed = time.monotonic() - t0
    assert r.returncode == EX_UNAVAILABLE
    assert r.stdout == ""
    line = one_line_error(r)
    assert "mx1.v-silent.test:25" in line and "timeout during the greeting" in line
    assert 1.5 < elapsed < 10


def test_starttls_hidden_is_an_error(world, danemta):
    r = create(danemta, world, "--connect", "mx1.r47-no-starttls.test")
    assert r.returncode == EX_UNAVAILABLE
    assert r.stdout == ""
    line = one_line_error(r)
    assert "STARTTLS not offered" in line and "--starttls none" in line


def test_starttls_refused_is_an_error(world, danemta):
    r = create(danemta, world, "--connect", "mx1.r47-starttls-454.test")
    assert r.returncode == EX_UNAVAILABLE
    assert "STARTTLS refused: 454" in one_line_error(r)


def test_unknown_host_and_closed_port(world, danemta):
    r = create(danemta, world, "--connect", "nosuch.good.test")
    assert r.returncode == EX_NOHOST
    assert "NXDOMAIN" in one_line_error(r)
    r = create(danemta, world, "--connect", "%s:26" % world.receiver("good")["address"])
    assert r.returncode == EX_UNAVAILABLE
    assert "connect to [" in one_line_error(r)


def wait_listening(addr, port, proc=None, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("server exited: %s" % proc.stderr.read())
        try:
            with socket.create_connection((addr, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on %s:%d" % (addr, port))


@pytest.fixture
def s_server(world, tmp_path):
    """openssl s_server on S_SERVER_ADDR:4433: TLS at once, no SMTP,
    presenting the r35 leaf and its issuers."""
    certs = world.certs
    port = 4433
    # -cert_chain takes the certificates sent after the leaf
    pem = (certs / "r35-ta-issuer.chain.pem").read_text()
    end = "-----END CERTIFICATE-----\n"
    issuers = tmp_path / "issuers.pem"
    issuers.write_text("".join(c + end for c in pem.split(end)[1:] if c.strip()))
    # -naccept 2: one probe from wait_listening, one danemta connection
    p = subprocess.Popen(["openssl", "s_server", "-accept", "%s:%d" % (S_SERVER_ADDR, port),
                          "-cert", str(certs / "r35-ta-issuer.crt"),
                          "-key", str(certs / "r35-ta-issuer.key"),
                          "-cert_chain", str(issuers),
                          "-naccept", "2", "-quiet"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(S_SERVER_ADDR, port, p)
        yield port
    finally:
        p.kill()
        p.wait(timeout=10)


def test_tls_only_port(world, danemta, s_server):
    target = "%s:%d" % (S_SERVER_ADDR, s_server)
    r = create(danemta, world, "--connect", target, "--host", "mx1.r35-ta-issuer.test",
               "--ta", "--timeout", "10")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("; current issuer 1: ")
    assert "_4433._tcp.mx1.r35-ta-issuer.test. IN TLSA 2 0 1 " in r.stdout
    assert rdata_lines(r.stdout) == file_records(
        danemta, "--ta", world.certs / "r35-ta-issuer.chain.pem")


def test_starttls_against_a_tls_port_fails(world, danemta, s_server):
    # s_server answers no greeting in plaintext: --starttls smtp must fail
    # within the timeout and say so.
    target = "%s:%d" % (S_SERVER_ADDR, s_server)
    r = create(danemta, world, "--connect", target, "--starttls", "smtp", "--timeout", "2")
    assert r.returncode == EX_UNAVAILABLE
    one_line_error(r)


class ImplicitSmtp(threading.Thread):
    """An RFC 8314 implicit-TLS SMTP server for one connection: TLS, 220,
    EHLO, QUIT; records the commands it got."""

    def __init__(self, addr, port, cert, key):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.create_server((addr, port))
        self.sock.settimeout(30)
        self.commands = []
        self.error = None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(30)
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                f = tls.makefile("rwb", buffering=0)
                tls.sendall(b"220 mx.implicit.test ESMTP ready\r\n")
                for line in f:
                    cmd = line.decode().strip()
                    self.commands.append(cmd.split()[0].upper())
                    if cmd.upper().startswith("EHLO"):
                        tls.sendall(b"250-mx.implicit.test\r\n250 8BITMIME\r\n")
                    elif cmd.upper() == "QUIT":
                        tls.sendall(b"221 bye\r\n")
                        break
                    else:
                        tls.sendall(b"502 no\r\n")
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.sock.close()


def test_implicit_tls_on_465_speaks_smtp(world, danemta):
    srv = ImplicitSmtp(IMPLICIT_ADDR, 465, world.cert_path("good"),
                       world.certs / "good.key")
    srv.start()
    r = create(danemta, world, "--connect", "%s:465" % IMPLICIT_ADDR,
               "--host", "mx1.good.test", "--timeout", "10")
    srv.join(timeout=30)
    assert r.returncode == 0, r.stderr
    assert srv.error is None, srv.error
    assert srv.commands == ["EHLO", "QUIT"]
    assert r.stdout.startswith("_465._tcp.mx1.good.test. IN TLSA 3 1 1 ")
    assert rdata_lines(r.stdout) == file_records(danemta, world.cert_path("good"))


@pytest.mark.parametrize("args,needle", [
    (["--connect", "mx:0"], "--connect"),
    (["--connect", "mx_1.test"], "--connect"),
    (["--connect", "[::1"], "--connect"),
    (["--connect", ""], "--connect"),
    (["--connect", "mx.test", "some.crt"], "no input file"),
    (["--connect", "mx.test", "--starttls", "tls"], "--starttls"),
    (["--connect", "mx.test", "--timeout", "0"], "--timeout"),
    (["--connect", "mx.test", "--timeout", "601"], "--timeout"),
    (["--connect", "mx.test", "--sni", "bad name"], "--sni"),
    (["--connect", "mx.test", "--resolver", "not-an-address"], "--resolver"),
    (["--starttls", "none", "x.crt"], "need"),
    (["--sni", "mx.test", "x.crt"], "need"),
    (["--timeout", "5", "x.crt"], "need"),
])
def test_usage_errors(danemta, args, needle):
    r = danemta("tlsa", "create", *args)
    assert r.returncode == EX_USAGE, r.stderr
    assert needle in r.stderr.splitlines()[0]
    assert r.stdout == ""
