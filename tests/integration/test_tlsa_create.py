"""danemta tlsa create, checked against independent tools.

No world needed: RSA and ECDSA keys, certificates and a CA chain are made
with the openssl command in a temporary directory.  The records must equal
what the openssl pipelines of RFC 6698 give, hash-slinger's `tlsa --create`
and `ldns-dane create`; bad input must fail with one line and 64/65/66.

Run: DANEMTA_BIN=build-x/src/cli/danemta /usr/bin/python3 -m pytest -q \
     tests/integration/test_tlsa_create.py
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("DANEMTA_BIN", str(REPO / os.environ.get("DANEMTA_BUILD", "build")
                                         / "src" / "cli" / "danemta"))
HOST = "mx.example.test"
OWNER = "_25._tcp.mx.example.test."

EX_USAGE, EX_DATAERR, EX_NOINPUT = 64, 65, 66


def sh(cmd, **kw):
    """Run a shell pipeline and return its stdout as text."""
    return subprocess.run(cmd, shell=True, check=True, capture_output=True,
                          text=True, **kw).stdout


def run(*args, stdin=subprocess.DEVNULL):
    return subprocess.run([BIN, "tlsa", "create", *args], capture_output=True,
                          text=True, stdin=stdin, timeout=30)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Keys and certificates: self-signed RSA and ECDSA, and a 3-level chain."""
    d = tmp_path_factory.mktemp("tlsa-pki")
    for kind, newkey in (("rsa", ["-newkey", "rsa:2048"]),
                         ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])):
        openssl("req", "-x509", *newkey, "-nodes", "-keyout", f"{kind}.key",
                "-out", f"{kind}.crt", "-subj", f"/CN={HOST}", "-days", "30", cwd=d)
        openssl("x509", "-in", f"{kind}.crt", "-outform", "DER", "-out", f"{kind}.der", cwd=d)
        openssl("pkey", "-in", f"{kind}.key", "-outform", "DER", "-out", f"{kind}.key.der", cwd=d)
        openssl("pkey", "-in", f"{kind}.key", "-pubout", "-out", f"{kind}.pub", cwd=d)
        openssl("pkey", "-in", f"{kind}.key", "-pubout", "-outform", "DER",
                "-out", f"{kind}.pub.der", cwd=d)
    # A root CA, an intermediate and a leaf; the chain file is leaf first.
    ext = d / "ca.ext"
    ext.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key",
            "-out", "root.crt", "-subj", "/CN=Test Root CA", "-days", "30", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Test Intermediate",
            cwd=d)
    openssl("x509", "-req", "-in", "int.csr", "-CA", "root.crt", "-CAkey", "root.key",
            "-CAcreateserial", "-extfile", "ca.ext", "-out", "int.crt", "-days", "30", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={HOST}", cwd=d)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "int.crt", "-CAkey", "int.key",
            "-CAcreateserial", "-out", "leaf.crt", "-days", "30", cwd=d)
    (d / "chain.pem").write_text((d / "leaf.crt").read_text() + (d / "int.crt").read_text()
                                 + (d / "root.crt").read_text())
    der = b"".join(subprocess.run(["openssl", "x509", "-in", f"{n}.crt", "-outform", "DER"],
                                  check=True, capture_output=True, cwd=d).stdout
                   for n in ("leaf", "int", "root"))
    (d / "chain.der").write_bytes(der)
    # Bad input.
    openssl("pkey", "-in", "ec.key", "-aes128", "-passout", "pass:secret",
            "-out", "enc.key", cwd=d)
    openssl("pkey", "-in", "rsa.key", "-traditional", "-aes128", "-passout", "pass:secret",
            "-out", "enc-trad.key", cwd=d)
    openssl("pkcs8", "-topk8", "-in", "ec.key", "-v2", "aes128", "-passout", "pass:secret",
            "-outform", "DER", "-out", "enc.key.der", cwd=d)
    pem = (d / "rsa.crt").read_text()
    (d / "truncated.pem").write_text(pem[: len(pem) // 2])
    (d / "nocert.pem").write_text(sh("openssl ecparam -name prime256v1", cwd=d))
    (d / "junk.der").write_bytes(bytes([0x30, 0x82, 0x01, 0x00]) + os.urandom(64))
    (d / "empty").write_bytes(b"")
    return d


def pipeline_spki(cert, alg="sha256"):
    out = sh(f"openssl x509 -in {cert} -noout -pubkey | openssl pkey -pubin -outform DER"
             f" | openssl dgst -{alg}")
    return out.split("= ")[-1].strip().lower()


def pipeline_cert(cert, alg="sha256"):
    out = sh(f"openssl x509 -in {cert} -noout -fingerprint -{alg} | tr -d :")
    return out.strip().split("=")[-1].lower()


def record(*args):
    """The one record line printed for these arguments (no owner)."""
    p = run(*args)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    return lines[0]


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("form", ["crt", "der"])
def test_digests_equal_openssl_pipelines(pki, kind, form):
    cert = pki / f"{kind}.crt"
    inp = str(pki / f"{kind}.{form}")
    assert record(inp) == f"3 1 1 {pipeline_spki(cert)}"
    assert record("-s", "0", inp) == f"3 0 1 {pipeline_cert(cert)}"
    assert record("-m", "2", inp) == f"3 1 2 {pipeline_spki(cert, 'sha512')}"
    assert record("-s", "cert", "-m", "sha2-512", inp) == \
        f"3 0 2 {pipeline_cert(cert, 'sha512')}"
    full = sh(f"openssl x509 -in {cert} -outform DER | od -An -v -tx1 | tr -d ' \\n'")
    assert record("-s", "0", "-m", "0", inp) == f"3 0 0 {full}"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_keys_give_the_spki_records(pki, kind):
    want = record(str(pki / f"{kind}.crt"))
    for f in (f"{kind}.key", f"{kind}.key.der", f"{kind}.pub", f"{kind}.pub.der"):
        assert record(str(pki / f)) == want, f
    want512 = f"3 1 2 {pipeline_spki(pki / f'{kind}.crt', 'sha512')}"
    assert record("--mtype", "sha2-512", str(pki / f"{kind}.pub")) == want512
    # From stdin.
    with open(pki / f"{kind}.key", "rb") as f:
        p = run("-", stdin=f)
    assert p.returncode == 0 and p.stdout.strip() == want


def test_mnemonics_and_numbers_agree(pki):
    cert = str(pki / "ec.crt")
    assert record("--usage", "dane-ee", "--selector", "spki", "--mtype", "sha2-256",
                  cert) == record("--usage", "3", "--selector", "1", "--mtype", "1", cert)
    assert record("--usage", "DANE-TA", "--selector", "Cert", cert).startswith("2 0 1 ")
    assert record("-u", "pkix-ee", "--port", "443", cert).startswith("1 1 1 ")
    # Options may follow the file.
    assert record(cert, "--mtype", "2") == record("--mtype", "2", cert)


HASH_SLINGER_CASES = [(3, 1, 1), (3, 0, 1), (3, 1, 2), (3, 0, 2), (3, 1, 0), (1, 1, 1)]


@pytest.mark.skipif(shutil.which("tlsa") is None, reason="hash-slinger not installed")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("usm", HASH_SLINGER_CASES)
def test_equals_hash_slinger(pki, kind, usm):
    u, s, m = usm
    cert = str(pki / f"{kind}.crt")
    theirs = sh(f"tlsa --create --certificate {cert} --port 25 --usage {u} "
                f"--selector {s} --mtype {m} {HOST}", stdin=subprocess.DEVNULL)
    theirs = [line for line in theirs.splitlines() if " TLSA " in line]
    assert len(theirs) == 1
    ours = run("--host", HOST, "-u", str(u), "-s", str(s), "-m", str(m), cert)
    assert ours.returncode == 0
    assert ours.stdout.strip().lower() == theirs[0].strip().lower()


def ldns_dane(cert, u, s, m, opts=""):
    """ldns-dane's record for a certificate file, offline (-n)."""
    out = sh(f"ldns-dane -n {opts} -c {cert} create {HOST} 25 {u} {s} {m}",
             stdin=subprocess.DEVNULL, timeout=30)
    line = [x for x in out.splitlines() if "TLSA" in x]
    assert len(line) == 1, out
    f = line[0].split()
    assert f[0] == OWNER and f[3] == "TLSA"
    return " ".join(f[4:7] + ["".join(f[7:]).lower()])


@pytest.mark.skipif(shutil.which("ldns-dane") is None, reason="ldnsutils not installed")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("usm", [(3, 1, 1), (3, 0, 1), (3, 1, 2), (3, 0, 2), (3, 1, 0)])
def test_equals_ldns_dane(pki, kind, usm):
    cert = str(pki / f"{kind}.crt")
    u, s, m = usm
    assert record("-u", str(u), "-s", str(s), "-m", str(m), cert) == ldns_dane(cert, u, s, m)


def test_ta_records_for_every_issuer(pki):
    for chain in ("chain.pem", "chain.der"):
        p = run("--ta", "--host", HOST, str(pki / chain))
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""
        lines = p.stdout.splitlines()
        assert lines == [
            "; current issuer 1: CN=Test Intermediate",
            f"{OWNER} IN TLSA 2 0 1 {pipeline_cert(pki / 'int.crt')}",
            "; current issuer 2: CN=Test Root CA",
            f"{OWNER} IN TLSA 2 0 1 {pipeline_cert(pki / 'root.crt')}",
        ]
    # A leaf alone has no issuer to publish.
    p = run("--ta", str(pki / "leaf.crt"))
    assert p.returncode == EX_DATAERR and p.stdout == ""
    assert len(p.stderr.splitlines()) == 1


@pytest.mark.skipif(shutil.which("ldns-dane") is None, reason="ldnsutils not installed")
def test_ta_equals_ldns_dane_and_hash_slinger(pki):
    chain = pki / "chain.pem"
    ours = [x for x in run("--ta", str(chain)).stdout.splitlines() if not x.startswith(";")]
    assert len(ours) == 2
    # ldns-dane -o N: the Nth certificate from the end of the chain.
    assert ours[0] == ldns_dane(chain, 2, 0, 1, "-o 1")
    assert ours[1] == ldns_dane(chain, 2, 0, 1, "-o 0")
    if shutil.which("tlsa"):
        # hash-slinger asks about each certificate of the chain in turn.
        for answers, want in (("n\ny\n", ours[0]), ("n\nn\ny\n", ours[1])):
            out = subprocess.run(["tlsa", "--create", "--certificate", str(chain), "--port",
                                  "25", "--usage", "2", "--selector", "0", "--mtype", "1",
                                  HOST], input=answers, capture_output=True, text=True,
                                 timeout=30).stdout
            # The prompt has no newline: the record follows it on the line.
            theirs = [x[x.index(OWNER):] for x in out.splitlines() if " TLSA " in x]
            assert theirs == [f"{OWNER} IN TLSA {want}"]


def test_next_prints_current_and_next(pki):
    p = run("--host", HOST, "--ttl", "3600", "--next", str(pki / "ec.key"),
            str(pki / "rsa.crt"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"; current: CN={HOST}",
        f"{OWNER} 3600 IN TLSA 3 1 1 {pipeline_spki(pki / 'rsa.crt')}",
        "; next: EC 256-bit public key",
        f"{OWNER} 3600 IN TLSA 3 1 1 {pipeline_spki(pki / 'ec.crt')}",
    ]


def test_owner_port_and_json(pki):
    cert = pki / "ec.crt"
    assert record("--host", "MX.example.test.", "--port", "2525", str(cert)) == \
        f"_2525._tcp.MX.example.test. IN TLSA 3 1 1 {pipeline_spki(cert)}"
    p = run("--json", "--host", HOST, "--ttl", "300", "-s", "0", str(cert))
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert doc["owner"] == OWNER and doc["port"] == 25 and doc["ttl"] == 300
    assert len(doc["records"]) == 1
    r = doc["records"][0]
    assert (r["usage"], r["selector"], r["mtype"]) == (3, 0, 1)
    assert r["data"] == pipeline_cert(cert)
    assert r["rdata"] == f"3 0 1 {r['data']}"
    assert r["subject"] == f"CN={HOST}"
    assert len(doc["warnings"]) == 1 and "renewal" in doc["warnings"][0]


@pytest.mark.parametrize("args,needle", [
    ([], None),
    (["-s", "0"], "renewal"),
    (["-u", "1"], "PKIX-EE"),
    (["-u", "0", "-s", "0"], "PKIX-TA"),
    (["-m", "0"], "Full"),
    (["-m", "2"], "SHA2-512"),
    (["-u", "2", "-s", "1"], "Cert (0)"),
    (["-u", "1", "--port", "443"], None),
])
def test_warnings(pki, args, needle):
    p = run(*args, str(pki / "rsa.crt"))
    assert p.returncode == 0
    if needle is None:
        assert p.stderr == ""
    else:
        assert needle in p.stderr
        assert all(line.startswith("danemta: warning: ") for line in p.stderr.splitlines())


@pytest.mark.parametrize("name,status,needle", [
    ("missing.pem", EX_NOINPUT, "No such file"),
    ("truncated.pem", EX_DATAERR, "PEM"),
    ("nocert.pem", EX_DATAERR, "no certificate or key"),
    ("junk.der", EX_DATAERR, "not a certificate or key"),
    ("empty", EX_DATAERR, "empty"),
    ("enc.key", EX_DATAERR, "passphrase"),
    ("enc-trad.key", EX_DATAERR, "passphrase"),
    ("enc.key.der", EX_DATAERR, "passphrase"),
])
def test_bad_input(pki, name, status, needle):
    p = run(str(pki / name))
    assert p.returncode == status, p.stderr
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1, p.stderr
    assert needle in p.stderr


def test_directory_is_no_input(pki):
    p = run(str(pki))
    assert p.returncode == EX_NOINPUT and len(p.stderr.splitlines()) == 1


@pytest.mark.parametrize("args", [
    [],
    ["a.pem", "b.pem"],
    ["--usage", "dane-xx", "F"],
    ["--usage", "256", "F"],
    ["--selector", "2", "F"],
    ["--selector", "privsel", "F"],
    ["--mtype", "3", "F"],
    ["--mtype", "sha256", "F"],
    ["--ttl", "60", "F"],
    ["--host", "bad_host", "F"],
    ["--host", "a..b", "F"],
    ["--host", HOST, "--port", "0", "F"],
    ["--host", HOST, "--port", "65536", "F"],
    ["--host", HOST, "--ttl", "-1", "F"],
    ["--ta", "--usage", "3", "F"],
    ["--bogus", "F"],
    ["--usage"],
])
def test_usage_errors(pki, args):
    args = [str(pki / "ec.crt") if a == "F" else a for a in args]
    p = run(*args)
    assert p.returncode == EX_USAGE, (args, p.stderr)
    assert p.stdout == ""


def test_key_cannot_give_selector_0(pki):
    p = run("-s", "0", str(pki / "ec.key"))
    assert p.returncode == EX_USAGE
    assert "selector 1" in p.stderr and len(p.stderr.splitlines()) == 1


def test_help_and_dispatch():
    p = subprocess.run([BIN, "tlsa", "create", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--selector" in p.stdout
    assert "--connect HOST[:PORT]" in p.stdout and "--starttls smtp|none" in p.stdout
    p = subprocess.run([BIN, "help", "tlsa"], capture_output=True, text=True)
    assert p.returncode == 0 and "tlsa VERB" in p.stdout
    assert "\n  create " in p.stdout
    p = subprocess.run([BIN, "tlsa"], capture_output=True, text=True)
    assert p.returncode == EX_USAGE
    p = subprocess.run([BIN, "tlsa", "frobnicate"], capture_output=True, text=True)
    assert p.returncode == EX_USAGE and "unknown verb" in p.stderr
