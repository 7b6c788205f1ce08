#!/usr/bin/python3
"""Scriptable receiving SMTP servers for the danemta test world.

One process runs many listeners (receivers) described by a JSON config:

    /usr/bin/python3 tests/world/smtpd.py --config FILE --pidfile FILE --log FILE

The process stays in the foreground, writes the pidfile once every listener
is bound, and exits with status 0 on SIGTERM or SIGINT (removing the pidfile).

This is a small hand-written asyncio server rather than aiosmtpd: the tests
need byte-level control that a framework hides (exact raw bytes, one byte per
packet, endless replies, a broken TLS handshake, closing at any step) and an
exact count of the bytes received before and after STARTTLS, which needs the
transport itself. Only the standard library is used.

Config (keys beyond these are ignored):

  {"receivers": [{
      "name": "good-ec", "address": "127.0.1.5", "port": 25,
      "hostname": "mx1.dane.test", "starttls": true,
      "cert": "<PEM chain, leaf first, or a path to such a file>",
      "key": "<key PEM, or a path>",
      "sni": {"<servername>": {"cert": "...", "key": "..."}},
      "tls_min_version": "TLSv1.2", "tls_max_version": "TLSv1.3",
      "dir": "<directory of this receiver>",
      "behaviour": {}}]}

Output, under each receiver's "dir":
  mail/<n>.eml     the message, exact bytes after dot-unstuffing (CRLF kept)
  mail/<n>.json    sidecar: mail_from, rcpt_tos, helo, tls, tls_version,
                   cipher, sni, peer, receiver, size, mail_options
                   (the sidecar is written before the .eml; both files are
                   renamed into place, and both exist before the client sees
                   the reply to the final ".")
  sessions.log     one JSON line per session when it ends: receiver, peer,
                   sni, tls, tls_version, cipher, commands, bytes_plain,
                   bytes_tls, data_bytes, messages, outcome, start, end.
                   bytes_plain/bytes_tls count every byte the server read
                   before/after the TLS handshake (plaintext pipelined after
                   STARTTLS is counted as plain and then discarded, RFC 3207);
                   data_bytes counts raw DATA content, final "." excluded.
                   outcome: quit, client-closed, client-closed-in-data,
                   closed-at-<S>, closed-421, dropped-in-data, flood,
                   tls-fail, tls-handshake-failed, timeout,
                   connection-error, shutdown, error.
                   After QUIT the line is written before the 221 is sent;
                   otherwise it is written right after the connection ends.
  behaviour.json   optional; re-read at every new connection, replaces the
                   config's "behaviour" (write it atomically: tmp + rename).

Behaviour keys (stages S: greeting, ehlo, helo, starttls, tls_ehlo, mail,
rcpt, data, dot, rset, quit):
  hide_starttls: bool            do not advertise STARTTLS, answer it 502
  starttls_reply: "454 ..."      answer STARTTLS with this reply
  tls_fail: true|"garbage"|"alert"|"close"
                                 answer 220 to STARTTLS, then break the
                                 handshake (garbage bytes, a fatal TLS alert,
                                 or a plain close)
  helo_only: bool                EHLO gets 502, HELO works
  require_tls: bool              MAIL before STARTTLS gets 530
  stall: {"stage": S, "seconds": N} or a list of them
  reply: {S: "451 4.3.0 text"}   replaces the reply at S; "\n" separates the
                                 lines of a multi-line reply, whose code and
                                 continuation marks are supplied from the
                                 first line when absent
  rcpt_reject: {"addr": "550 5.1.1 ..."}
  drop_in_data: true | {"after_bytes": N, "reset": false}
                                 close (or reset) once N (default 1) bytes
                                 of message content were received
  max_messages_per_connection: N  the MAIL after N messages gets 421 + close
  size: N                        the SIZE limit advertised and enforced
  ehlo_extensions: [..]          replaces PIPELINING, SIZE, 8BITMIME,
                                 ENHANCEDSTATUSCODES (STARTTLS is still
                                 added as usual)
  timeout: seconds               idle timeout per command (default 300)
  raw: {S: "bytes"}              send exactly these bytes (code points
                                 0-255, so "\u0000" is a NUL; a string with
                                 higher code points is sent as UTF-8) instead
                                 of the reply at S; a leading 3-digit code
                                 decides what happens next, as for "reply"
  flood_lines: {"stage": S, "seconds": 30, "bytes": 52428800}
                                 send "250-xxx" lines until the client hangs
                                 up or a limit is reached, then close (an
                                 orderly close at the byte limit, a reset at
                                 the time limit)
  big_reply: {"stage": S, "bytes": N, "code": C, "single_line": false}
                                 a reply of N bytes (multi-line by default)
  byte_per_packet: true | {"delay": seconds}
                                 every reply (not floods nor big replies)
                                 written one byte at a time, TCP_NODELAY,
                                 drained, with a small delay between bytes
  close_at: S or [S, ...]        close the connection right when S begins

A reply with code 421 always closes the connection after it is sent. A 4xx
or 5xx greeting puts the session in the state RFC 5321 section 3.1 asks for:
QUIT gets 221, everything else 503.
"""

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import socket
import ssl
import struct
import sys
import tempfile
import time

