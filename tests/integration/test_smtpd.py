"""Tests of tests/world/smtpd.py, the world's scriptable SMTP receivers.

Self-contained: it does not use the world fixture. The module fixture "srv"
starts smtpd.py itself on 127.0.9.x with certificates made by the openssl CLI
in a temporary directory, and talks to it with real clients (smtplib, raw sockets, swaks, openssl
s_client). Run with /usr/bin/python3 -m pytest tests/integration/test_smtpd.py
"""

import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SMTPD = os.path.join(HERE, "..", "world", "smtpd.py")
PYTHON = "/usr/bin/python3"
ADDRS = {"plain": "127.0.9.1", "tls": "127.0.9.2", "ovr": "127.0.9.3", "scratch": "127.0.9.4"}
HOST = "mx1.dane.test"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, an intermediate, a leaf for mx1.dane.test under the intermediate
    (chain = leaf + intermediate), and a self-signed leaf for other.test."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=smtpd test CA", cwd=d)
    (d / "ca.ext").write_text("basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n")
    openssl("req", "-new", *ec, "-keyout", "int.key", "-out", "int.csr",
            "-subj", "/CN=smtpd test intermediate", cwd=d)
    openssl("x509", "-req", "-in", "int.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ca.ext", "-out", "int.pem", cwd=d)
    (d / "leaf.ext").write_text("subjectAltName=DNS:%s\n" % HOST)
    openssl("req", "-new", *ec, "-keyout", "mx1.key", "-out", "mx1.csr",
            "-subj", "/CN=" + HOST, cwd=d)
    openssl("x509", "-req", "-in", "mx1.csr", "-CA", "int.pem", "-CAkey", "int.key",
            "-CAcreateserial", "-days", "2", "-extfile", "leaf.ext", "-out", "mx1.pem", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
            "-subj", "/CN=other.test", "-addext", "subjectAltName=DNS:other.test", cwd=d)
    chain = (d / "mx1.pem").read_text() + (d / "int.pem").read_text()
    (d / "chain.pem").write_text(chain)
    return d


