#!/usr/bin/python3
"""Generate the danemta test world: certificates, signed zones, configs.

    /usr/bin/python3 tests/world/worldgen.py STATE      build everything in STATE
    /usr/bin/python3 tests/world/worldgen.py --matrix   print matrix.json

Everything is made at start-up with the openssl CLI (certificates, CA
databases, TLSA digests of the DER forms) and ldns (ldns-keygen,
ldns-signzone, ldns-key2ds).  Nothing is downloaded, nothing is cached from
a previous run.  The world's content (zones, receivers, expected outcomes)
is declared once, in build_world(); tests/world/matrix.json is generated
from the same declarations (tests/integration/test_world.py checks that the
checked-in copy is current).

Addresses (see README.md):
  127.0.0.2@5354  nsd, authoritative for ".", "test." and every child zone
  127.0.0.3@5354  dnsfault.py, fronts nsd, logs every query, injects faults
  127.0.0.4@53    unbound daemon (for peers that can only use resolv.conf)
  127.0.1.N:25    SMTP receivers (N from 2), one address per receiver
"""

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

# DANEMTA_WORLD_NET (default "127.0") moves the whole world to another /16 of
# the loopback net, so that two worlds can run at once (e.g. "127.1").
NET = os.environ.get("DANEMTA_WORLD_NET", "127.0")
NSD_ADDR = NET + ".0.2"
FAULT_ADDR = NET + ".0.3"
DNS_PORT = 5354
RESOLVER_ADDR = NET + ".0.4"
RX_NET = NET + ".1."
RX_FIRST = 2
TTL = 60
NS_NAME = "ns.test."
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def days(n):
    return NOW + datetime.timedelta(days=n)