LINE_MAX = 2048  # RFC 5321 text line is 1000 octets; this is the slack
BUFFER_HIGH = 256 * 1024  # pause reading above this many buffered bytes
BUFFER_LOW = 64 * 1024
COMMANDS_MAX = 1000  # verbs kept per session in sessions.log
DEFAULT_SIZE = 10485760
DEFAULT_TIMEOUT = 300.0
HANDSHAKE_TIMEOUT = 30.0
FLOOD_SECONDS = 30.0
FLOOD_BYTES = 50 * 1024 * 1024
STAGES = (
    "greeting",
    "ehlo",
    "helo",
    "starttls",
    "tls_ehlo",
    "mail",
    "rcpt",
    "data",
    "dot",
    "rset",
    "quit",
)
BEHAVIOUR_KEYS = (
    "hide_starttls",
    "starttls_reply",
    "tls_fail",
    "helo_only",
    "require_tls",
    "stall",
    "reply",
    "rcpt_reject",
    "drop_in_data",
    "max_messages_per_connection",
    "size",
    "ehlo_extensions",
    "timeout",
    "raw",
    "flood_lines",
    "big_reply",
    "byte_per_packet",
    "close_at",
)
NORMAL_CODE = {"greeting": 220, "starttls": 220, "data": 354, "quit": 221}

log = logging.getLogger("smtpd")


class SessionEnd(Exception):
    """The session is over; the argument is the outcome."""