def free_port():
    """A port free on every address the module uses."""
    for _ in range(50):
        s = socket.socket()
        s.bind((ADDRS["plain"], 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for a in ADDRS.values():
            t = socket.socket()
            try:
                t.bind((a, port))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return port
    raise RuntimeError("no free port")


def start_smtpd(base, receivers):
    cfg = base / "smtpd.json"
    cfg.write_text(json.dumps({"receivers": receivers}))
    pidfile = base / "smtpd.pid"
    logf = base / "smtpd.log"
    proc = subprocess.Popen([PYTHON, SMTPD, "--config", str(cfg), "--pidfile", str(pidfile),
                             "--log", str(logf)])
    end = time.time() + 15
    while not pidfile.exists():
        if proc.poll() is not None or time.time() > end:
            proc.kill()
            raise RuntimeError("smtpd did not start: " + logf.read_text())
        time.sleep(0.05)
    assert int(pidfile.read_text()) == proc.pid
    return proc, pidfile, logf


def stop_smtpd(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


class World:
    def __init__(self, base, port, pki):
        self.base = base
        self.port = port
        self.pki = pki

    def dir(self, name):
        return self.base / name

    def addr(self, name):
        return (ADDRS[name], self.port)

    def set_behaviour(self, name, b):
        p = self.dir(name) / "behaviour.json"
        tmp = self.dir(name) / ".behaviour.tmp"
        tmp.write_text(json.dumps(b))
        os.rename(tmp, p)

    def clear_behaviour(self, name):
        try:
            os.unlink(self.dir(name) / "behaviour.json")
        except FileNotFoundError:
            pass

    def mails(self, name):
        d = self.dir(name) / "mail"
        return sorted(int(f[:-4]) for f in os.listdir(d) if f.endswith(".eml"))

    def session(self, name, local_port, timeout=10):
        """The sessions.log record of the connection from local_port."""
        end = time.time() + timeout
        p = self.dir(name) / "sessions.log"
        while time.time() < end:
            if p.exists():
                for line in p.read_text().splitlines():
                    rec = json.loads(line)
                    if rec["peer"].endswith(":%d" % local_port):
                        return rec
            time.sleep(0.02)
        raise AssertionError("no session from port %d in %s" % (local_port, p))


@pytest.fixture(scope="module")
def srv(tmp_path_factory, pki):
    base = tmp_path_factory.mktemp("smtpd")
    port = free_port()
    chain = (pki / "chain.pem").read_text()
    key = (pki / "mx1.key").read_text()
    sni = {"other.test": {"cert": str(pki / "other.pem"), "key": str(pki / "other.key")}}
    receivers = [
        {"name": "plain", "address": ADDRS["plain"], "port": port, "hostname": HOST,
         "starttls": False, "dir": str(base / "plain"), "behaviour": {}},
        {"name": "tls", "address": ADDRS["tls"], "port": port, "hostname": HOST,
         "starttls": True, "cert": chain, "key": key, "sni": sni, "dir": str(base / "tls")},
        {"name": "ovr", "address": ADDRS["ovr"], "port": port, "hostname": HOST,
         "starttls": True, "cert": chain, "key": str(pki / "mx1.key"),
         "dir": str(base / "ovr"), "behaviour": {"helo_only": True}},
        {"name": "scratch", "address": ADDRS["scratch"], "port": port, "hostname": HOST,
         "starttls": True, "cert": chain, "key": key, "dir": str(base / "scratch")},
    ]
    proc, _, logf = start_smtpd(base, receivers)
    w = World(base, port, pki)
    w.log = logf
    yield w
    rc = stop_smtpd(proc)
    assert rc == 0, logf.read_text()


@pytest.fixture
def scratch(srv):
    """The scratch receiver; each test sets its behaviour.json."""
    yield srv
    srv.clear_behaviour("scratch")


def client_ctx(pki):
    return ssl.create_default_context(cafile=str(pki / "ca.pem"))


MESSAGE = (b"From: a@sender.test\r\nTo: b@dane.test\r\nSubject: hi\r\n\r\n"
           b"line one\r\n.starts with a dot\r\n..two dots\r\n\xc3\xa9 8bit\r\nlast\r\n")


def test_message_stored_with_sidecar(srv):
    s = smtplib.SMTP(*srv.addr("plain"), local_hostname="client.test")
    lport = s.sock.getsockname()[1]
    code, ehlo = s.ehlo()
    assert code == 250
    assert b"PIPELINING" in ehlo and b"SIZE 10485760" in ehlo and b"8BITMIME" in ehlo
    assert b"ENHANCEDSTATUSCODES" in ehlo and b"STARTTLS" not in ehlo
    before = srv.mails("plain")
    s.sendmail("a@sender.test", ["b@dane.test", "c@dane.test"], MESSAGE)
    s.quit()
    new = [n for n in srv.mails("plain") if n not in before]
    assert len(new) == 1
    d = srv.dir("plain") / "mail"
    # smtplib dot-stuffs; the server unstuffs: the stored bytes are the message
    assert (d / ("%d.eml" % new[0])).read_bytes() == MESSAGE
    side = json.loads((d / ("%d.json" % new[0])).read_text())
    assert side["mail_from"] == "a@sender.test"
    assert side["rcpt_tos"] == ["b@dane.test", "c@dane.test"]
    assert side["helo"] == "client.test"
    assert side["tls"] is False and side["tls_version"] is None and side["sni"] is None
    rec = srv.session("plain", lport)
    assert rec["commands"] == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]
    assert rec["outcome"] == "quit" and rec["bytes_tls"] == 0
    # raw DATA bytes: two lines were dot-stuffed on the wire, ".\r\n" not counted
    assert rec["data_bytes"] == len(MESSAGE) + 2
    assert rec["bytes_plain"] > rec["data_bytes"]


def test_starttls_right_cert_with_swaks(srv, pki):
    """swaks delivers over STARTTLS, verifying the chain against the CA."""
    before = srv.mails("tls")
    r = subprocess.run(
        ["swaks", "--server", ADDRS["tls"], "--port", str(srv.port),
         "--from", "a@sender.test", "--to", "b@dane.test", "--helo", "swaks.test",
         "--tls", "--tls-verify", "--tls-ca-path", str(pki / "ca.pem"),
         "--tls-sni", HOST, "--body", "hello over TLS"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS started" in r.stdout
    assert "CN=" + HOST in r.stdout
    new = [n for n in srv.mails("tls") if n not in before]
    assert len(new) == 1
    side = json.loads((srv.dir("tls") / "mail" / ("%d.json" % new[0])).read_text())
    assert side["tls"] is True and side["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert side["sni"] == HOST and side["cipher"]
    body = (srv.dir("tls") / "mail" / ("%d.eml" % new[0])).read_bytes()
    assert b"hello over TLS\r\n" in body


def test_starttls_sends_whole_chain(srv, pki):
    """openssl s_client sees leaf + intermediate and verifies to the CA."""
    r = subprocess.run(
        ["openssl", "s_client", "-connect", "%s:%d" % srv.addr("tls"), "-starttls", "smtp",
         "-servername", HOST, "-showcerts", "-CAfile", str(pki / "ca.pem"),
         "-verify_hostname", HOST, "-verify_return_error"],
        input=b"QUIT\r\n", capture_output=True, timeout=30)
    out = r.stdout.decode("latin-1")
    assert r.returncode == 0, out + r.stderr.decode("latin-1")
    assert out.count("-----BEGIN CERTIFICATE-----") == 2
    assert "Verify return code: 0 (ok)" in out


def tls_session(srv, pki, name, servername):
    s = smtplib.SMTP(*srv.addr(name), local_hostname="client.test")
    lport = s.sock.getsockname()[1]
    ctx = client_ctx(pki)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.ehlo()
    # smtplib passes its host as server_hostname; aim SNI where we want it
    s._host = servername
    code, _ = s.starttls(context=ctx)
    assert code == 220
    der = s.sock.getpeercert(binary_form=True)
    version = s.sock.version()
    s.ehlo()
    s.quit()
    cert = ssl.DER_cert_to_PEM_cert(der)
    return cert, version, srv.session(name, lport)


def subject_cn(pem, tmp_path):
    p = tmp_path / "peer.pem"
    p.write_text(pem)
    r = subprocess.run(["openssl", "x509", "-in", str(p), "-noout", "-subject"],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def test_sni_selects_certificate(srv, pki, tmp_path):
    cert, _, rec = tls_session(srv, pki, "tls", "other.test")
    assert "CN = other.test" in subject_cn(cert, tmp_path)
    assert rec["sni"] == "other.test"
    assert rec["commands"] == ["EHLO", "STARTTLS", "EHLO", "QUIT"]
    cert, _, rec = tls_session(srv, pki, "tls", "unknown.test")
    assert "CN = " + HOST in subject_cn(cert, tmp_path)
    assert rec["sni"] == "unknown.test"
    # no SNI at all (an IP literal is never sent as SNI): the default cert
    cert, _, rec = tls_session(srv, pki, "tls", ADDRS["tls"])
    assert "CN = " + HOST in subject_cn(cert, tmp_path)
    assert rec["sni"] is None
    assert rec["tls"] is True and rec["bytes_tls"] > 0 and rec["outcome"] == "quit"


def test_tls_versions_1_2_and_1_3(srv, pki):
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        s = smtplib.SMTP(*srv.addr("tls"))
        ctx = client_ctx(pki)
        ctx.minimum_version = ctx.maximum_version = v
        s._host = HOST
        s.ehlo()
        s.starttls(context=ctx)
        assert s.sock.version() == v.name.replace("_", ".")
        s.quit()


def test_hide_starttls(scratch, pki):
    scratch.set_behaviour("scratch", {"hide_starttls": True})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    code, ehlo = s.ehlo()
    assert code == 250 and b"STARTTLS" not in ehlo and b"PIPELINING" in ehlo
    code, _ = s.docmd("STARTTLS")
    assert code == 502
    s.quit()


def test_starttls_reply(scratch):
    scratch.set_behaviour("scratch", {"starttls_reply": "454 4.7.0 TLS not available"})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    lport = s.sock.getsockname()[1]
    code, ehlo = s.ehlo()
    assert b"STARTTLS" in ehlo
    code, msg = s.docmd("STARTTLS")
    assert (code, msg) == (454, b"4.7.0 TLS not available")
    # still in plaintext, the session goes on
    assert s.noop()[0] == 250
    s.quit()
    rec = scratch.session("scratch", lport)
    assert rec["tls"] is False and rec["bytes_tls"] == 0


@pytest.mark.parametrize("mode", [True, "alert", "close"])
def test_tls_fail(scratch, pki, mode):
    scratch.set_behaviour("scratch", {"tls_fail": mode})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    lport = s.sock.getsockname()[1]
    s.ehlo()
    s._host = HOST
    with pytest.raises((ssl.SSLError, ConnectionError, smtplib.SMTPServerDisconnected)):
        s.starttls(context=client_ctx(pki))
    s.close()
    rec = scratch.session("scratch", lport)
    assert rec["outcome"] == "tls-fail" and rec["tls"] is False and rec["bytes_tls"] == 0
    assert rec["commands"] == ["EHLO", "STARTTLS"]


def test_reply_at_stage(scratch):
    scratch.set_behaviour("scratch", {"reply": {
        "rcpt": "451 4.3.0 try later",
        "mail": "250-2.1.0 first line\nsecond line\n250 third line"}})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    s.ehlo()
    s.sock.sendall(b"MAIL FROM:<a@sender.test>\r\n")
    raw = b""
    while not raw.endswith(b"250 third line\r\n"):
        chunk = s.sock.recv(4096)
        assert chunk
        raw += chunk
    assert raw == b"250-2.1.0 first line\r\n250-second line\r\n250 third line\r\n"
    code, msg = s.rcpt("b@dane.test")
    assert (code, msg) == (451, b"4.3.0 try later")
    # the recipient was not taken: DATA has nobody to deliver to
    assert s.docmd("DATA")[0] == 554
    s.quit()


def test_greeting_5xx_then_503_until_quit(scratch):
    scratch.set_behaviour("scratch", {"reply": {"greeting": "554 5.3.2 no service"}})
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP(*scratch.addr("scratch"))
    assert e.value.smtp_code == 554
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    f = c.makefile("rb")
    assert f.readline().startswith(b"554 ")
    c.sendall(b"EHLO x\r\nQUIT\r\n")
    assert f.readline().startswith(b"503 ")
    assert f.readline().startswith(b"221 ")
    c.close()


def test_421_closes(scratch):
    scratch.set_behaviour("scratch", {"reply": {"mail": "421 4.3.2 shutting down"}})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    lport = s.sock.getsockname()[1]
    s.ehlo()
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("a@sender.test", ["b@dane.test"], MESSAGE)
    assert e.value.smtp_code == 421
    assert scratch.session("scratch", lport)["outcome"] == "closed-421"


def test_rcpt_reject_and_helo_only(scratch):
    scratch.set_behaviour("scratch", {"helo_only": True,
                                      "rcpt_reject": {"No@Dane.test": "550 5.1.1 no such user"}})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    assert s.ehlo()[0] == 502
    assert s.helo("client.test")[0] == 250
    assert s.mail("a@sender.test")[0] == 250
    assert s.rcpt("no@dane.test") == (550, b"5.1.1 no such user")
    assert s.rcpt("yes@dane.test")[0] == 250
    s.quit()


def test_drop_in_data(scratch):
    scratch.set_behaviour("scratch", {"drop_in_data": {"after_bytes": 10}})
    before = scratch.mails("scratch")
    s = smtplib.SMTP(*scratch.addr("scratch"))
    lport = s.sock.getsockname()[1]
    s.ehlo()
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        s.sendmail("a@sender.test", ["b@dane.test"], MESSAGE)
    s.close()
    rec = scratch.session("scratch", lport)
    assert rec["outcome"] == "dropped-in-data"
    assert rec["data_bytes"] >= 10
    assert rec["commands"] == ["EHLO", "MAIL", "RCPT", "DATA"]
    assert scratch.mails("scratch") == before


def test_behaviour_json_overrides_config(srv):
    # the config says helo_only
    s = smtplib.SMTP(*srv.addr("ovr"))
    assert s.ehlo()[0] == 502
    s.quit()
    srv.set_behaviour("ovr", {})
    try:
        s = smtplib.SMTP(*srv.addr("ovr"))
        code, ehlo = s.ehlo()
        assert code == 250 and b"STARTTLS" in ehlo
        s.quit()
        # malformed behaviour.json: the config's behaviour applies again
        (srv.dir("ovr") / "behaviour.json").write_text("{not json")
        s = smtplib.SMTP(*srv.addr("ovr"))
        assert s.ehlo()[0] == 502
        s.quit()
    finally:
        srv.clear_behaviour("ovr")


def read_all(sock, limit=None, timeout=10):
    sock.settimeout(timeout)
    out = bytearray()
    n = 0
    while True:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        n += 1
        out += b
        if limit is not None and len(out) >= limit:
            break
    return bytes(out), n


def test_raw_sends_exact_bytes(scratch):
    raw = "220\u0000 nul\r\n99 bad code\r\n"
    scratch.set_behaviour("scratch", {"raw": {"greeting": raw, "quit": "\u0000\u00ff"}})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    want = raw.encode("latin-1")
    got = b""
    while len(got) < len(want):
        got += c.recv(100)
    assert got == want
    c.sendall(b"QUIT\r\n")
    data, _ = read_all(c)
    assert data == b"\x00\xff"
    c.close()


def test_flood_lines_stops_by_itself(scratch):
    scratch.set_behaviour("scratch", {"flood_lines": {"stage": "ehlo", "bytes": 300000}})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    c.recv(1000)
    c.sendall(b"EHLO client.test\r\n")
    data, _ = read_all(c)
    c.close()
    assert len(data) >= 300000 and len(data) < 300000 + 1000
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert all(l.startswith(b"250-") for l in lines[:-1])
    assert scratch.session("scratch", lport)["outcome"] == "flood"


def test_flood_lines_until_client_hangs_up(scratch):
    scratch.set_behaviour("scratch", {"flood_lines": {"stage": "greeting"}})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    data, _ = read_all(c, limit=2_000_000)
    assert data.startswith(b"250-xxx")
    c.close()
    rec = scratch.session("scratch", lport)
    assert rec["outcome"] == "flood"


@pytest.mark.parametrize("single", [False, True])
def test_big_reply(scratch, single):
    n = 3 * 1024 * 1024
    scratch.set_behaviour("scratch", {"big_reply": {"stage": "ehlo", "bytes": n,
                                                    "single_line": single}})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    c.recv(1000)
    c.sendall(b"EHLO client.test\r\n")
    data, _ = read_all(c, limit=n)
    c.close()
    assert len(data) == n
    lines = data.split(b"\r\n")[:-1]
    assert lines[-1].startswith(b"250 ")
    if single:
        assert len(lines) == 1
    else:
        assert all(l.startswith(b"250-") and len(l) <= 1004 for l in lines[:-1])


def test_byte_per_packet(scratch):
    scratch.set_behaviour("scratch", {"byte_per_packet": {"delay": 0.01}})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    want = b"220 %s ESMTP danemta test receiver\r\n" % HOST.encode()
    got = b""
    reads = 0
    while len(got) < len(want):
        b = c.recv(4096)
        assert b
        got += b
        reads += 1
    c.close()
    assert got == want
    # each byte is its own write with 10 ms between: nearly one recv per byte
    assert reads >= len(want) * 0.5


def test_close_at_every_stage(scratch):
    script = [b"EHLO c\r\n", b"MAIL FROM:<a@s.test>\r\n", b"RCPT TO:<b@d.test>\r\n",
              b"DATA\r\n", b"x\r\n.\r\n", b"QUIT\r\n"]
    stages = ["greeting", "ehlo", "mail", "rcpt", "data", "dot", "quit"]
    before = scratch.mails("scratch")
    for i, stage in enumerate(stages):
        scratch.set_behaviour("scratch", {"close_at": stage})
        c = socket.create_connection(scratch.addr("scratch"), timeout=10)
        lport = c.getsockname()[1]
        f = c.makefile("rb")
        replies = []
        for cmd in [None] + script[:i]:
            if cmd:
                c.sendall(cmd)
            line = f.readline()
            while line[3:4] == b"-":
                line = f.readline()
            replies.append(line)
        assert replies[-1] == b"", (stage, replies)
        assert all(r[:1] in b"23" and r for r in replies[:-1]), (stage, replies)
        c.close()
        assert scratch.session("scratch", lport)["outcome"] == "closed-at-" + stage
    # only the session closed at QUIT had its message accepted (250 after ".")
    assert len(scratch.mails("scratch")) == len(before) + 1


def test_stall(scratch):
    scratch.set_behaviour("scratch", {"stall": {"stage": "mail", "seconds": 1.0}})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    s.ehlo()
    t = time.monotonic()
    assert s.mail("a@sender.test")[0] == 250
    assert time.monotonic() - t >= 0.95
    s.quit()


def test_hostile_client_long_lines_and_garbage(scratch):
    scratch.set_behaviour("scratch", {})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    f = c.makefile("rb")
    f.readline()
    c.sendall(b"EHLO " + b"a" * 100000 + b"\r\n\x00\xff\r\nNOOP\r\n")
    assert f.readline().startswith(b"500 5.5.2")
    assert f.readline().startswith(b"500 ")
    assert f.readline().startswith(b"250 ")
    c.close()
    # the server is still serving
    s = smtplib.SMTP(*scratch.addr("scratch"))
    assert s.noop()[0] == 250
    s.quit()


def test_pipelined_plaintext_after_starttls_is_discarded(scratch, pki):
    """Bytes sent in the clear after STARTTLS never reach the TLS session
    (RFC 3207 section 4.2 / the STARTTLS command injection)."""
    scratch.set_behaviour("scratch", {})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    f = c.makefile("rb")
    f.readline()
    c.sendall(b"EHLO c\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    c.sendall(b"STARTTLS\r\nRSET\r\n")
    assert f.readline().startswith(b"220 ")
    t = client_ctx(pki).wrap_socket(c, server_hostname=HOST)
    t.sendall(b"QUIT\r\n")
    assert t.recv(100).startswith(b"221 ")
    t.close()
    rec = scratch.session("scratch", lport)
    assert rec["commands"] == ["EHLO", "STARTTLS", "QUIT"]
    assert rec["bytes_tls"] == len(b"QUIT\r\n")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_on_signal(tmp_path, pki, sig):
    port = free_port()
    r = [{"name": "one", "address": ADDRS["plain"], "port": port, "hostname": HOST,
          "starttls": True, "cert": str(pki / "chain.pem"), "key": str(pki / "mx1.key"),
          "dir": str(tmp_path / "one")},
         {"name": "two", "address": ADDRS["tls"], "port": port, "hostname": HOST,
          "dir": str(tmp_path / "two")}]
    proc, pidfile, logf = start_smtpd(tmp_path, r)
    # every listener is bound once the pidfile exists
    for a in (ADDRS["plain"], ADDRS["tls"]):
        socket.create_connection((a, port), timeout=5).close()
    # an idle open session must not hold up the shutdown
    idle = socket.create_connection((ADDRS["plain"], port), timeout=5)
    idle.recv(100)
    t = time.monotonic()
    assert stop_smtpd(proc, sig) == 0
    assert time.monotonic() - t < 8
    assert not pidfile.exists()
    assert idle.recv(100) == b""
    idle.close()
    for a in (ADDRS["plain"], ADDRS["tls"]):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((a, port), timeout=5)
    assert "stopped" in logf.read_text()
    recs = [json.loads(l) for l in (tmp_path / "one" / "sessions.log").read_text().splitlines()]
    assert recs[-1]["outcome"] == "shutdown"


def test_flood_time_limit_with_a_client_that_never_reads(scratch):
    scratch.set_behaviour("scratch", {"flood_lines": {"stage": "greeting", "seconds": 1}})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    rec = scratch.session("scratch", lport, timeout=8)  # ended without our reading
    assert rec["outcome"] == "flood"
    # the server reset the connection rather than wait to flush its buffer
    t = time.monotonic()
    read_all(c)
    assert time.monotonic() - t < 5
    c.close()


def test_size_limit(scratch):
    scratch.set_behaviour("scratch", {"size": 100})
    before = scratch.mails("scratch")
    s = smtplib.SMTP(*scratch.addr("scratch"))
    code, ehlo = s.ehlo()
    assert b"SIZE 100" in ehlo
    assert s.mail("a@sender.test", ["SIZE=101"])[0] == 552
    assert s.mail("a@sender.test")[0] == 250
    assert s.rcpt("b@dane.test")[0] == 250
    assert s.data(b"x" * 200 + b"\r\n")[0] == 552
    s.quit()
    assert scratch.mails("scratch") == before


def test_bind_failure_exits_without_pidfile(tmp_path, srv):
    # the port is taken by the module's server
    r = [{"name": "x", "address": ADDRS["plain"], "port": srv.port, "dir": str(tmp_path / "x")}]
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"receivers": r}))
    p = subprocess.run([PYTHON, SMTPD, "--config", str(cfg), "--pidfile", str(tmp_path / "pid"),
                        "--log", str(tmp_path / "log")], capture_output=True, timeout=30)
    assert p.returncode != 0
    assert not (tmp_path / "pid").exists()
    assert "address already in use" in (tmp_path / "log").read_text().lower()
    assert b"address already in use" in p.stderr.lower()


def test_pipelined_transaction_and_message_limit(scratch):
    scratch.set_behaviour("scratch", {"max_messages_per_connection": 1})
    before = scratch.mails("scratch")
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    f = c.makefile("rb")
    f.readline()
    c.sendall(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<b@d.test>\r\n"
              b"RCPT TO:<c@d.test>\r\nDATA\r\n")
    codes = []
    while len(codes) < 5:
        line = f.readline()
        if line[3:4] == b" ":
            codes.append(line[:3])
    assert codes == [b"250", b"250", b"250", b"250", b"354"]
    c.sendall(b"Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@s.test>\r\n")
    assert f.readline().startswith(b"250 2.0.0")
    assert f.readline().startswith(b"421 ")
    assert f.readline() == b""
    c.close()
    new = [n for n in scratch.mails("scratch") if n not in before]
    assert len(new) == 1
    side = json.loads((scratch.dir("scratch") / "mail" / ("%d.json" % new[0])).read_text())
    assert side["rcpt_tos"] == ["b@d.test", "c@d.test"]
    rec = scratch.session("scratch", lport)
    assert rec["messages"] == 1 and rec["outcome"] == "closed-421"


def test_reply_after_tls_only(scratch, pki):
    scratch.set_behaviour("scratch", {"reply": {"tls_ehlo": "554 5.7.1 not after TLS"}})
    s = smtplib.SMTP(*scratch.addr("scratch"))
    s._host = HOST
    assert s.ehlo()[0] == 250
    s.starttls(context=client_ctx(pki))
    assert s.ehlo() == (554, b"5.7.1 not after TLS")
    # no EHLO accepted after TLS: MAIL is out of sequence
    assert s.mail("a@sender.test")[0] == 503
    s.quit()


def test_client_breaking_the_handshake(scratch):
    scratch.set_behaviour("scratch", {})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    f = c.makefile("rb")
    f.readline()
    c.sendall(b"HELO c\r\nSTARTTLS\r\n")
    assert f.readline().startswith(b"250 ")
    assert f.readline().startswith(b"220 ")
    c.sendall(b"\x16\x03\x01\x00\x05hello, not a ClientHello\r\n")
    read_all(c)
    c.close()
    rec = scratch.session("scratch", lport)
    assert rec["outcome"] == "tls-handshake-failed" and rec["tls"] is False
    # the server goes on serving
    s = smtplib.SMTP(*scratch.addr("scratch"))
    assert s.noop()[0] == 250
    s.quit()


def test_idle_timeout(scratch):
    scratch.set_behaviour("scratch", {"timeout": 0.5})
    c = socket.create_connection(scratch.addr("scratch"), timeout=10)
    lport = c.getsockname()[1]
    data, _ = read_all(c)
    c.close()
    assert data.endswith(b"\r\n421 4.4.2 mx1.dane.test Error: timeout exceeded\r\n")
    assert scratch.session("scratch", lport)["outcome"] == "timeout"