def run(args, **kw):
    """Run a command; raise with its stderr on failure."""
    r = subprocess.run(args, capture_output=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(
            "%s failed (%d): %s"
            % (" ".join(args), r.returncode, r.stderr.decode(errors="replace"))
        )
    return r.stdout


def fqdn(name):
    return name if name.endswith(".") else name + "."


# --------------------------------------------------------------------------
# Certificates (openssl CLI only)

OPENSSL_CA_CNF = """\
[ ca ]
default_ca = world_ca
[ world_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
default_md = sha256
policy = world_policy
unique_subject = no
copy_extensions = none
email_in_dn = no
[ world_policy ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = placeholder
"""


class Certs:
    """Keys and certificates under STATE/certs, made with the openssl CLI.

    Leaves are issued in a small thread pool (one openssl process each
    step); `openssl ca` runs under a per-CA lock since it updates the CA's
    database.  der(), spki() and pair() wait for the certificate they need.
    """

    def __init__(self, state):
        self.dir = os.path.join(state, "certs")
        os.makedirs(self.dir, exist_ok=True)
        self.issuer = {}  # name -> issuer name (None: self-signed)
        self.pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
        self.futs = {}
        self.lock = threading.Lock()
        self.ca_locks = {}
        self.cache = {}

    def path(self, name, ext):
        return os.path.join(self.dir, name + "." + ext)

    def _genkey(self, name, kt):
        if kt == "rsa":
            alg = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        else:
            alg = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        run(["openssl", "genpkey"] + alg + ["-out", self.path(name, "key")])

    def key(self, name, kt="ec"):
        """A bare key (no certificate), made in the background."""
        self.futs[name] = self.pool.submit(self._genkey, name, kt)

    def wait(self, name):
        f = self.futs.get(name)
        if f is not None:
            f.result()

    def _cadir(self, name):
        d = os.path.join(self.dir, "ca-" + name)
        with self.lock:
            if not os.path.isdir(d):
                os.makedirs(os.path.join(d, "new"))
                open(os.path.join(d, "index.txt"), "w").close()
                with open(os.path.join(d, "serial"), "w") as f:
                    f.write("%016X\n" % (int.from_bytes(os.urandom(7), "big") + 1))
                with open(os.path.join(d, "ca.cnf"), "w") as f:
                    f.write(OPENSSL_CA_CNF.format(dir=d))
                self.ca_locks[name] = threading.Lock()
            return d, self.ca_locks[name]

    def _issue(self, name, cn, ext, issuer, start, end):
        """Sign NAME's key with ISSUER (None: self-signed) via `openssl ca`."""
        keyf = self.path(name, "key")
        extf = self.path(name, "ext")
        with open(extf, "w") as f:
            f.write("[ e ]\n" + ext)
        cadir, calock = self._cadir(issuer or name)
        csr = self.path(name, "csr")
        subj = "/CN=" + cn if cn else "/"
        run(
            ["openssl", "req", "-new", "-config", os.path.join(cadir, "ca.cnf")]
            + ["-key", keyf, "-subj", subj, "-out", csr]
        )
        cmd = ["openssl", "ca", "-batch", "-notext", "-config"]
        cmd += [os.path.join(cadir, "ca.cnf"), "-in", csr]
        cmd += ["-out", self.path(name, "crt"), "-extfile", extf, "-extensions", "e"]
        cmd += ["-startdate", start.strftime("%Y%m%d%H%M%SZ")]
        cmd += ["-enddate", end.strftime("%Y%m%d%H%M%SZ")]
        if issuer is None:
            cmd += ["-selfsign", "-keyfile", keyf]
        else:
            cmd += ["-cert", self.path(issuer, "crt"), "-keyfile", self.path(issuer, "key")]
        with calock:
            run(cmd)
        os.unlink(csr)
        os.unlink(extf)

    def ca(self, name, cn, issuer=None, pathlen=None, start=-365, end=3650):
        """A CA certificate, made at once (leaves depend on it)."""
        self._genkey(name, "ec")
        bc = "critical,CA:true" + ("" if pathlen is None else ",pathlen:%d" % pathlen)
        ext = "basicConstraints = %s\n" % bc
        ext += "keyUsage = critical,keyCertSign,cRLSign\n"
        ext += "subjectKeyIdentifier = hash\n"
        if issuer:
            ext += "authorityKeyIdentifier = keyid:always\n"
        self._issue(name, cn, ext, issuer, days(start), days(end))
        self.issuer[name] = issuer

    def leaf(self, name, cn=None, sans=(), issuer="int-ca", kt="ec", start=-30, end=365,
             send=None):
        """A server certificate; SEND = the issuers sent after the leaf
        (default: every issuer up to the root)."""
        ext = "basicConstraints = critical,CA:false\n"
        ku = "digitalSignature" + (",keyEncipherment" if kt == "rsa" else "")
        ext += "keyUsage = critical,%s\n" % ku
        ext += "extendedKeyUsage = serverAuth,clientAuth\n"
        ext += "subjectKeyIdentifier = hash\n"
        if issuer:
            ext += "authorityKeyIdentifier = keyid:always\n"
        if sans:
            ext += "subjectAltName = %s\n" % ",".join("DNS:" + s for s in sans)
        if send is None:
            send = []
            i = issuer
            while i:
                send.append(i)
                i = self.issuer[i]
        self.issuer[name] = issuer

        def job():
            self._genkey(name, kt)
            self._issue(name, cn, ext, issuer, days(start), days(end))
            with open(self.path(name, "chain.pem"), "w") as out:
                for n in [name] + list(send):
                    with open(self.path(n, "crt")) as f:
                        out.write(f.read())

        self.futs[name] = self.pool.submit(job)
        return name

    def pair(self, name):
        """The receiver config's "cert" (chain file) and "key" for NAME."""
        self.wait(name)
        return self.paths(name)

    def paths(self, name):
        """As pair(), without waiting for the files to exist."""
        return {"cert": self.path(name, "chain.pem"), "key": self.path(name, "key")}

    def _cached(self, k, args):
        with self.lock:
            if k in self.cache:
                return self.cache[k]
        v = run(args)
        with self.lock:
            self.cache[k] = v
        return v

    def der(self, name):
        self.wait(name)
        return self._cached(("der", name),
                            ["openssl", "x509", "-in", self.path(name, "crt"), "-outform", "DER"])

    def spki(self, name):
        """DER SubjectPublicKeyInfo of NAME's key (no certificate needed)."""
        self.wait(name)
        return self._cached(("spki", name), ["openssl", "pkey", "-in", self.path(name, "key"),
                                             "-pubout", "-outform", "DER"])

    def tlsa(self, name, u, s, m):
        data = self.der(name) if s == 0 else self.spki(name)
        if m == 1:
            data = hashlib.sha256(data).digest()
        elif m == 2:
            data = hashlib.sha512(data).digest()
        return "%d %d %d %s" % (u, s, m, data.hex())

    def finish(self):
        for f in self.futs.values():
            f.result()
        self.pool.shutdown()


# --------------------------------------------------------------------------
# Zones (signed with ldns)


class Zone:
    def __init__(self, name, signed=True, nsec3=False):
        self.name = fqdn(name)
        self.signed = signed
        self.nsec3 = nsec3
        self.rrs = []
        self.corrupt = set()  # (owner, type): RRSIG made invalid
        self.expire = set()  # (owner, type): RRSIG replaced by an expired one
        self.all_expired = False
        self.sig_window = (-1, 30)  # RRSIG inception, expiration: days from now
        self.ds = []

    def abs(self, owner):
        if owner == "@":
            return self.name
        if owner.endswith("."):
            return owner
        return owner + "." + self.name

    def add(self, owner, rtype, rdata):
        self.rrs.append((self.abs(owner), rtype, rdata))

    def text(self):
        lines = [
            "$TTL %d" % TTL,
            "%s IN SOA %s hostmaster.test. 1 3600 600 86400 %d" % (self.name, NS_NAME, TTL),
            "%s IN NS %s" % (self.name, NS_NAME),
        ]
        lines += ["%s IN %s %s" % rr for rr in self.rrs]
        return "\n".join(lines) + "\n"


def sign_zone(zdir, z):
    """Write, key and sign zone Z in ZDIR; returns the zone file nsd loads."""
    base = z.name.rstrip(".") or "root"
    src = os.path.join(zdir, base + ".zone")
    with open(src, "w") as f:
        f.write(z.text())
    if not z.signed:
        return src
    kdir = os.path.join(zdir, "keys")
    os.makedirs(kdir, exist_ok=True)
    # One combined signing key (flags 257) per zone, algorithm 13.
    kname = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", z.name], cwd=kdir)
    kbase = os.path.join(kdir, kname.decode().strip())
    ds = run(["ldns-key2ds", "-n", "-2", kbase + ".key"]).decode().strip()
    z.ds = [ds]

    def sign(out, inception, expiration):
        cmd = ["ldns-signzone", "-f", out, "-o", z.name]
        cmd += ["-i", inception.strftime("%Y%m%d%H%M%S")]
        cmd += ["-e", expiration.strftime("%Y%m%d%H%M%S")]
        if z.nsec3:
            cmd += ["-n", "-a", "1", "-t", "0"]
        run(cmd + [src, kbase])

    signed = os.path.join(zdir, base + ".signed")
    if z.all_expired:
        sign(signed, days(-60), days(-30))
        return signed
    sign(signed, days(z.sig_window[0]), days(z.sig_window[1]))
    if not z.corrupt and not z.expire:
        return signed
    with open(signed) as f:
        lines = f.read().splitlines()
    old = {}
    if z.expire:
        expf = os.path.join(zdir, base + ".expired")
        sign(expf, days(-60), days(-30))
        with open(expf) as f:
            for ln in f.read().splitlines():
                k = rrsig_key(ln)
                if k in z.expire:
                    old.setdefault(k, []).append(ln)
    out = []
    for ln in lines:
        k = rrsig_key(ln)
        if k in z.expire:
            out += old.pop(k, [])
            continue
        if k in z.corrupt:
            ln = corrupt_sig(ln)
        out.append(ln)
    with open(signed, "w") as f:
        f.write("\n".join(out) + "\n")
    return signed


def rrsig_key(line):
    f = line.split()
    if len(f) > 5 and f[3] == "RRSIG":
        return (f[0].lower(), f[4].upper())
    return None


def corrupt_sig(line):
    """Flip bits in the signature field (the last token) of an RRSIG line."""
    f = line.split()
    sig = f[-1]
    i = len(sig) // 3
    c = "B" if sig[i] != "B" else "C"
    f[-1] = sig[:i] + c + sig[i + 1 :]
    return "\t".join(f)


# --------------------------------------------------------------------------
# The world


class World:
    def __init__(self, state):
        self.state = state
        self.certs = Certs(state) if state else None
        self.zones = {}
        self.receivers = []
        self.faults = []
        self.matrix = []
        self.next_rx = RX_FIRST

    def zone(self, name, signed=True, nsec3=False):
        z = Zone(name, signed, nsec3)
        self.zones[z.name] = z
        return z

    def rx(self, name, host, cert=None, sni=None, behaviour=None, port=25, starttls=True):
        addr = RX_NET + str(self.next_rx)
        self.next_rx += 1
        r = {"name": name, "address": addr, "port": port, "hostname": host,
             "starttls": starttls, "behaviour": behaviour or {}}
        if self.state:
            r["dir"] = os.path.join(self.state, "smtp", name)
            if cert:
                r.update(self.certs.paths(cert))
            if sni:
                r["sni"] = {k: self.certs.paths(v) for k, v in sni.items()}
        r["cert_name"] = cert
        r["sni_names"] = dict(sni or {})
        self.receivers.append(r)
        return addr

    def tlsa(self, cert, u, s, m):
        """TLSA rdata for CERT, computed later (once the cert exists)."""
        if not self.state:
            return "%d %d %d 00" % (u, s, m)
        return lambda: self.certs.tlsa(cert, u, s, m)

    def fault(self, qname, qtype, action, subtree=False):
        self.faults.append({"qname": fqdn(qname).lower(), "qtype": qtype,
                            "action": action, "subtree": subtree})

    def entry(self, domain, row, desc, policy, hosts, verdict, via,
              port=None, options=None, dns_options=None):
        d = {"domain": domain, "row": row, "desc": desc,
             "dns": {"policy": policy, "hosts": hosts}}
        if dns_options:
            d["dns"]["options"] = dns_options
        if port:
            d["dns"]["port"] = port
        dl = {"verdict": verdict, "via": via}
        if port:
            dl["port"] = port
        if options:
            dl["options"] = options
        d["delivery"] = dl
        self.matrix.append(d)


def H(name, mode, base=None):
    h = {"name": name, "mode": mode}
    if base:
        h["tlsa_base"] = base
    return h


def build_world(w):
    """Declare every certificate, zone, receiver, fault and matrix entry."""
    c = w.certs
    mk = c is not None  # False when only the matrix is wanted

    def cert(fn, *a, **kw):
        if mk:
            return getattr(c, fn)(*a, **kw)
        return a[0] if a else None

    # ---- PKI
    cert("ca", "root-ca", "danemta World Root CA")
    cert("ca", "int-ca", "danemta World Intermediate CA", issuer="root-ca")
    cert("ca", "pathlen0-ca", "danemta World pathLen 0 CA", issuer="root-ca", pathlen=0)
    cert("ca", "extra-int-ca", "danemta World Extra Intermediate", issuer="pathlen0-ca")
    cert("ca", "expired-int-ca", "danemta World Expired Intermediate", issuer="root-ca",
         start=-400, end=-10)
    cert("key", "stale")  # a key no server uses (rotated away)

    def simple(domain, row, desc, leafname=None, kt="ec", tlsa=None, behaviour=None,
               sans=None, cn=None, nsec3=False, verdict="dane-authenticated",
               policy="dane", mode="dane", leaf_kw=None, sni=None, options=None,
               dns_options=None, starttls=True):
        """One signed domain, MX 10 mx1.DOMAIN, one receiver."""
        mx = "mx1." + domain
        name = domain.split(".")[0]  # receiver name
        certname = leafname or name
        if leafname is None:
            kw = dict(leaf_kw or {})
            cert("leaf", name, cn=cn if cn is not None else mx,
                 sans=sans if sans is not None else [mx], kt=kt, **kw)
        z = w.zone(domain, nsec3=nsec3)
        z.add("@", "MX", "10 " + fqdn(mx))
        addr = w.rx(name, mx, certname, behaviour=behaviour, sni=sni, starttls=starttls)
        z.add("mx1", "A", addr)
        for t in tlsa if tlsa is not None else [(certname, 3, 1, 1)]:
            z.add("_25._tcp.mx1", "TLSA", t if isinstance(t, str) or callable(t) else w.tlsa(*t))
        via = name if verdict not in ("defer", "bounce") else None
        w.entry(domain, row, desc, policy,
                [H(mx, mode, mx if mode in ("dane", "tls-required") else None)],
                verdict, via, options=options, dns_options=dns_options)
        return z, name

    # ---- demo and issue-3 domains
    simple("good.test", 1, "healthy demo: secure MX, RSA leaf, 3 1 1", leafname=None,
           kt="rsa")
    z = w.zone("unsigned.test", signed=False)
    z.add("@", "MX", "10 mx1.unsigned.test.")
    cert("leaf", "unsigned", cn="mx1.unsigned.test", sans=["mx1.unsigned.test"])
    z.add("mx1", "A", w.rx("unsigned", "mx1.unsigned.test", "unsigned"))
    w.entry("unsigned.test", 8, "unsigned zone", "opportunistic",
            [H("mx1.unsigned.test", "opportunistic")], "opportunistic", "unsigned")
    z, _ = simple("bogus.test", 6, "broken signatures on MX, A and TLSA",
                  verdict="defer", policy="defer", mode="skip")
    for o, t in (("bogus.test.", "MX"), ("mx1.bogus.test.", "A"),
                 ("_25._tcp.mx1.bogus.test.", "TLSA")):
        z.corrupt.add((o, t))
    w.matrix[-1]["dns"]["hosts"] = []
    z, _ = simple("expired-sigs.test", 6, "whole zone signed with expired RRSIGs",
                  verdict="defer", policy="defer", mode="skip")
    z.all_expired = True
    w.matrix[-1]["dns"]["hosts"] = []

    # ---- rows 1-5: DANE-EE
    simple("r01-dane.test", 1, "secure MX, secure A, 3 1 1 leaf SPKI (ECDSA)")
    simple("r01-dane-rsa.test", 1, "as row 1 with an RSA leaf", kt="rsa")
    cert("leaf", "r01-sni-default", cn="mx1.r01-sni.test", sans=["mx1.r01-sni.test"])
    cert("leaf", "r01-sni", cn="mx1.r01-sni.test", sans=["mx1.r01-sni.test"])
    simple("r01-sni.test", 1, "receiver picks its cert by SNI; only the SNI=mx1 cert matches",
           leafname="r01-sni-default", tlsa=[("r01-sni", 3, 1, 1)],
           sni={"mx1.r01-sni.test": "r01-sni"})
    simple("r02-expired-leaf.test", 2, "3 1 1, leaf expired",
           leaf_kw={"start": -60, "end": -30})
    simple("r02-notyet-leaf.test", 2, "3 1 1, leaf not yet valid",
           leaf_kw={"start": 30, "end": 400})
    simple("r03-selfsigned.test", 3, "3 1 1, self-signed leaf CN=localhost, no SAN",
           cn="localhost", sans=[], leaf_kw={"issuer": None})
    simple("r04-int-only.test", 4, "3 1 1 matches the intermediate's key only",
           tlsa=[("int-ca", 3, 1, 1)], verdict="defer")
    simple("r05-stale.test", 5, "3 1 1 of a rotated-away key", tlsa=[("stale", 3, 1, 1)],
           verdict="defer")

    # ---- row 6: MX lookup failures (one receiver that must never be reached)
    cert("leaf", "r06", cn="mx1.r06-mx-servfail.test",
         sans=["mx1.r06-mx-servfail.test", "mx1.r06-mx-bogus.test", "mx1.r06-mx-timeout.test"])
    a06 = w.rx("r06", "mx1.r06-mx-servfail.test", "r06")
    for d, how in (("r06-mx-servfail.test", "MX SERVFAIL (fault responder)"),
                   ("r06-mx-bogus.test", "MX RRSIG corrupted"),
                   ("r06-mx-timeout.test", "MX query dropped (timeout)")):
        z = w.zone(d)
        z.add("@", "MX", "10 mx1." + d + ".")
        z.add("mx1", "A", a06)
        z.add("_25._tcp.mx1", "TLSA", w.tlsa("r06", 3, 1, 1))
        w.entry(d, 6, how + "; no connection", "defer", [], "defer", None)
    w.fault("r06-mx-servfail.test", "MX", "servfail")
    w.zones["r06-mx-bogus.test."].corrupt.add(("r06-mx-bogus.test.", "MX"))
    w.fault("r06-mx-timeout.test", "MX", "drop")

    # ---- row 7: NXDOMAIN (not delegated at all) and null MX
    w.entry("r07-nxdomain.test", 7, "secure NXDOMAIN from test.", "bounce", [], "bounce", None)
    z = w.zone("r07-nullmx.test")
    z.add("@", "MX", "0 .")
    w.entry("r07-nullmx.test", 7, "null MX 0 .", "bounce", [], "bounce", None)

    # ---- row 8: unsigned domain with a (never to be used) TLSA record
    z = w.zone("r08-unsigned.test", signed=False)
    z.add("@", "MX", "10 mx1.r08-unsigned.test.")
    cert("leaf", "r08", cn="mx1.r08-unsigned.test", sans=["mx1.r08-unsigned.test"])
    z.add("mx1", "A", w.rx("r08", "mx1.r08-unsigned.test", "r08"))
    z.add("_25._tcp.mx1", "TLSA", w.tlsa("stale", 3, 1, 1))
    w.entry("r08-unsigned.test", 8, "unsigned zone; insecure TLSA (stale) must not be queried",
            "opportunistic", [H("mx1.r08-unsigned.test", "opportunistic")], "opportunistic",
            "r08")

    # ---- rows 9 and 43: insecure MX pointing at a host in a signed zone
    zh = w.zone("r09-host.test")
    cert("leaf", "r09", cn="mx1.r09-host.test", sans=["mx1.r09-host.test"])
    zh.add("mx1", "A", w.rx("r09", "mx1.r09-host.test", "r09"))
    zh.add("_25._tcp.mx1", "TLSA", w.tlsa("r09", 3, 1, 1))
    for d, opt in (("r09-insecure-mx.test", False), ("r09-insecure-mx-opt.test", True)):
        z = w.zone(d, signed=False)
        z.add("@", "MX", "10 mx1.r09-host.test.")
        if opt:
            o = {"dane_insecure_mx": True}
            w.entry(d, 9, "insecure MX -> signed host with valid 3 1 1; dane_insecure_mx on",
                    "dane", [H("mx1.r09-host.test", "dane", "mx1.r09-host.test")],
                    "dane-authenticated", "r09", options=o, dns_options=o)
        else:
            w.entry(d, 9, "insecure MX -> signed host with valid 3 1 1; option off",
                    "opportunistic", [H("mx1.r09-host.test", "opportunistic")],
                    "opportunistic", "r09")
    zh = w.zone("r43-host.test")
    cert("leaf", "r43", cn="r43-ta-insecure-mx.test", sans=["r43-ta-insecure-mx.test"])
    zh.add("mx1", "A", w.rx("r43", "mx1.r43-host.test", "r43"))
    zh.add("_25._tcp.mx1", "TLSA", w.tlsa("int-ca", 2, 0, 1))
    z = w.zone("r43-ta-insecure-mx.test", signed=False)
    z.add("@", "MX", "10 mx1.r43-host.test.")
    o = {"dane_insecure_mx": True}
    w.entry("r43-ta-insecure-mx.test", 43,
            "insecure MX, option on, 2 0 1, leaf SAN = recipient domain only",
            "dane", [H("mx1.r43-host.test", "dane", "mx1.r43-host.test")], "defer", None,
            options=o, dns_options=o)

    # ---- row 10: secure MX, host in an unsigned provider zone whose NS SERVFAILs TLSA
    z = w.zone("r10-insecure-provider.test")
    z.add("@", "MX", "10 mx1.r10-provider.test.")
    zp = w.zone("r10-provider.test", signed=False)
    cert("leaf", "r10", cn="mx1.r10-provider.test", sans=["mx1.r10-provider.test"])
    zp.add("mx1", "A", w.rx("r10", "mx1.r10-provider.test", "r10"))
    zp.add("_25._tcp.mx1", "TLSA", w.tlsa("r10", 3, 1, 1))
    w.fault("r10-provider.test", "TLSA", "servfail", subtree=True)
    w.entry("r10-insecure-provider.test", 10,
            "secure MX; host A insecure; provider SERVFAILs every TLSA query",
            "opportunistic", [H("mx1.r10-provider.test", "opportunistic")], "opportunistic",
            "r10")

    # ---- row 11: no MX, secure A + TLSA at the domain
    d = "r11-implicit-mx.test"
    z = w.zone(d)
    cert("leaf", "r11", cn=d, sans=[d])
    z.add("@", "A", w.rx("r11", d, "r11"))
    z.add("_25._tcp", "TLSA", w.tlsa("r11", 3, 1, 1))
    w.entry(d, 11, "no MX (secure NODATA): implicit MX, TLSA at the domain", "dane",
            [H(d, "dane", d)], "dane-authenticated", "r11")

    # ---- row 12: next hop is a secure CNAME to another domain
    z = w.zone("r12-cname.test")
    z.add("alias", "CNAME", "r12-target.test.")
    z = w.zone("r12-target.test")
    z.add("@", "MX", "10 mx1.r12-target.test.")
    cert("leaf", "r12", cn="r12-target.test", sans=["r12-target.test"])
    z.add("mx1", "A", w.rx("r12", "mx1.r12-target.test", "r12"))
    z.add("_25._tcp.mx1", "TLSA", w.tlsa("int-ca", 2, 0, 1))
    w.entry("alias.r12-cname.test", 12,
            "next hop secure CNAME -> r12-target.test; 2 0 1; leaf SAN = expanded domain",
            "dane", [H("mx1.r12-target.test", "dane", "mx1.r12-target.test")],
            "dane-authenticated", "r12")

    # ---- rows 13-17: CNAME'd MX hosts (provider.test signed, provider-unsigned.test not)
    prov = w.zone("provider.test", nsec3=True)
    puns = w.zone("provider-unsigned.test", signed=False)
    # 13: TLSA at the expanded name; the receiver's default cert does not match,
    # only its SNI=mx13.provider.test cert does.
    cert("leaf", "r13-default", cn="mx13.provider.test", sans=["mx13.provider.test"])
    cert("leaf", "r13", cn="mx13.provider.test", sans=["mx13.provider.test"])
    prov.add("mx13", "A", w.rx("r13", "mx13.provider.test", "r13-default",
                               sni={"mx13.provider.test": "r13"}))
    prov.add("_25._tcp.mx13", "TLSA", w.tlsa("r13", 3, 1, 1))
    z = w.zone("r13-cname-mx.test")
    z.add("@", "MX", "10 mx1.r13-cname-mx.test.")
    z.add("mx1", "CNAME", "mx13.provider.test.")
    w.entry("r13-cname-mx.test", 13, "mx1 secure CNAME -> mx13.provider.test with TLSA",
            "dane", [H("mx1.r13-cname-mx.test", "dane", "mx13.provider.test")],
            "dane-authenticated", "r13")
    # 14: TLSA only at the original name (secure denial at the target)
    d = "r14-cname-mx-orig.test"
    cert("leaf", "r14-default", cn="mx14.provider.test", sans=["mx14.provider.test"])
    cert("leaf", "r14", cn="mx1." + d, sans=["mx1." + d])
    prov.add("mx14", "A", w.rx("r14", "mx14.provider.test", "r14-default",
                               sni={"mx1." + d: "r14"}))
    z = w.zone(d)
    z.add("@", "MX", "10 mx1.%s." % d)
    z.add("mx1", "CNAME", "mx14.provider.test.")
    z.add("_25._tcp.mx1", "TLSA", w.tlsa("r14", 3, 1, 1))
    w.entry(d, 14, "mx1 secure CNAME -> mx14.provider.test (no TLSA); TLSA at mx1",
            "dane", [H("mx1." + d, "dane", "mx1." + d)], "dane-authenticated", "r14")
    # 15: CNAME to an unsigned zone; TLSA at mx1 / none
    for sfx, has in (("tlsa", True), ("notlsa", False)):
        d = "r15-cname-unsigned-%s.test" % sfx
        n = "r15-" + sfx
        cert("leaf", n, cn="mx1." + d, sans=["mx1." + d])
        puns.add("mx15-" + sfx, "A", w.rx(n, "mx15-%s.provider-unsigned.test" % sfx, n))
        z = w.zone(d)
        z.add("@", "MX", "10 mx1.%s." % d)
        z.add("mx1", "CNAME", "mx15-%s.provider-unsigned.test." % sfx)
        if has:
            z.add("_25._tcp.mx1", "TLSA", w.tlsa(n, 3, 1, 1))
            w.entry(d, 15, "mx1 secure CNAME -> unsigned zone; TLSA at mx1", "dane",
                    [H("mx1." + d, "dane", "mx1." + d)], "dane-authenticated", n)
        else:
            w.entry(d, 15, "mx1 secure CNAME -> unsigned zone; no TLSA", "opportunistic",
                    [H("mx1." + d, "opportunistic")], "opportunistic", n)
    # 16: the MX host is a CNAME in an insecure zone (target signed, with TLSA)
    cert("leaf", "r16", cn="mx16.provider.test", sans=["mx16.provider.test"])
    prov.add("mx16", "A", w.rx("r16", "mx16.provider.test", "r16"))
    prov.add("_25._tcp.mx16", "TLSA", w.tlsa("r16", 3, 1, 1))
    puns.add("mx16", "CNAME", "mx16.provider.test.")
    z = w.zone("r16-cname-insecure.test")
    z.add("@", "MX", "10 mx16.provider-unsigned.test.")
    w.entry("r16-cname-insecure.test", 16,
            "MX host is a CNAME in an unsigned zone (to a signed host with TLSA)",
            "opportunistic", [H("mx16.provider-unsigned.test", "opportunistic")],
            "opportunistic", "r16")
    # 17: chain a -> b -> c, TLSA only at the intermediate b
    d = "r17-chain.test"
    cert("leaf", "r17", cn="c." + d, sans=["mx1." + d, "b." + d, "c." + d])
    z = w.zone(d)
    z.add("@", "MX", "10 mx1.%s." % d)
    z.add("mx1", "CNAME", "b.%s." % d)
    z.add("b", "CNAME", "c.%s." % d)
    z.add("c", "A", w.rx("r17", "c." + d, "r17"))
    z.add("_25._tcp.b", "TLSA", w.tlsa("r17", 3, 1, 1))
    w.entry(d, 17, "CNAME chain mx1 -> b -> c; TLSA only at b", "opportunistic",
            [H("mx1." + d, "opportunistic")], "opportunistic", "r17")

    # ---- rows 18-19: CNAME at the TLSA owner
    z, _ = simple("r18-tlsa-cname.test", 18,
                  "_25._tcp.mx1 secure CNAME -> tlsa._dane (2 0 1); leaf SAN=mx1", tlsa=[])
    z.add("_25._tcp.mx1", "CNAME", "tlsa._dane.r18-tlsa-cname.test.")
    z.add("tlsa._dane", "TLSA", w.tlsa("int-ca", 2, 0, 1))
    z, n = simple("r19-tlsa-cname-insecure.test", 19,
                  "_25._tcp.mx1 CNAME -> TLSA in an unsigned zone", tlsa=[],
                  verdict="opportunistic", policy="opportunistic", mode="opportunistic")
    z.add("_25._tcp.mx1", "CNAME", "tlsa19.provider-unsigned.test.")
    puns.add("tlsa19", "TLSA", w.tlsa(n, 3, 1, 1))

    # ---- row 20: TLSA lookup errors in a signed zone
    for d, act, how in (("r20-tlsa-servfail.test", "servfail", "TLSA SERVFAIL"),
                        ("r20-tlsa-timeout.test", "drop", "TLSA query dropped"),
                        ("r20-broken-denial.test", "strip-denial",
                         "TLSA denial with NSEC/NSEC3/RRSIG stripped (bogus)")):
        simple(d, 20, how, verdict="defer", mode="skip", policy="defer",
               tlsa=[] if act == "strip-denial" else None,
               nsec3=act == "strip-denial")
        w.fault("_25._tcp.mx1." + d, "TLSA", act)
    # also REFUSED and NOTIMP, answered by the fault responder
    for act in ("refused", "notimp"):
        d = "r20-tlsa-%s.test" % act
        simple(d, 20, "TLSA " + act.upper(), verdict="defer", mode="skip", policy="defer")
        w.fault("_25._tcp.mx1." + d, "TLSA", act)

    # ---- row 21: TLSA bogus on mx1 (expired RRSIG), mx2 good
    def two_mx(domain, row, desc, t1, t2, verdict, via, modes, policy):
        z = w.zone(domain)
        hosts = []
        for i, t in ((1, t1), (2, t2)):
            mx = "mx%d.%s" % (i, domain)
            n = "%s-mx%d" % (domain.split(".")[0], i)
            cert("leaf", n, cn=mx, sans=[mx])
            z.add("@", "MX", "%d %s." % (10 * i, mx))
            z.add("mx%d" % i, "A", w.rx(n, mx, n))
            for tt in t(n):
                z.add("_25._tcp.mx%d" % i, "TLSA", w.tlsa(*tt))
            m = modes[i - 1]
            hosts.append(H(mx, m, mx if m in ("dane", "tls-required") else None))
        w.entry(domain, row, desc, policy, hosts, verdict,
                None if via is None else "%s-mx%d" % (domain.split(".")[0], via))
        return z

    good = lambda n: [(n, 3, 1, 1)]  # noqa: E731
    stale = lambda n: [("stale", 3, 1, 1)]  # noqa: E731
    none = lambda n: []  # noqa: E731
    z = two_mx("r21-tlsa-bogus.test", 21, "mx1 TLSA RRSIG expired; mx2 valid 3 1 1",
               good, good, "dane-authenticated", 2, ["skip", "dane"], "dane")
    z.expire.add(("_25._tcp.mx1.r21-tlsa-bogus.test.", "TLSA"))

    # ---- rows 22-24
    z, _ = simple("r22-tlsa-nodata.test", 22, "TLSA secure NODATA (owner has TXT only)",
                  tlsa=[], verdict="opportunistic", policy="opportunistic",
                  mode="opportunistic")
    z.add("_25._tcp.mx1", "TXT", '"no TLSA here"')
    simple("r22-tlsa-nxdomain.test", 22, "TLSA secure NXDOMAIN", tlsa=[], nsec3=True,
           verdict="opportunistic", policy="opportunistic", mode="opportunistic")
    for d, n3 in (("r23-wildcard-nsec3.test", True), ("r23-wildcard-nsec.test", False)):
        z, n = simple(d, 23, "wildcard *._tcp.mx1 3 1 1 (%s proof)" % ("NSEC3" if n3 else "NSEC"),
                      tlsa=[], nsec3=n3)
        z.add("*._tcp.mx1", "TLSA", w.tlsa(n, 3, 1, 1))
    d = "r24-port2525.test"
    cert("leaf", "r24", cn="mx1." + d, sans=["mx1." + d])
    z = w.zone(d)
    z.add("@", "MX", "10 mx1.%s." % d)
    z.add("mx1", "A", w.rx("r24", "mx1." + d, "r24", port=2525))
    z.add("_2525._tcp.mx1", "TLSA", w.tlsa("r24", 3, 1, 1))
    z.add("_25._tcp.mx1", "TLSA", w.tlsa("stale", 3, 1, 1))
    w.entry(d, 24, "route to port 2525: _2525 TLSA matches, _25 TLSA is stale (trap)",
            "dane", [H("mx1." + d, "dane", "mx1." + d)], "dane-authenticated", "r24",
            port=2525)

    # ---- rows 25-28: several MX hosts
    two_mx("r25-partial.test", 25, "mx1 stale 3 1 1 (auth fails), mx2 no TLSA",
           stale, none, "opportunistic", 2, ["dane", "opportunistic"], "dane")
    two_mx("r26-no-preempt.test", 26, "mx1 no TLSA, mx2 valid TLSA; both up",
           none, good, "opportunistic", 1, ["opportunistic", "dane"], "opportunistic")
    two_mx("r27-mx1-mismatch.test", 27, "both TLSA; mx1 mismatch, mx2 match",
           stale, good, "dane-authenticated", 2, ["dane", "dane"], "dane")
    z = two_mx("r28-mx1-bogus-a.test", 28, "mx1 A RRSIG broken; mx2 valid",
               good, good, "dane-authenticated", 2, ["skip", "dane"], "dane")
    z.corrupt.add(("mx1.r28-mx1-bogus-a.test.", "A"))

    # ---- rows 29-34: unusable, malformed, mixed
    def spki_hex(n, m=1):
        return c.tlsa(n, 3, 1, m).split()[3] if mk else "00"

    def cert_hex(n, m=1):
        return c.tlsa(n, 3, 0, m).split()[3] if mk else "00"

    tn = "r29-pkix-only"
    simple("r29-pkix-only.test", 29, "only 0 0 1 (root) and 1 1 1 (leaf)",
           tlsa=[("root-ca", 0, 0, 1), (tn, 1, 1, 1)], verdict="tls-unauthenticated",
           policy="tls-required", mode="tls-required")
    simple("r30-unknown-params.test", 30, "only 4 0 1, 3 2 1, 3 1 3, 255 1 1",
           tlsa=[lambda: "4 0 1 " + cert_hex("r30-unknown-params"),
                 lambda: "3 2 1 " + spki_hex("r30-unknown-params"),
                 lambda: "3 1 3 " + spki_hex("r30-unknown-params"),
                 lambda: "255 1 1 " + spki_hex("r30-unknown-params")],
           verdict="tls-unauthenticated", policy="tls-required", mode="tls-required")
    simple("r31-malformed.test", 31, "only 3 1 1 (31 octets), 3 1 2 (32 octets), 3 0 0 junk",
           tlsa=[lambda: "3 1 1 " + spki_hex("r31-malformed")[:62],
                 lambda: "3 1 2 " + spki_hex("r31-malformed"),
                 "3 0 0 3082deadbeef0102030405"],
           verdict="tls-unauthenticated", policy="tls-required", mode="tls-required")
    simple("r32-unusable-no-starttls.test", 32, "only unusable TLSA; STARTTLS not offered",
           tlsa=[lambda: "3 1 3 " + spki_hex("r32-unusable-no-starttls")],
           behaviour={"hide_starttls": True}, verdict="defer", policy="tls-required",
           mode="tls-required")
    simple("r32-unusable-tls-fail.test", 32, "only unusable TLSA; handshake fails",
           tlsa=[lambda: "3 1 3 " + spki_hex("r32-unusable-tls-fail")],
           behaviour={"tls_fail": True}, verdict="defer", policy="tls-required",
           mode="tls-required")
    simple("r33-mixed-unusable-match.test", 33, "1 1 1 matches (unusable), 3 1 1 does not",
           tlsa=[("r33-mixed-unusable-match", 1, 1, 1), ("stale", 3, 1, 1)], verdict="defer")
    simple("r34-malformed-plus-good.test", 34, "malformed 3 1 1 (31 octets) + matching 3 1 1",
           tlsa=[lambda: "3 1 1 " + spki_hex("r34-malformed-plus-good")[:62],
                 ("r34-malformed-plus-good", 3, 1, 1)])

    # ---- rows 35-44: DANE-TA
    ta = [("int-ca", 2, 0, 1)]
    simple("r35-ta-issuer.test", 35, "2 0 1 issuer in the chain; leaf SAN=mx1 (RSA)",
           tlsa=ta, kt="rsa")
    simple("r36-ta-nexthop-san.test", 36, "2 0 1; leaf SAN = next-hop domain only", tlsa=ta,
           sans=["r36-ta-nexthop-san.test"], cn="r36-ta-nexthop-san.test")
    simple("r37-ta-name-mismatch.test", 37, "2 0 1; leaf SAN other.example.net (wrong name)",
           tlsa=ta, sans=["other.example.net"], cn="other.example.net", verdict="defer")
    simple("r38-ta-not-sent.test", 38, "2 0 1 of the root; server sends leaf+intermediate only",
           tlsa=[("root-ca", 2, 0, 1)], leaf_kw={"send": ["int-ca"]}, verdict="defer")
    simple("r39-ta-full-in-dns.test", 39, "2 0 0 root cert in DNS; server omits the root",
           tlsa=[("root-ca", 2, 0, 0)], leaf_kw={"send": ["int-ca"]})
    simple("r40-ta-expired-leaf.test", 40, "2 0 1; leaf expired", tlsa=ta,
           leaf_kw={"start": -60, "end": -30}, verdict="defer")
    simple("r40-ta-expired-int.test", 40, "2 0 1 of the root; intermediate expired",
           tlsa=[("root-ca", 2, 0, 1)], leaf_kw={"issuer": "expired-int-ca"}, verdict="defer")
    d = "r41-wild-ok.test"
    simple(d, 41, "2 0 1; leaf SAN *.%s vs mx1" % d, tlsa=ta, sans=["*." + d], cn="*." + d)
    d = "r41-wild-deep.test"
    z, n = simple(d, 41, "2 0 1; leaf SAN *.%s vs a.b (MX a.b.%s)" % (d, d), tlsa=ta,
                  sans=["*." + d], cn="*." + d, verdict="defer")
    # move this domain's host from mx1 to a.b (two labels below the wildcard)
    z.rrs = [(o.replace("mx1." + d, "a.b." + d), t,
              r.replace("mx1." + d, "a.b." + d) if isinstance(r, str) else r)
             for o, t, r in z.rrs]
    w.matrix[-1]["dns"]["hosts"] = [H("a.b." + d, "dane", "a.b." + d)]
    d = "r41-wild-partial.test"
    simple(d, 41, "2 0 1; leaf SAN mx*.%s (partial-label wildcard)" % d, tlsa=ta,
           sans=["mx*." + d], cn="mx*." + d, verdict="defer")
    d = "r42-cn-ignored.test"
    simple(d, 42, "2 0 1; SAN other.%s only, CN=mx1 (CN must be ignored)" % d, tlsa=ta,
           sans=["other." + d], cn="mx1." + d, verdict="defer")
    d = "r42-cn-only.test"
    simple(d, 42, "2 0 1; no SAN, CN=mx1", tlsa=ta, sans=[], cn="mx1." + d)
    simple("r44-pathlen.test", 44, "2 0 1 TA with pathLen=0 + an extra intermediate",
           tlsa=[("pathlen0-ca", 2, 0, 1)], leaf_kw={"issuer": "extra-int-ca"},
           verdict="defer")

    # ---- rows 45-46: digest agility
    simple("r45-agility-sha512.test", 45, "3 1 1 matches, 3 1 2 does not",
           tlsa=[("r45-agility-sha512", 3, 1, 1), ("stale", 3, 1, 2)], verdict="defer")
    simple("r46-agility-malformed512.test", 46, "3 1 1 matches + malformed 3 1 2",
           tlsa=[("r46-agility-malformed512", 3, 1, 1),
                 lambda: "3 1 2 " + spki_hex("r46-agility-malformed512", 2)[:126]])
    simple("r46-agility-full.test", 46, "3 1 0 matches + 3 1 2 mismatch",
           tlsa=[("r46-agility-full", 3, 1, 0), ("stale", 3, 1, 2)])
    simple("r46-agility-groups.test", 46, "3 1 1 matches + 2 0 2 mismatch",
           tlsa=[("r46-agility-groups", 3, 1, 1), ("pathlen0-ca", 2, 0, 2)])

    # ---- rows 47-48: usable TLSA, STARTTLS or TLS broken
    for d, b, how in (
        ("r47-no-starttls.test", {"hide_starttls": True}, "STARTTLS not advertised"),
        ("r47-starttls-454.test", {"starttls_reply": "454 4.7.0 TLS not available now"},
         "454 to STARTTLS"),
        ("r47-helo-only.test", {"helo_only": True}, "HELO-only server"),
        ("r48-tls-fail.test", {"tls_fail": True}, "handshake fails"),
        ("r48-drop-in-data.test", {"drop_in_data": True}, "connection dropped in DATA"),
    ):
        simple(d, int(d[1:3]), "usable 3 1 1; " + how, behaviour=b, verdict="defer")

    # ---- row 49: mandatory DANE and audit mode
    man = {"policy": "dane-only"}
    d = "r49-mandatory-insecure-mx.test"
    z = w.zone(d, signed=False)
    z.add("@", "MX", "10 mx1.%s." % d)
    cert("leaf", "r49-insecure", cn="mx1." + d, sans=["mx1." + d])
    z.add("mx1", "A", w.rx("r49-insecure", "mx1." + d, "r49-insecure"))
    w.entry(d, 49, "mandatory DANE, insecure MX", "defer", [], "defer", None,
            options=man, dns_options=man)
    simple("r49-mandatory-no-tlsa.test", 49, "mandatory DANE, secure MX, no TLSA", tlsa=[],
           verdict="defer", policy="defer", mode="skip", options=man, dns_options=man)
    simple("r49-mandatory-unusable.test", 49, "mandatory DANE, only unusable TLSA",
           tlsa=[("r49-mandatory-unusable", 1, 1, 1)], verdict="defer", policy="defer",
           mode="skip", options=man, dns_options=man)
    simple("r49-audit-mismatch.test", 49, "audit-only mode, 3 1 1 mismatch: deliver + warning",
           tlsa=[("stale", 3, 1, 1)], verdict="tls-unauthenticated", options={"audit": True})
    w.matrix[-1]["delivery"]["via"] = "r49-audit-mismatch"

    tlsa_tools_domains(w, simple)


def tlsa_tools_domains(w, simple):
    """Domains for `danemta tlsa verify/rollover` and the diagnostics
    (tests/integration/test_tlsa_tools.py).  Not matrix rows: each entry
    simple() adds is dropped again, so matrix.json stays as it is."""
    c = w.certs

    def vdom(domain, **kw):
        z, n = simple(domain, 0, "tlsa tools", **kw)
        w.matrix.pop()
        return z, n

    def cert(*a, **kw):
        if c is not None:
            c.leaf(*a, **kw)

    def ttl_tlsa(z, owner, ttl, t):
        # an explicit TTL: "OWNER TTL IN TLSA ..." (the zone's $TTL is 60)
        z.rrs.append((z.abs(owner) + " %d" % ttl, "TLSA", w.tlsa(*t)))

    # rollover: the next certificate of each host, made but not deployed
    for d in ("v-roll-ok", "v-roll-missing", "v-roll-recent"):
        cert(d + "-next", cn="mx1.%s.test" % d, sans=["mx1.%s.test" % d])
    vdom("v-roll-ok.test", tlsa=[("v-roll-ok", 3, 1, 1), ("v-roll-ok-next", 3, 1, 1)])
    vdom("v-roll-missing.test")
    z, n = vdom("v-roll-recent.test", tlsa=[])
    for t in ((n, 3, 1, 1), ("v-roll-recent-next", 3, 1, 1)):
        ttl_tlsa(z, "_25._tcp.mx1", 172800, t)
    # a group matching only a future chain: 2 0 1 of a CA not used yet
    cert("v-future-next", cn="mx1.v-future.test", sans=["mx1.v-future.test"],
         issuer="pathlen0-ca")
    vdom("v-future.test", tlsa=[("v-future", 3, 1, 1), ("pathlen0-ca", 2, 0, 1)])
    # diagnostics
    vdom("v-fragile.test", tlsa=[("v-fragile", 3, 0, 1)])
    vdom("v-sha512-only.test", tlsa=[("v-sha512-only", 3, 1, 2)])
    z, n = vdom("v-wrong-owner.test", tlsa=[])
    z.add("_465._tcp.mx1", "TLSA", w.tlsa(n, 3, 1, 1))
    z.add("_25._tcp", "TLSA", w.tlsa(n, 3, 1, 1))
    z, _ = vdom("v-rrsig-expiring.test")
    z.sig_window = (-1, 2)
    z, n = vdom("v-ttl-long.test", tlsa=[])
    ttl_tlsa(z, "_25._tcp.mx1", 172800, (n, 3, 1, 1))
    # a server that accepts the connection and never says a word
    vdom("v-silent.test", behaviour={"stall": {"stage": "greeting", "seconds": 3600}})


def write_world(w):
    st = w.state
    zdir = os.path.join(st, "dns", "zones")
    os.makedirs(zdir, exist_ok=True)
    # Resolve TLSA values given as callables (they need the cert to exist).
    with ThreadPoolExecutor(max_workers=4) as ex:
        for z in w.zones.values():
            vals = list(ex.map(lambda r: r() if callable(r) else r, [r for _, _, r in z.rrs]))
            z.rrs = [(o, t, v) for (o, t, _), v in zip(z.rrs, vals)]
    w.certs.finish()
    # Children of test. first, then test., then the root.
    tld = Zone("test.", nsec3=True)
    root = Zone(".")
    children = sorted(w.zones.values(), key=lambda z: z.name)
    files = {}
    with ThreadPoolExecutor(max_workers=4) as ex:
        futs = {z.name: ex.submit(sign_zone, zdir, z) for z in children}
        for k, f in futs.items():
            files[k] = f.result()
    tld.add("ns", "A", FAULT_ADDR)
    for z in children:
        tld.add(z.name, "NS", NS_NAME)
        for ds in z.ds:
            tld.add(z.name, "DS", " ".join(ds.split()[4:]))
    files[tld.name] = sign_zone(zdir, tld)
    root.add("test.", "NS", NS_NAME)
    root.add(NS_NAME, "A", FAULT_ADDR)
    root.add("test.", "DS", " ".join(tld.ds[0].split()[4:]))
    files[root.name] = sign_zone(zdir, root)
    with open(os.path.join(st, "root.key"), "w") as f:
        f.write(root.ds[0] + "\n")

    # nsd
    nd = os.path.join(st, "dns")
    conf = [
        "server:",
        "  ip-address: %s@%d" % (NSD_ADDR, DNS_PORT),
        "  port: %d" % DNS_PORT,
        "  do-ip6: no",
        "  username: \"\"",
        "  chroot: \"\"",
        "  database: \"\"",
        "  zonelistfile: \"%s/zone.list\"" % nd,
        "  xfrdfile: \"%s/xfrd.state\"" % nd,
        "  xfrdir: \"%s\"" % nd,
        "  pidfile: \"%s/nsd.pid\"" % nd,
        "  logfile: \"%s/nsd.log\"" % nd,
        "  server-count: 1",
        "  verbosity: 1",
        "  zonefiles-write: 0",
        "  hide-version: yes",
        "remote-control:",
        "  control-enable: no",
    ]
    for name in sorted(files):
        conf += ["zone:", "  name: \"%s\"" % name, "  zonefile: \"%s\"" % files[name]]
    with open(os.path.join(nd, "nsd.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    with open(os.path.join(nd, "faults.json"), "w") as f:
        json.dump({"upstream": "%s@%d" % (NSD_ADDR, DNS_PORT), "rules": w.faults}, f,
                  indent=1)

    # unbound: one body for libunbound (danemta, python3-unbound) and the daemon
    body = [
        "server:",
        "  verbosity: 1",
        "  trust-anchor-file: \"%s/root.key\"" % st,
        "  trust-anchor-signaling: no",
        "  root-key-sentinel: no",
        "  do-not-query-localhost: no",
        "  local-zone: \"test.\" nodefault",
        "  do-ip6: no",
        "  module-config: \"validator iterator\"",
        "  val-log-level: 2",
        "  harden-glue: yes",
        "  harden-dnssec-stripped: yes",
        "  harden-below-nxdomain: yes",
        "  harden-referral-path: no",
        "  aggressive-nsec: no",
        "  qname-minimisation: no",
        "  target-fetch-policy: \"0 0 0 0 0\"",
        "  prefetch: no",
        "  prefetch-key: no",
        "  edns-buffer-size: 1232",
        "  infra-keep-probing: yes",
        "  infra-host-ttl: 5",
        "  infra-cache-max-rtt: 1500",
        "  use-syslog: no",
    ]
    # A forward zone, not a stub: with a stub for "." unbound iterates and
    # follows the delegations to ns.test., whose address cannot carry the
    # port 5354.  Forwarding every query to the fault front (which relays to
    # nsd, authoritative for the whole hierarchy) keeps one path for every
    # query; unbound still validates every answer from the root key down.
    stub = ["forward-zone:", "  name: \".\"",
            "  forward-addr: %s@%d" % (FAULT_ADDR, DNS_PORT)]
    with open(os.path.join(st, "unbound.conf"), "w") as f:
        f.write("# libunbound configuration of the danemta test world\n")
        f.write("\n".join(body + stub) + "\n")
    ud = os.path.join(st, "unbound")
    os.makedirs(ud, exist_ok=True)
    daemon = body + [
        "  interface: %s" % RESOLVER_ADDR,
        "  port: 53",
        "  access-control: 127.0.0.0/8 allow",
        "  outgoing-interface: %s" % RESOLVER_ADDR,
        "  username: \"\"",
        "  chroot: \"\"",
        "  directory: \"%s\"" % ud,
        "  pidfile: \"%s/unbound.pid\"" % ud,
        "  logfile: \"%s/unbound.log\"" % ud,
        "  do-daemonize: no",
        "remote-control:",
        "  control-enable: no",
    ] + stub
    with open(os.path.join(ud, "unbound.conf"), "w") as f:
        f.write("\n".join(daemon) + "\n")
    # Postfix tools (posttls-finger) need a main.cf: MAIL_CONFIG=STATE/postfix
    pd = os.path.join(st, "postfix")
    os.makedirs(pd, exist_ok=True)
    with open(os.path.join(pd, "main.cf"), "w") as f:
        f.write("compatibility_level = 3.6\nsmtp_dns_support_level = dnssec\n")
    with open(os.path.join(ud, "resolv.conf"), "w") as f:
        f.write("nameserver %s\noptions trust-ad edns0\n" % RESOLVER_ADDR)

    # SMTP receivers
    sd = os.path.join(st, "smtp")
    os.makedirs(sd, exist_ok=True)
    rx = []
    for r in w.receivers:
        os.makedirs(os.path.join(r["dir"], "mail"), exist_ok=True)
        rx.append({k: v for k, v in r.items() if k not in ("cert_name", "sni_names")})
    with open(os.path.join(sd, "receivers.json"), "w") as f:
        json.dump({"receivers": rx}, f, indent=1)

    # A summary for the tests and for humans.
    summary = {
        "state": st,
        "net": NET,
        "nsd": "%s@%d" % (NSD_ADDR, DNS_PORT),
        "dnsfault": "%s@%d" % (FAULT_ADDR, DNS_PORT),
        "resolver": "%s@53" % RESOLVER_ADDR,
        "unbound_conf": os.path.join(st, "unbound.conf"),
        "root_key": os.path.join(st, "root.key"),
        "queries_log": os.path.join(nd, "queries.log"),
        "faults": os.path.join(nd, "faults.json"),
        "receivers": {r["name"]: {"address": r["address"], "port": r["port"],
                                  "hostname": r["hostname"], "dir": r["dir"],
                                  "cert": r["cert_name"], "sni": r["sni_names"],
                                  "starttls": r["starttls"],
                                  "behaviour": r["behaviour"]}
                      for r in w.receivers},
        "zones": sorted(files),
        "certs": os.path.join(st, "certs"),
    }
    with open(os.path.join(st, "world.json"), "w") as f:
        json.dump(summary, f, indent=1)


def matrix_json():
    w = World(None)
    build_world(w)
    return json.dumps(w.matrix, indent=1) + "\n"


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--matrix":
        sys.stdout.write(matrix_json())
        return 0
    if len(sys.argv) != 2:
        sys.stderr.write("usage: worldgen.py STATE | --matrix\n")
        return 2
    state = os.path.abspath(sys.argv[1])
    for sub in ("certs", "dns", "smtp", "unbound", "postfix"):
        shutil.rmtree(os.path.join(state, sub), ignore_errors=True)
    os.makedirs(state, exist_ok=True)
    w = World(state)
    build_world(w)
    write_world(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