def to_bytes(text):
    """JSON string to bytes: code points 0-255 map to single bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def reply_code(data):
    """The three-digit code at the start of a reply, or None."""
    if len(data) >= 3 and data[:3].isdigit():
        return int(data[:3])
    return None


def format_reply(text):
    """Turn "451 4.3.0 a\\nmore" into a well-formed (multi-line) reply."""
    lines = text.replace("\r\n", "\n").split("\n")
    while len(lines) > 1 and lines[-1] == "":
        lines.pop()
    m = re.match(r"^(\d{3})(?:[ -](.*))?$", lines[0])
    if not m:
        # Not a reply at all: send the lines as given.
        return b"".join(to_bytes(l) + b"\r\n" for l in lines)
    code = m.group(1)
    texts = [m.group(2) or ""]
    for l in lines[1:]:
        m2 = re.match(r"^\d{3}(?:[ -](.*))?$", l)
        texts.append(m2.group(1) or "" if m2 else l)
    out = []
    for i, t in enumerate(texts):
        sep = " " if i == len(texts) - 1 else "-"
        out.append(to_bytes(code + sep + t) + b"\r\n")
    return b"".join(out)


def pem_file(value, directory, name):
    """Config "cert"/"key" values are PEM text or a path to a file."""
    if "-----BEGIN" not in value:
        return value
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return path


TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def make_context(rc, cert, key, workdir, tag):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[rc.get("tls_min_version", "TLSv1.2")]
    ctx.maximum_version = TLS_VERSIONS[rc.get("tls_max_version", "TLSv1.3")]
    ctx.load_cert_chain(
        pem_file(cert, workdir, tag + ".crt"), pem_file(key, workdir, tag + ".key")
    )
    return ctx


def write_atomic(path, data):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def append_line(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class Receiver:
    """One listener: its config, TLS contexts and storage."""

    def __init__(self, rc):
        self.rc = rc
        self.name = rc.get("name") or "%s:%s" % (rc["address"], rc["port"])
        self.address = rc["address"]
        self.port = int(rc["port"])
        self.hostname = rc.get("hostname", "localhost")
        self.dir = rc["dir"]
        self.maildir = os.path.join(self.dir, "mail")
        os.makedirs(self.maildir, exist_ok=True)
        self.sessions_log = os.path.join(self.dir, "sessions.log")
        self.behaviour_file = os.path.join(self.dir, "behaviour.json")
        self.counter = 0
        for f in os.listdir(self.maildir):
            m = re.match(r"^(\d+)\.(eml|json)$", f)
            if m:
                self.counter = max(self.counter, int(m.group(1)))
        if isinstance(rc.get("behaviour"), dict):
            self.check_behaviour(rc["behaviour"])
        self.ssl = None
        self.sni_contexts = {}
        if rc.get("starttls") and rc.get("cert") and rc.get("key"):
            keydir = os.path.join(self.dir, "tls")
            self.ssl = make_context(rc, rc["cert"], rc["key"], keydir, "default")
            for i, (sn, v) in enumerate(sorted((rc.get("sni") or {}).items())):
                self.sni_contexts[sn.lower().rstrip(".")] = make_context(
                    rc, v["cert"], v["key"], keydir, "sni%d" % i
                )
            self.ssl.sni_callback = self.on_sni

    def on_sni(self, sslobj, servername, ctx):
        try:
            sslobj.danemta_sni = servername
            if servername:
                alt = self.sni_contexts.get(servername.lower().rstrip("."))
                if alt is not None:
                    sslobj.context = alt
        except Exception:  # never let a hostile name crash the server
            log.exception("%s: SNI callback", self.name)
        return None

    def behaviour(self):
        try:
            with open(self.behaviour_file, "rb") as f:
                b = json.loads(f.read())
            if not isinstance(b, dict):
                raise ValueError("behaviour.json is not an object")
            self.check_behaviour(b)
            return b
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            log.error("%s: ignoring %s: %s", self.name, self.behaviour_file, e)
        b = self.rc.get("behaviour") or {}
        return b if isinstance(b, dict) else {}

    def check_behaviour(self, b):
        """Warn (in the log) about keys and stages nobody acts on: a typo
        in a test's behaviour would otherwise pass silently."""
        bad = []
        for k, v in b.items():
            if k not in BEHAVIOUR_KEYS:
                bad.append(k)
            elif k in ("reply", "raw") and isinstance(v, dict):
                bad += ["%s.%s" % (k, s) for s in v if s not in STAGES]
            elif k in ("stall", "flood_lines", "big_reply"):
                for x in v if isinstance(v, list) else [v]:
                    if not isinstance(x, dict) or x.get("stage") not in STAGES:
                        bad.append(k)
            elif k == "close_at":
                for x in v if isinstance(v, list) else [v]:
                    if x not in STAGES:
                        bad.append("close_at.%s" % x)
        if bad:
            log.warning("%s: behaviour has unknown keys/stages: %s", self.name, bad)

    def next_id(self):
        self.counter += 1
        return self.counter

    def store(self, n, sidecar, message):
        write_atomic(
            os.path.join(self.maildir, "%d.json" % n),
            (json.dumps(sidecar, indent=1, sort_keys=True) + "\n").encode(),
        )
        write_atomic(os.path.join(self.maildir, "%d.eml" % n), message)


class Conn(asyncio.Protocol):
    """Transport glue: an input buffer with byte counters and flow control."""

    def __init__(self, server):
        self.server = server
        self.transport = None
        self.buf = bytearray()
        self.eof = False
        self.lost = False
        self.tls = False
        self.bytes_plain = 0
        self.bytes_tls = 0
        self.read_paused = False
        self.write_paused = False
        self.waiter = None
        self.drain_waiter = None
        self.task = None

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.task = asyncio.get_running_loop().create_task(
            Session(self.server, self).run()
        )
        self.server.tasks.add(self.task)
        self.task.add_done_callback(self.server.tasks.discard)

    def data_received(self, data):
        if self.tls:
            self.bytes_tls += len(data)
        else:
            self.bytes_plain += len(data)
        self.buf += data
        if len(self.buf) > BUFFER_HIGH and not self.read_paused:
            self.read_paused = True
            try:
                self.transport.pause_reading()
            except (AttributeError, RuntimeError):
                pass
        self.wake()

    def eof_received(self):
        self.eof = True
        self.wake()
        return False

    def connection_lost(self, exc):
        self.eof = True
        self.lost = True
        self.wake()
        w = self.drain_waiter
        if w is not None and not w.done():
            w.set_exception(ConnectionResetError("connection lost"))

    def pause_writing(self):
        self.write_paused = True

    def resume_writing(self):
        self.write_paused = False
        w = self.drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    # helpers
    def wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def consumed(self):
        if self.read_paused and len(self.buf) < BUFFER_LOW and not self.lost:
            self.read_paused = False
            try:
                self.transport.resume_reading()
            except (AttributeError, RuntimeError):
                pass

    async def wait_data(self):
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    async def readline(self):
        """A line with its ending; (bytes, complete). Partial pieces of an
        over-long line come back with complete=False. b"" means EOF."""
        while True:
            i = self.buf.find(b"\n", 0, LINE_MAX)
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                self.consumed()
                return line, True
            if len(self.buf) >= LINE_MAX:
                line = bytes(self.buf[:LINE_MAX])
                del self.buf[:LINE_MAX]
                self.consumed()
                return line, False
            if self.eof:
                line = bytes(self.buf)
                self.buf.clear()
                return line, False
            await self.wait_data()

    async def wait_any(self, seconds):
        """Wait up to seconds for some input (or EOF)."""
        if self.buf or self.eof:
            return
        try:
            await asyncio.wait_for(self.wait_data(), seconds)
        except asyncio.TimeoutError:
            pass

    def closing(self):
        return self.lost or self.transport is None or self.transport.is_closing()

    async def write(self, data):
        if self.closing():
            raise ConnectionResetError("connection closed")
        self.transport.write(data)
        await self.drain()

    async def drain(self):
        if self.lost:
            raise ConnectionResetError("connection lost")
        if self.write_paused:
            self.drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self.drain_waiter
            finally:
                self.drain_waiter = None

    def close(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort_if_open(self):
        if not self.lost:
            self.abort()

    def abort(self):
        """Close at once: a reset, whatever is still unsent."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                pass
        self.transport.abort()


class Session:
    """The SMTP dialogue of one connection."""

    def __init__(self, server, conn):
        self.server = server
        self.rcv = server.receiver_of(conn)
        self.conn = conn
        self.b = self.rcv.behaviour()
        self.peer = conn.transport.get_extra_info("peername")
        self.commands = []
        self.data_bytes = 0
        self.messages = 0
        self.helo = None
        self.sni = None
        self.tls_version = None
        self.cipher = None
        self.rejected = False
        self.start = time.time()
        self.reset()

    def reset(self):
        self.mail_from = None
        self.mail_options = []
        self.rcpt_tos = []

    # behaviour lookups
    def stage_map(self, key):
        v = self.b.get(key)
        return v if isinstance(v, dict) else {}

    def stage_list(self, key):
        v = self.b.get(key)
        if isinstance(v, dict):
            return [v]
        if isinstance(v, list):
            return [x for x in v if isinstance(x, dict)]
        return []

    def closes_at(self, stage):
        v = self.b.get("close_at")
        return v == stage or (isinstance(v, list) and stage in v)

    # output
    async def send(self, data):
        bpp = self.b.get("byte_per_packet")
        if not bpp:
            await self.conn.write(data)
            return
        delay = 0.001
        if isinstance(bpp, dict):
            delay = float(bpp.get("delay", delay))
        elif isinstance(bpp, (int, float)) and not isinstance(bpp, bool):
            delay = float(bpp)
        for i in range(len(data)):
            await self.conn.write(data[i : i + 1])
            # No pause after the last byte: the client may answer at once
            # (a ClientHello after the 220 to STARTTLS must reach start_tls,
            # not the plain-text buffer).
            if delay > 0 and i + 1 < len(data):
                await asyncio.sleep(delay)

    async def flood(self, spec):
        seconds = float(spec.get("seconds", FLOOD_SECONDS))
        limit = int(spec.get("bytes", FLOOD_BYTES))
        line = b"250-" + b"x" * 500 + b"\r\n"
        sent = 0

        async def pump():
            nonlocal sent
            while sent < limit:
                await self.conn.write(line)
                sent += len(line)

        try:
            await asyncio.wait_for(pump(), seconds)
        except (asyncio.TimeoutError, ConnectionError):
            # out of time (or the client hung up): reset, drop what is unsent
            self.conn.abort()
        # at the byte limit the close is orderly: the client gets every byte
        log.info("%s: flood sent %d bytes", self.rcv.name, sent)
        raise SessionEnd("flood")

    async def big(self, spec, code):
        n = max(int(spec.get("bytes", 10 * 1024 * 1024)), 6)
        code = "%03d" % code
        if spec.get("single_line"):
            await self.conn.write(code.encode() + b" " + b"y" * (n - 6) + b"\r\n")
            return
        body = 998
        while n > 0:
            chunk = min(n, body + 6)
            last = n - chunk < 8  # too little left for another line
            if last:
                chunk = n
            sep = b" " if last else b"-"
            await self.conn.write(code.encode() + sep + b"y" * (chunk - 6) + b"\r\n")
            n -= chunk

    async def respond(self, stage, normal, before=None):
        """Run stage: close_at, stall, then raw / flood / big / override /
        the normal reply. before(code), if given, runs just before the reply
        is sent. Returns the code the client was given (or None)."""
        if self.closes_at(stage):
            raise SessionEnd("closed-at-" + stage)
        for st in self.stage_list("stall"):
            if st.get("stage") == stage:
                await asyncio.sleep(float(st.get("seconds", 0)))
        fl = self.b.get("flood_lines")
        bg = self.b.get("big_reply")
        raw = self.stage_map("raw").get(stage)
        ov = self.stage_map("reply").get(stage)
        if isinstance(raw, str):
            data = to_bytes(raw)
        elif isinstance(fl, dict) and fl.get("stage") == stage:
            await self.flood(fl)
        elif isinstance(bg, dict) and bg.get("stage") == stage:
            code = int(bg.get("code", NORMAL_CODE.get(stage, 250)))
            if before is not None:
                await before(code)
            await self.big(bg, code)
            return code
        else:
            data = format_reply(ov if isinstance(ov, str) else normal)
        code = reply_code(data)
        if before is not None:
            await before(code)
        await self.send(data)
        if code == 421:
            raise SessionEnd("closed-421")
        return code

    async def say(self, text):
        """A reply outside any stage (NOOP, errors)."""
        data = format_reply(text)
        await self.send(data)
        if reply_code(data) == 421:
            raise SessionEnd("closed-421")

    # input
    async def read_command(self):
        timeout = float(self.b.get("timeout", DEFAULT_TIMEOUT))
        while True:
            try:
                line, complete = await asyncio.wait_for(self.conn.readline(), timeout)
            except asyncio.TimeoutError:
                await self.timed_out()
            if line == b"":
                raise SessionEnd("client-closed")
            if complete:
                return line
            # over-long line: discard through its end, then complain
            while not complete:
                if line == b"":
                    raise SessionEnd("client-closed")
                try:
                    line, complete = await asyncio.wait_for(
                        self.conn.readline(), timeout
                    )
                except asyncio.TimeoutError:
                    await self.timed_out()
            await self.say("500 5.5.2 Error: line too long")

    async def timed_out(self):
        try:
            await self.conn.write(
                b"421 4.4.2 %s Error: timeout exceeded\r\n" % self.rcv.hostname.encode()
            )
        except ConnectionError:
            pass
        raise SessionEnd("timeout")

    def note(self, verb):
        if len(self.commands) < COMMANDS_MAX:
            self.commands.append(verb)

    # the dialogue
    async def run(self):
        outcome = "error"
        try:
            try:
                await self.dialogue()
            except SessionEnd as e:
                outcome = e.args[0]
            except (ConnectionError, ssl.SSLError, OSError) as e:
                outcome = "connection-error"
                log.info("%s: %s: %s", self.rcv.name, self.peer, e)
            except asyncio.CancelledError:
                outcome = "shutdown"
            except Exception:
                log.exception("%s: session from %s", self.rcv.name, self.peer)
            if outcome != "quit":
                await self.finish(outcome)
        finally:
            self.conn.close()
            # a client that never reads must not keep the socket forever
            asyncio.get_running_loop().call_later(10.0, self.conn.abort_if_open)

    async def finish(self, outcome):
        if getattr(self, "_finished", False):
            return
        self._finished = True
        rec = {
            "receiver": self.rcv.name,
            "peer": self.peer_text(),
            "sni": self.sni,
            "tls": self.tls_version is not None,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "commands": self.commands,
            "bytes_plain": self.conn.bytes_plain,
            "bytes_tls": self.conn.bytes_tls,
            "data_bytes": self.data_bytes,
            "messages": self.messages,
            "outcome": outcome,
            "start": round(self.start, 3),
            "end": round(time.time(), 3),
        }
        line = (json.dumps(rec, sort_keys=True) + "\n").encode()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.shield(
                loop.run_in_executor(None, append_line, self.rcv.sessions_log, line)
            )
        except Exception:
            log.exception("%s: writing %s", self.rcv.name, self.rcv.sessions_log)
        log.info(
            "%s: session %s %s %s",
            self.rcv.name,
            rec["peer"],
            outcome,
            " ".join(self.commands[:40]),
        )

    def peer_text(self):
        if not self.peer:
            return None
        return "%s:%s" % (self.peer[0], self.peer[1])

    def ehlo_lines(self, arg):
        b = self.b
        lines = ["%s greets %s" % (self.rcv.hostname, arg or "[unknown]")]
        ext = b.get("ehlo_extensions")
        if isinstance(ext, list):
            lines += [str(x) for x in ext]
        else:
            size = int(b.get("size", DEFAULT_SIZE))
            lines += ["PIPELINING", "SIZE %d" % size, "8BITMIME", "ENHANCEDSTATUSCODES"]
        if self.can_starttls() and not b.get("hide_starttls"):
            lines.append("STARTTLS")
        return "250 " + "\n".join(lines)

    def can_starttls(self):
        return self.rcv.ssl is not None and not self.conn.tls

    async def dialogue(self):
        h = self.rcv.hostname
        code = await self.respond("greeting", "220 %s ESMTP danemta test receiver" % h)
        if code is None or code >= 400:
            self.rejected = True
        while True:
            line = await self.read_command()
            text = line.rstrip(b"\r\n").decode("latin-1")
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            arg = arg.strip()
            self.note(verb[:16] if verb.isalpha() else "?")
            if self.rejected and verb != "QUIT":
                await self.say("503 5.5.1 Error: service not available")
                continue
            handler = getattr(self, "cmd_" + verb.lower(), None) if verb.isalpha() else None
            if handler is None:
                await self.say("500 5.5.2 Error: command not recognized")
                continue
            await handler(arg)

    async def cmd_ehlo(self, arg):
        stage = "tls_ehlo" if self.conn.tls else "ehlo"
        if not arg:
            await self.say("501 5.5.4 Syntax: EHLO hostname")
            return
        if self.b.get("helo_only"):
            await self.respond(stage, "502 5.5.1 Error: command not implemented")
            return
        code = await self.respond(stage, self.ehlo_lines(arg))
        if code is not None and 200 <= code < 300:
            self.helo = arg
            self.reset()

    async def cmd_helo(self, arg):
        if not arg:
            await self.say("501 5.5.4 Syntax: HELO hostname")
            return
        code = await self.respond("helo", "250 %s" % self.rcv.hostname)
        if code is not None and 200 <= code < 300:
            self.helo = arg
            self.reset()

    async def cmd_starttls(self, arg):
        b = self.b
        if self.conn.tls:
            await self.say("503 5.5.1 Error: TLS already active")
            return
        if not self.can_starttls() or b.get("hide_starttls"):
            await self.respond("starttls", "502 5.5.1 Error: command not implemented")
            return
        normal = b.get("starttls_reply") or "220 2.0.0 Ready to start TLS"
        code = await self.respond("starttls", normal)
        if code != 220:
            return
        # RFC 3207: anything the client pipelined after STARTTLS is discarded
        self.conn.buf.clear()
        fail = b.get("tls_fail")
        if fail:
            await self.conn.wait_any(2.0)  # let the ClientHello arrive
            if fail == "alert":
                await self.conn.write(b"\x15\x03\x03\x00\x02\x02\x28")
            elif fail != "close":
                await self.conn.write(b"\x00\xffthis is not TLS\r\n" * 4)
            raise SessionEnd("tls-fail")
        loop = asyncio.get_running_loop()
        self.conn.tls = True
        try:
            tr = await loop.start_tls(
                self.conn.transport,
                self.conn,
                self.rcv.ssl,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )
        except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError) as e:
            log.info("%s: TLS handshake from %s failed: %s", self.rcv.name, self.peer, e)
            raise SessionEnd("tls-handshake-failed")
        if tr is None:
            raise SessionEnd("tls-handshake-failed")
        self.conn.transport = tr
        sslobj = tr.get_extra_info("ssl_object")
        self.sni = getattr(sslobj, "danemta_sni", None)
        self.tls_version = sslobj.version()
        c = sslobj.cipher()
        self.cipher = c[0] if c else None
        self.helo = None
        self.reset()

    async def cmd_mail(self, arg):
        if self.helo is None:
            await self.say("503 5.5.1 Error: send HELO/EHLO first")
            return
        if self.mail_from is not None:
            await self.say("503 5.5.1 Error: nested MAIL command")
            return
        if self.b.get("require_tls") and not self.conn.tls:
            await self.say("530 5.7.0 Must issue a STARTTLS command first")
            return
        m = re.match(r"^FROM:\s*<([^<>]*)>(.*)$", arg, re.I)
        if not m:
            await self.say("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        opts = m.group(2).split()
        size = int(self.b.get("size", DEFAULT_SIZE))
        for o in opts:
            k, _, v = o.partition("=")
            if k.upper() == "SIZE" and v.isdigit() and int(v) > size:
                await self.say("552 5.3.4 Error: message too big")
                return
        mx = self.b.get("max_messages_per_connection")
        if isinstance(mx, int) and self.messages >= mx:
            await self.say("421 4.7.0 %s Error: too many messages" % self.rcv.hostname)
            return
        code = await self.respond("mail", "250 2.1.0 Ok")
        if code is not None and 200 <= code < 300:
            self.mail_from = m.group(1)
            self.mail_options = opts

    async def cmd_rcpt(self, arg):
        if self.mail_from is None:
            await self.say("503 5.5.1 Error: need MAIL command")
            return
        m = re.match(r"^TO:\s*<([^<>]*)>(.*)$", arg, re.I)
        if not m:
            await self.say("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        addr = m.group(1)
        rej = {k.lower(): v for k, v in self.stage_map("rcpt_reject").items()}
        if addr.lower() in rej:
            await self.say(str(rej[addr.lower()]))
            return
        code = await self.respond("rcpt", "250 2.1.5 Ok")
        if code is not None and 200 <= code < 300:
            self.rcpt_tos.append(addr)

    async def cmd_data(self, arg):
        if self.mail_from is None:
            await self.say("503 5.5.1 Error: need MAIL command")
            return
        if not self.rcpt_tos:
            await self.say("554 5.5.1 Error: no valid recipients")
            return
        code = await self.respond("data", "354 End data with <CR><LF>.<CR><LF>")
        if code != 354:
            return
        msg, ok = await self.read_data()
        n = self.rcv.next_id()
        if not ok:
            await self.respond("dot", "552 5.3.4 Error: message too big")
            self.reset()
            return
        sidecar = {
            "receiver": self.rcv.name,
            "peer": self.peer_text(),
            "mail_from": self.mail_from,
            "mail_options": self.mail_options,
            "rcpt_tos": self.rcpt_tos,
            "helo": self.helo,
            "tls": self.tls_version is not None,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "sni": self.sni,
            "size": len(msg),
        }

        async def store(code):
            # stored before the client holds a 2xx, and only then
            if code is not None and 200 <= code < 300:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, self.rcv.store, n, sidecar, msg)
                self.messages += 1

        await self.respond("dot", "250 2.0.0 Ok: queued as %d" % n, store)
        self.reset()

    async def read_data(self):
        """Message content up to the final dot; (bytes, within size)."""
        timeout = float(self.b.get("timeout", DEFAULT_TIMEOUT))
        size = int(self.b.get("size", DEFAULT_SIZE))
        drop = self.b.get("drop_in_data")
        drop_after = None
        reset = False
        if drop:
            drop_after = 1
            if isinstance(drop, dict):
                drop_after = max(int(drop.get("after_bytes", 1)), 1)
                reset = bool(drop.get("reset"))
        parts = []
        stored = 0
        too_big = False
        at_start = True
        while True:
            try:
                line, complete = await asyncio.wait_for(self.conn.readline(), timeout)
            except asyncio.TimeoutError:
                await self.timed_out()
            if line == b"":
                raise SessionEnd("client-closed-in-data")
            if at_start and line == b".\r\n":
                break
            self.data_bytes += len(line)
            if at_start and line.startswith(b"."):
                line = line[1:]
            at_start = complete
            if not too_big:
                if stored + len(line) > size:
                    too_big = True
                    parts = []
                else:
                    parts.append(line)
                    stored += len(line)
            if drop_after is not None and self.data_bytes >= drop_after:
                if reset:
                    self.conn.abort()
                else:
                    self.conn.close()
                raise SessionEnd("dropped-in-data")
            if self.conn.eof and not self.conn.buf and not complete:
                raise SessionEnd("client-closed-in-data")
        return b"".join(parts), not too_big

    async def cmd_rset(self, arg):
        self.reset()
        await self.respond("rset", "250 2.0.0 Ok")

    async def cmd_quit(self, arg):
        # the sessions.log line exists before the client sees the 221
        if not self.closes_at("quit"):
            await self.finish("quit")
        await self.respond("quit", "221 2.0.0 Bye")
        raise SessionEnd("quit")

    async def cmd_noop(self, arg):
        await self.say("250 2.0.0 Ok")

    async def cmd_vrfy(self, arg):
        await self.say("252 2.0.0 Cannot VRFY user")

    async def cmd_help(self, arg):
        await self.say("214 2.0.0 danemta test receiver")


class Server:
    def __init__(self, receivers):
        self.receivers = receivers
        self.servers = []
        self.tasks = set()
        self.by_sockname = {}

    def receiver_of(self, conn):
        sn = conn.transport.get_extra_info("sockname")
        return self.by_sockname[(sn[0], sn[1])]

    async def start(self):
        loop = asyncio.get_running_loop()
        for r in self.receivers:
            srv = await loop.create_server(
                lambda: Conn(self),
                host=r.address,
                port=r.port,
                reuse_address=True,
                backlog=512,
            )
            self.servers.append(srv)
            for s in srv.sockets:
                sn = s.getsockname()
                self.by_sockname[(sn[0], sn[1])] = r
            log.info("%s: listening on %s:%d", r.name, r.address, r.port)

    async def stop(self):
        for s in self.servers:
            s.close()
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)
        for s in self.servers:
            await s.wait_closed()


async def amain(args):
    with open(args.config, "rb") as f:
        config = json.loads(f.read())
    receivers = [Receiver(rc) for rc in config.get("receivers", [])]
    names = [r.name for r in receivers]
    if len(set(names)) != len(names):
        raise SystemExit("smtpd: receiver names must be unique")
    server = Server(receivers)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pd = os.path.dirname(os.path.abspath(args.pidfile))
    write_atomic_text = ("%d\n" % os.getpid()).encode()
    fd, tmp = tempfile.mkstemp(dir=pd, prefix=".pid-")
    with os.fdopen(fd, "wb") as f:
        f.write(write_atomic_text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, args.pidfile)
    log.info("ready: %d receivers, pid %d", len(receivers), os.getpid())
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await server.stop()
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
        log.info("stopped")


def main():
    p = argparse.ArgumentParser(description="danemta test-world SMTP receivers")
    p.add_argument("--config", required=True)
    p.add_argument("--pidfile", required=True)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    logging.basicConfig(
        filename=args.log,
        level=logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )
    # asyncio reports client resets at ERROR level; they are normal here
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        asyncio.run(amain(args))
    except SystemExit:
        raise
    except Exception as e:
        log.exception("fatal")
        print("smtpd: %s (see %s)" % (e, args.log), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
