#!/usr/bin/env python3
"""Black-box integration tests of Tandem with sipp (Debian package sip-tester).

Each test starts the real `tandem` binary and sipp peers inside a fresh,
loopback-only network namespace, so nothing leaves the machine and ports never
collide with anything else. The script re-executes itself through
`unshare --net` (it needs root, as CI has).

    python3 sipp_tests.py --tandem build/dev/src/app/tandem --run call
    python3 sipp_tests.py --tandem ... --run call --keep    # keep the temp dir
    TANDEM_KEEP_FAILED=1 python3 sipp_tests.py ...           # keep it only on failure
    python3 sipp_tests.py --list

Scenarios live in scenarios/*.xml; their {{PLACEHOLDERS}} are filled in here
and the rendered copies, sipp's message/error logs and Tandem's stderr are
written to the test's temporary directory.

Standard library only.
"""

import argparse
import ctypes
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
NETNS_MARK = "TANDEM_INTEGRATION_NETNS"

DOMAIN = "tandem.test"
TANDEM_IP = "127.0.0.1"
SIP_PORT = 5060
TLS_PORT = 5061
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}


class TestFailure(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            content = f.read().splitlines()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(content[-lines:]) if content else "(empty)"


# --------------------------------------------------------------------------- namespace


def enter_namespace(argv):
    """Re-executes this script in a new network namespace (once)."""
    if os.environ.get(NETNS_MARK) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
        interfaces = sorted(name for _, name in socket.if_nameindex())
        if interfaces != ["lo"]:
            sys.exit(f"refusing to run: expected a loopback-only network namespace, found {interfaces}")
        return
    if os.geteuid() != 0:
        sys.exit("the integration tests need root: they run in a private network namespace (unshare --net)")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        sys.exit("the integration tests need `unshare` (util-linux) and `ip` (iproute2)")
    env = dict(os.environ, **{NETNS_MARK: "1"})
    cmd = ["unshare", "--net", "--fork", "--kill-child", "--",
           sys.executable, os.path.abspath(__file__)] + argv
    os.execvpe("unshare", cmd, env)


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: children die with the harness, even if it is killed.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def port_bound(proto, port, ip=None, listening=True):
    """True when a socket is bound to `port` in this namespace (/proc/net/*)."""
    files = {"udp": ["/proc/net/udp", "/proc/net/udp6"], "tcp": ["/proc/net/tcp", "/proc/net/tcp6"]}[proto]
    for name in files:
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    addr_hex, port_hex = local.rsplit(":", 1)
                    if int(port_hex, 16) != port:
                        continue
                    if proto == "tcp" and listening and state != "0A":
                        continue
                    if ip is not None and len(addr_hex) == 8:
                        addr = socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1])
                        if addr not in (ip, "0.0.0.0"):
                            continue
                    return True
        except OSError:
            pass
    return False


def wait_for(what, predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- SIP messages


COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}


class SipMessage:
    def __init__(self, text, direction="", transport=""):
        self.raw = text
        self.direction = direction  # "sent" / "received" (sipp's point of view)
        self.transport = transport
        head, _, self.body = text.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        self.start = lines[0].strip()
        self.headers = []  # (lower-case long name, value)
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), value.strip()))

    @property
    def is_response(self):
        return self.start.startswith("SIP/2.0 ")

    @property
    def status(self):
        return int(self.start.split()[1]) if self.is_response else None

    @property
    def reason(self):
        parts = self.start.split(" ", 2)
        return parts[2].strip() if self.is_response and len(parts) > 2 else ""

    @property
    def method(self):
        return None if self.is_response else self.start.split()[0]

    def all(self, name):
        """Every value of a header, comma-separated lists split (not for Date etc.)."""
        name = COMPACT.get(name.lower(), name.lower())
        out = []
        for n, v in self.headers:
            if n == name:
                out.extend(split_commas(v) if name in ("via", "record-route", "route", "contact") else [v])
        return out

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    @property
    def cseq_method(self):
        cseq = self.get("cseq") or ""
        parts = cseq.split()
        return parts[1] if len(parts) > 1 else ""

    def to_tag(self):
        m = re.search(r";\s*tag=([^;>\s]+)", self.get("to") or "")
        return m.group(1) if m else ""

    def __repr__(self):
        return f"<{self.direction} {self.start}>"


def split_commas(value):
    """Splits a header value on commas outside <> and quotes."""
    out, cur, depth, quoted = [], "", 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_uri(text):
    """(scheme, user, host, port, params) of a SIP URI, name-addr or not."""
    m = re.search(r"<([^>]*)>", text)
    uri = m.group(1) if m else text.split(";")[0].strip()
    if m is None:
        # addr-spec without <>: parameters after it belong to the header.
        uri = text.strip()
    scheme, _, rest = uri.partition(":")
    rest, _, params_text = rest.partition(";")
    user, at, hostport = rest.rpartition("@")
    if not at:
        user, hostport = "", rest
    host, port = hostport, None
    if hostport.startswith("["):
        host, _, p = hostport[1:].partition("]")
        port = int(p[1:]) if p.startswith(":") else None
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    params = {}
    for p in params_text.split(";"):
        if p:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip()
    return scheme.lower(), user, host, port, params


def parse_params(header_value):
    """The ;params after the URI of a name-addr (Contact expires, Via branch, ...)."""
    after = header_value.split(">", 1)[1] if ">" in header_value else header_value.split(";", 1)[-1]
    params = {}
    for p in after.split(";"):
        k, _, v = p.partition("=")
        if k.strip():
            params[k.strip().lower()] = v.strip()
    return params


def parse_auth(value):
    scheme, _, rest = value.strip().partition(" ")
    params = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("([^"]*)"|[^,\s]+)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return scheme, params


def read_sipp_messages(path):
    """Parses sipp's -trace_msg log into SipMessage objects (in order)."""
    try:
        with open(path, "r", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    chunks = re.split(r"^-{20,}[^\n]*\n", text, flags=re.M)
    for chunk in chunks:
        m = re.match(r"\s*(UDP|TCP|TLS|SCTP) message (sent|received)[^\n]*\n\n?", chunk)
        if not m:
            continue
        body = chunk[m.end():]
        out.append(SipMessage(body.rstrip("\n") + "\n", m.group(2), m.group(1)))
    return out


def expect(condition, message):
    if not condition:
        raise TestFailure(message)


# --------------------------------------------------------------------------- processes


class Context:
    """One test: its temp dir and everything it started."""

    def __init__(self, args, name):
        self.args = args
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"tandem-it-{name}-")
        self.tandems = []
        self.sipps = []
        self.relays = []
        self.processes = []  # other helpers (dnsmasq)
        self._cp = 8800
        self._mp = 16000

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def next_ports(self):
        """A control port and a media port for one sipp process."""
        self._cp += 1
        self._mp += 10
        return self._cp, self._mp

    def cleanup(self):
        for s in self.sipps:
            s.kill()
        for r in self.relays:
            r.stop()
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        problems = []
        for t in self.tandems:
            if t.running():
                problems.extend(t.stop())
        return problems


class Tandem:
    def __init__(self, ctx, data_dir=None, listen=None, extra_args=None, tag="tandem", domain=DOMAIN):
        self.ctx = ctx
        self.domain = domain
        self.binary = ctx.args.tandem
        self.data_dir = data_dir or ctx.path("data")
        self.listen = listen or [f"udp:{TANDEM_IP}:{SIP_PORT}", f"tcp:{TANDEM_IP}:{SIP_PORT}"]
        self.extra_args = extra_args or []
        self.tag = tag
        self.proc = None
        self.starts = 0
        self.stderr_path = None
        os.makedirs(self.data_dir, exist_ok=True)
        ctx.tandems.append(self)

    def add_user(self, name, password):
        cmd = [self.binary, "user", "add", name, "--password", password,
               "--data-dir", self.data_dir, "--domain", self.domain]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"`{' '.join(cmd)}` did not finish within 20s")
        expect(r.returncode == 0, f"`{' '.join(cmd)}` failed with status {r.returncode}:\n{r.stdout}{r.stderr}")

    def start(self, wait=True):
        self.starts += 1
        self.stderr_path = self.ctx.path(f"{self.tag}.{self.starts}.stderr.log")
        cmd = [self.binary, "serve", "--domain", self.domain, "--data-dir", self.data_dir, "--log-level", "debug"]
        for l in self.listen:
            cmd += ["--sip-listen", l]
        cmd += self.extra_args
        log(f"starting {' '.join(cmd)}")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         cwd=self.ctx.dir, preexec_fn=_die_with_parent)
        if wait:
            self.wait_ready()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=15):
        """Waits until Tandem answers OPTIONS over UDP and its stream listeners listen."""
        deadline = time.monotonic() + timeout
        udp = [l for l in self.listen if l.startswith("udp:")]
        streams = [l for l in self.listen if not l.startswith("udp:")]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((TANDEM_IP, 0))
        try:
            answered = not udp
            n = 0
            while not answered:
                if self.proc.poll() is not None:
                    raise TestFailure(f"tandem exited with status {self.proc.returncode} before answering "
                                      f"OPTIONS on {udp[0]}")
                if time.monotonic() > deadline:
                    raise TestFailure(f"tandem did not answer OPTIONS on {udp[0]} within {timeout}s")
                n += 1
                host, port = udp[0].split(":")[1], int(udp[0].rsplit(":", 1)[1])
                sock.sendto(build_request("OPTIONS", f"sip:{host}:{port}", sock.getsockname(),
                                          call_id=f"ready-{n}-{random.getrandbits(32)}"), (host, port))
                r, _, _ = select.select([sock], [], [], 0.2)
                if r:
                    data = sock.recv(65535)
                    answered = SipMessage(data.decode(errors="replace")).is_response
            for l in streams:
                port = int(l.rsplit(":", 1)[1])
                ip = l.split(":")[1]

                def listening():
                    if self.proc.poll() is not None:
                        raise TestFailure(f"tandem exited with status {self.proc.returncode} before "
                                          f"listening on {l}")
                    return port_bound("tcp", port, ip=ip)
                wait_for(f"tandem to listen on {l}", listening, max(0.1, deadline - time.monotonic()))
        finally:
            sock.close()
        log(f"tandem is serving ({', '.join(self.listen)})")

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout`. Returns a list of problems (empty: clean stop)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is not None:
            problems.append(f"tandem had already exited with status {self.proc.returncode}")
            return problems
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
            if rc != 0:
                problems.append(f"tandem exited with status {rc} after SIGTERM (expected 0)")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            problems.append(f"tandem did not stop within {timeout}s of SIGTERM; killed")
        return problems

    def stderr_tail(self, lines=60):
        return tail(self.stderr_path, lines) if self.stderr_path else "(tandem not started)"

    def log_text(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def render_scenario(ctx, scenario, params, out_name):
    with open(os.path.join(SCENARIOS, scenario)) as f:
        text = f.read()
    missing = sorted(set(re.findall(r"\{\{([A-Z_]+)\}\}", text)) - set(params))
    if missing:
        raise TestFailure(f"scenario {scenario} needs values for {', '.join(missing)}")
    for k, v in params.items():
        text = text.replace("{{" + k + "}}", str(v))
    path = ctx.path(out_name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Sipp:
    """One sipp process running one scenario for a bounded number of calls and time."""

    def __init__(self, ctx, name, scenario, params, local_port, remote=None, transport="u1",
                 user=None, auth_uri=None, password=None, calls=1, timeout=20, extra=None):
        self.ctx = ctx
        self.name = name
        self.scenario = scenario
        self.timeout = timeout
        self.sf = render_scenario(ctx, scenario, params, f"{name}.xml")
        self.msg_log = ctx.path(f"{name}.messages.log")
        self.err_log = ctx.path(f"{name}.errors.log")
        self.stat_log = ctx.path(f"{name}.stat.csv")
        self.out_log = ctx.path(f"{name}.screen.log")
        self.local_port = local_port
        self.transport = transport
        cp, mp = ctx.next_ports()
        cmd = [ctx.args.sipp]
        if remote:
            cmd.append(remote)
        cmd += ["-sf", self.sf, "-i", TANDEM_IP, "-p", str(local_port), "-t", transport,
                "-m", str(calls), "-timeout", f"{timeout}s", "-timeout_error", "-nostdin",
                "-cp", str(cp), "-mp", str(mp),
                "-trace_msg", "-message_file", self.msg_log,
                "-trace_err", "-error_file", self.err_log,
                "-trace_stat", "-stf", self.stat_log]
        if user:
            cmd += ["-s", user, "-au", user, "-ap", password if password is not None else PASSWORDS[user]]
        if auth_uri:
            cmd += ["-auth_uri", auth_uri]
        cmd += extra or []
        self.cmd = cmd
        self.proc = None
        self.rc = None
        ctx.sipps.append(self)

    def start(self):
        log(f"sipp {self.name}: {self.scenario} ({self.transport}, port {self.local_port})")
        self._out = open(self.out_log, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT, cwd=self.ctx.dir,
                                     preexec_fn=_die_with_parent)
        return self

    def start_listening(self):
        """Starts a sipp that waits for requests and returns once its socket is bound."""
        self.start()
        proto = "udp" if self.transport.startswith("u") else "tcp"

        def bound():
            if self.proc.poll() is not None:
                raise TestFailure(f"sipp {self.name} exited with status {self.proc.returncode} before "
                                  f"listening:\n{self.diagnostics()}")
            return port_bound(proto, self.local_port)
        wait_for(f"sipp {self.name} to listen on {proto} port {self.local_port}", bound, 10)
        return self

    def wait(self, timeout=None):
        """Waits for sipp to exit; returns its status."""
        timeout = timeout or self.timeout + 10
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"sipp {self.name} ({self.scenario}) did not finish within {timeout}s\n"
                              f"{self.diagnostics()}")
        finally:
            self._out.close()
        return self.rc

    def run(self):
        self.start()
        return self.wait()

    def check_ok(self, what=""):
        rc = self.rc if self.rc is not None else self.wait()
        if rc != 0:
            raise TestFailure(f"sipp {self.name} ({self.scenario}) failed with exit status {rc}"
                              f"{' — ' + what if what else ''} (0 = every call succeeded)\n{self.diagnostics()}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def messages(self):
        return read_sipp_messages(self.msg_log)

    def received(self, method_or_status=None, cseq_method=None):
        out = []
        for m in self.messages():
            if m.direction != "received":
                continue
            if isinstance(method_or_status, int) and m.status != method_or_status:
                continue
            if isinstance(method_or_status, str) and m.method != method_or_status:
                continue
            if cseq_method and m.cseq_method != cseq_method:
                continue
            out.append(m)
        return out

    def diagnostics(self):
        parts = [f"--- command: {' '.join(self.cmd)}",
                 f"--- sipp error log {self.err_log}:\n{tail(self.err_log, 40)}",
                 f"--- sipp screen (tail):\n{tail(self.out_log, 25)}"]
        msgs = self.messages()
        if msgs:
            parts.append("--- messages seen by sipp: " + ", ".join(
                f"{'<-' if m.direction == 'received' else '->'} {m.start}" for m in msgs))
        return "\n".join(parts)


# --------------------------------------------------------------------------- TLS relays


class Relay:
    """Copies bytes between a local TCP listener and a target, one target
    connection per accepted connection; one side may be TLS. Lets the
    TLS-less Debian sipp take part in TLS tests: sipp speaks TCP to the
    relay, the relay speaks TLS to Tandem (or accepts TLS from Tandem)."""

    def __init__(self, ctx, listen_port, target, accept_tls=None, connect_tls=None):
        self.ctx = ctx
        self.target = target
        self.accept_tls = accept_tls    # ssl.SSLContext (server side) or None
        self.connect_tls = connect_tls  # ssl.SSLContext (client side) or None
        self.stopped = threading.Event()
        self.errors = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((TANDEM_IP, listen_port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()
        self.conns = []
        self.versions = []  # negotiated TLS versions, one per connection
        ctx.relays.append(self)

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        a = b = None
        try:
            conn.settimeout(10)
            a = self.accept_tls.wrap_socket(conn, server_side=True) if self.accept_tls else conn
            raw = socket.create_connection(self.target, timeout=10)
            b = self.connect_tls.wrap_socket(raw, server_hostname=self.target[0]) if self.connect_tls else raw
            self.conns.append((a, b))
            self.versions.append((a if self.accept_tls else b).version())
            self._pump(a, b)
        except (OSError, ssl.SSLError) as e:
            if not self.stopped.is_set():
                self.errors.append(f"relay to {self.target}: {e!r}")
        finally:
            for s in (a, b, conn):
                try:
                    if s is not None:
                        s.close()
                except OSError:
                    pass

    def _pump(self, a, b):
        peer = {a: b, b: a}
        for s in (a, b):
            s.setblocking(False)
        while not self.stopped.is_set():
            ready = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select([a, b], [], [], 0.2)
            for s in ready:
                try:
                    data = s.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except (OSError, ssl.SSLError):
                    data = b""
                if not data:
                    return
                out = peer[s]
                out.setblocking(True)
                out.settimeout(10)
                out.sendall(data)
                out.setblocking(False)

    def stop(self):
        self.stopped.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for t in self.threads:
            t.join(timeout=2)


def make_certificate(ctx):
    """A self-signed certificate for 127.0.0.1 (and DOMAIN), made with the openssl CLI."""
    cert, key = ctx.path("tls-cert.pem"), ctx.path("tls-key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
           "-keyout", key, "-out", cert, "-subj", f"/CN={DOMAIN}",
           "-addext", f"subjectAltName=IP:{TANDEM_IP},DNS:{DOMAIN}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    expect(r.returncode == 0, f"openssl failed ({r.returncode}): {r.stderr}")
    return cert, key


# --------------------------------------------------------------------------- raw SIP over sockets


def build_request(method, ruri, local, call_id=None, headers=None, body="", transport="UDP",
                  max_forwards=70, omit=(), content_length=None, to_uri=None, from_uri=None):
    host, port = local[0], local[1]
    call_id = call_id or f"{random.getrandbits(64):x}@{host}"
    branch = f"z9hG4bK{random.getrandbits(64):x}"
    to_uri = to_uri or ruri
    from_uri = from_uri or f"sip:tester@{host}"
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/{transport} {host}:{port};branch={branch};rport",
             f"Max-Forwards: {max_forwards}",
             f"From: <{from_uri}>;tag={random.getrandbits(32):x}",
             f"To: <{to_uri}>",
             f"Call-ID: {call_id}",
             f"CSeq: 1 {method}"]
    lines = [l for l in lines if l.split(":", 1)[0] not in omit]
    lines += headers or []
    data = body.encode() if isinstance(body, str) else body
    cl = len(data) if content_length is None else content_length
    lines.append(f"Content-Length: {cl}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def udp_exchange(payload, timeout=2.0, dest=(TANDEM_IP, SIP_PORT)):
    """Sends one datagram from a fresh socket; returns the first response (SipMessage) or None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((TANDEM_IP, 0))
        if callable(payload):
            payload = payload(sock.getsockname())
        sock.sendto(payload, dest)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            r, _, _ = select.select([sock], [], [], remaining)
            if not r:
                return None
            data = sock.recv(65535)
            m = SipMessage(data.decode(errors="replace"))
            if m.is_response and m.status >= 200 or not m.is_response:
                return m
    finally:
        sock.close()


def options_ok(timeout=2.0):
    m = udp_exchange(lambda local: build_request("OPTIONS", f"sip:{TANDEM_IP}:{SIP_PORT}", local), timeout)
    return m is not None and m.status == 200


# --------------------------------------------------------------------------- building blocks


class Transport:
    def __init__(self, name):
        self.name = name  # udp, tcp, tls
        self.sipp = {"udp": "u1", "tcp": "t1", "tls": "t1"}[name]

    @property
    def uri_param(self):
        return "" if self.name == "udp" else f";transport={self.name}"


def contact_for(user, port, transport):
    return f"sip:{user}@{TANDEM_IP}:{port}{transport.uri_param}"


def register(ctx, user, contact, local_port, remote=f"{TANDEM_IP}:{SIP_PORT}", transport=Transport("udp"),
             scenario="register.xml", password=None, name=None, expires=300, domain=DOMAIN):
    s = Sipp(ctx, name or f"register-{user}-{local_port}", scenario,
             {"DOMAIN": domain, "USER": user, "CONTACT": contact, "EXPIRES": expires},
             local_port, remote=remote, transport=transport.sipp, user=user, password=password,
             auth_uri=domain, timeout=10)
    s.run()
    return s


def check_registered(s, contact):
    """The 200 to the authenticated REGISTER lists `contact`."""
    s.check_ok(f"registering {contact}")
    oks = s.received(200, "REGISTER")
    expect(oks, f"{s.name}: no 200 to REGISTER in the message log")
    contacts = oks[-1].all("contact")
    expect(any(parse_uri(c)[1:4] == parse_uri(contact)[1:4] for c in contacts),
           f"{s.name}: the 200 to REGISTER does not list the contact {contact}; its Contact headers: {contacts}")


def check_digest_challenge(msg, header, what, realm=DOMAIN):
    challenges = msg.all(header)
    expect(challenges, f"{what}: {msg.status} without {header}")
    scheme, params = parse_auth(challenges[0])
    expect(scheme.lower() == "digest", f"{what}: first {header} is not Digest: {challenges[0]}")
    alg = params.get("algorithm", "MD5")
    expect(alg.upper() == "MD5", f"{what}: first {header} must offer MD5 (clients read only the first), "
                                 f"got algorithm={alg}: {challenges[0]}")
    expect(params.get("realm") == realm, f"{what}: realm should be {realm}: {challenges[0]}")
    expect(params.get("nonce"), f"{what}: challenge without nonce: {challenges[0]}")


def start_tandem(ctx, users=("alice", "bob", "carol"), listen=None, extra_args=None, data_dir=None):
    t = Tandem(ctx, data_dir=data_dir, listen=listen, extra_args=extra_args)
    for u in users:
        t.add_user(u, PASSWORDS[u])
    t.start()
    return t


def tandem_port(transport):
    return TLS_PORT if transport.name == "tls" else SIP_PORT


def check_record_route(invite, transport, who):
    rrs = invite.all("record-route")
    expect(rrs, f"{who}: the INVITE carries no Record-Route (Tandem must record-route)")
    want_port = tandem_port(transport)
    for rr in rrs:
        scheme, _, host, port, params = parse_uri(rr)
        if host != TANDEM_IP or (port or (5061 if scheme == "sips" else 5060)) != want_port:
            continue
        expect("lr" in params, f"{who}: Tandem's Record-Route {rr} lacks ;lr")
        if transport.name == "tcp":
            expect(params.get("transport", "").lower() == "tcp",
                   f"{who}: Record-Route {rr} towards a TCP callee should carry transport=tcp")
        if transport.name == "tls":
            expect(scheme == "sips" or params.get("transport", "").lower() == "tls",
                   f"{who}: Record-Route {rr} towards a TLS callee should be sips: or transport=tls")
        return
    raise TestFailure(f"{who}: no Record-Route names Tandem ({TANDEM_IP}:{want_port}): {rrs}")


def check_forwarded_invite(uas, transport, who="callee"):
    invites = uas.received("INVITE")
    expect(len(invites) >= 1, f"{who}: received no INVITE")
    inv = invites[0]
    check_record_route(inv, transport, who)
    mf = inv.get("max-forwards")
    expect(mf is not None and mf.strip() == "69",
           f"{who}: Max-Forwards should be 69 (70 decremented by the proxy), got {mf!r}")
    vias = inv.all("via")
    expect(len(vias) == 2, f"{who}: expected 2 Via (Tandem's over the caller's), got {vias}")
    top = vias[0]
    m = re.match(r"SIP/2\.0/(\w+)\s+([^;:\s]+):?(\d*)", top)
    expect(m and m.group(2) == TANDEM_IP, f"{who}: the top Via is not Tandem's: {top}")
    expect(m.group(1).upper() == transport.name.upper(), f"{who}: top Via transport should be "
                                                         f"{transport.name.upper()}: {top}")
    branch = parse_params(top).get("branch", "")
    expect(branch.startswith("z9hG4bK"), f"{who}: Tandem's Via branch lacks the magic cookie: {top}")
    branches = {parse_params(m.all("via")[0]).get("branch") for m in invites}
    expect(len(branches) == 1, f"{who}: the INVITE arrived in {len(branches)} client transactions "
                               f"(branches {branches}); retransmissions must keep the branch")
    return inv


def check_caller_flow(uac, expect_ringing=True, realm=DOMAIN):
    """407 challenge, 100 Trying and 180 for the authenticated INVITE, exactly one 2xx dialog."""
    challenges = uac.received(407)
    expect(challenges, f"{uac.name}: the first INVITE was not challenged with 407")
    check_digest_challenge(challenges[0], "proxy-authenticate", f"{uac.name}: 407", realm=realm)
    invite2 = [m for m in uac.received() if (m.get("cseq") or "").startswith("2 ")]
    # RFC 3261 17.2.1: a provisional response soon. Tandem's own 100 Trying
    # waits sip.trying_delay_ms for the callee's 180 and is left out when the
    # 180 came first (test_udp_retransmission sees the 100 of a silent callee).
    expect(any(m.status == 100 or (expect_ringing and m.status == 180) for m in invite2),
           f"{uac.name}: no provisional response for the authenticated INVITE (RFC 3261 17.2.1)")
    if expect_ringing:
        expect(any(m.status == 180 for m in invite2), f"{uac.name}: the callee's 180 was not relayed")
    oks = [m for m in uac.received(200, "INVITE")]
    tags = {m.to_tag() for m in oks}
    expect(len(tags) == 1, f"{uac.name}: expected exactly one 2xx dialog for the INVITE, got To tags {tags}")
    expect(uac.received(200, "BYE"), f"{uac.name}: no 200 to BYE")


def run_call(ctx, transport=Transport("udp"), uas_scenario="uas_answer.xml", uas_extra=None, label="",
             register_remote=None, call_remote=None, contact_port=None):
    """bob (a sipp UAS on 5070) registered, alice calls him through Tandem; checks both sides."""
    bob_port = 5070
    contact = contact_for("bob", contact_port or bob_port, transport)
    uas = Sipp(ctx, f"bob-uas{label}", uas_scenario, {"CONTACT": contact, "ANSWER_DELAY_MS": 100},
               bob_port, transport=transport.sipp, timeout=20, extra=uas_extra).start_listening()
    remote = register_remote or f"{TANDEM_IP}:{tandem_port(transport)}"
    reg = register(ctx, "bob", contact, 5090, remote=remote, transport=transport, name=f"register-bob{label}")
    check_registered(reg, contact)
    uac = Sipp(ctx, f"alice-call{label}", "uac_call.xml",
               {"DOMAIN": DOMAIN, "CALLER": "alice", "CALLEE": "bob", "HOLD_MS": 200},
               5080, remote=call_remote or remote, transport=transport.sipp, user="alice",
               auth_uri=f"bob@{DOMAIN}", timeout=20)
    uac.run()
    uac.check_ok("alice's call to bob")
    uas.wait()
    uas.check_ok("bob answering alice's call")
    check_caller_flow(uac)
    return uac, uas


# --------------------------------------------------------------------------- tests


def test_register(ctx):
    tandem = start_tandem(ctx)
    contact = contact_for("bob", 5070, Transport("udp"))
    reg = register(ctx, "bob", contact, 5090)
    check_registered(reg, contact)
    challenge = reg.received(401)
    expect(challenge, "REGISTER was not challenged with 401")
    check_digest_challenge(challenge[0], "www-authenticate", "401 to REGISTER")
    ok = reg.received(200, "REGISTER")[-1]
    listed = [c for c in ok.all("contact") if parse_uri(c)[2:4] == (TANDEM_IP, 5070)]
    expires = parse_params(listed[0]).get("expires") if listed else None
    expect(expires is not None and expires.isdigit() and 0 < int(expires) <= 300,
           f"the 200 should list the binding with expires in (0, 300]: {listed}")

    wrong = Sipp(ctx, "register-wrong-password", "register_wrong_password.xml",
                 {"DOMAIN": DOMAIN, "USER": "bob", "CONTACT": contact_for("bob", 5071, Transport("udp")),
                  "EXPIRES": 300},
                 5091, remote=f"{TANDEM_IP}:{SIP_PORT}", user="bob", password="not-the-password",
                 auth_uri=DOMAIN, timeout=10)
    wrong.run()
    statuses = [m.status for m in wrong.received() if m.is_response]
    expect(200 not in statuses, f"a REGISTER with a wrong password was accepted (responses {statuses})")
    wrong.check_ok("wrong password must get 401/403")

    query = Sipp(ctx, "register-query", "register_query.xml", {"DOMAIN": DOMAIN, "USER": "bob"},
                 5092, remote=f"{TANDEM_IP}:{SIP_PORT}", user="bob", auth_uri=DOMAIN, timeout=10)
    query.run()
    query.check_ok("binding query")
    ok = query.received(200, "REGISTER")[-1]
    contacts = ok.all("contact")
    expect(any(parse_uri(c)[2:4] == (TANDEM_IP, 5070) for c in contacts),
           f"the query's 200 should list bob's binding {contact}: {contacts}")
    expect(not any(parse_uri(c)[2:4] == (TANDEM_IP, 5071) for c in contacts),
           f"the binding from the wrong-password REGISTER must not exist: {contacts}")
    return tandem


def test_call(ctx):
    start_tandem(ctx)
    uac, uas = run_call(ctx)
    check_forwarded_invite(uas, Transport("udp"))
    expect(uas.received("ACK"), "bob did not get the ACK")
    expect(uas.received("BYE"), "bob did not get the BYE")


def test_cancel(ctx):
    start_tandem(ctx)
    contact = contact_for("bob", 5070, Transport("udp"))
    uas = Sipp(ctx, "bob-uas", "uas_ring_cancel.xml", {"CONTACT": contact}, 5070, timeout=20).start_listening()
    check_registered(register(ctx, "bob", contact, 5090), contact)
    uac = Sipp(ctx, "alice-cancel", "uac_cancel.xml",
               {"DOMAIN": DOMAIN, "CALLER": "alice", "CALLEE": "bob", "RING_MS": 300},
               5080, remote=f"{TANDEM_IP}:{SIP_PORT}", user="alice", auth_uri=f"bob@{DOMAIN}", timeout=20)
    uac.run()
    uac.check_ok("alice cancelling her call")
    uas.wait()
    uas.check_ok("bob being cancelled")
    expect(uac.received(487, "INVITE"), "alice got no 487 for the cancelled INVITE")
    expect(uac.received(200, "CANCEL"), "alice got no 200 for her CANCEL")
    expect(not uac.received(200, "INVITE"), "alice's cancelled INVITE got a 200")
    expect(uas.received("CANCEL"), "bob never received the CANCEL")
    check_forwarded_invite(uas, Transport("udp"))


def test_busy(ctx):
    start_tandem(ctx)
    contact = contact_for("bob", 5070, Transport("udp"))
    uas = Sipp(ctx, "bob-uas", "uas_reject.xml", {"CONTACT": contact, "STATUS": 486, "REASON": "Busy Here"},
               5070, timeout=20).start_listening()
    check_registered(register(ctx, "bob", contact, 5090), contact)
    uac = invite_expecting(ctx, "bob", 486, name="alice-busy")
    uas.wait()
    uas.check_ok("bob answering 486 and getting the proxy's ACK")
    expect(uac.received(486, "INVITE"), "alice got no 486")


def invite_expecting(ctx, callee, status, target_domain=DOMAIN, max_forwards=70, name=None, port=5080):
    uac = Sipp(ctx, name or f"alice-expects-{status}", "uac_invite_final.xml",
               {"DOMAIN": DOMAIN, "TARGET_DOMAIN": target_domain, "CALLER": "alice", "CALLEE": callee,
                "STATUS": status, "MAX_FORWARDS": max_forwards},
               port, remote=f"{TANDEM_IP}:{SIP_PORT}", user="alice", auth_uri=f"{callee}@{target_domain}",
               timeout=15)
    uac.run()
    finals = [m.start for m in uac.received() if m.is_response and m.status >= 200]
    uac.check_ok(f"INVITE sip:{callee}@{target_domain} should end with {status}; final responses: {finals}")
    return uac


def test_unknown_user(ctx):
    start_tandem(ctx)
    uac = invite_expecting(ctx, "nobody", 404)
    expect(uac.received(407), "the INVITE from alice was not authenticated (407) before the 404")


def test_unregistered_user(ctx):
    start_tandem(ctx)
    uac = invite_expecting(ctx, "carol", 480)
    expect(uac.received(407), "the INVITE from alice was not authenticated (407) before the 480")


def test_forking(ctx):
    start_tandem(ctx)
    c1, c2 = contact_for("bob", 5070, Transport("udp")), contact_for("bob", 5071, Transport("udp"))
    answers = Sipp(ctx, "bob-answers", "uas_answer.xml", {"CONTACT": c1, "ANSWER_DELAY_MS": 700},
                   5070, timeout=20).start_listening()
    rings = Sipp(ctx, "bob-rings", "uas_ring_cancel.xml", {"CONTACT": c2}, 5071, timeout=20).start_listening()
    check_registered(register(ctx, "bob", c1, 5090), c1)
    check_registered(register(ctx, "bob", c2, 5091), c2)
    uac = Sipp(ctx, "alice-call", "uac_call.xml",
               {"DOMAIN": DOMAIN, "CALLER": "alice", "CALLEE": "bob", "HOLD_MS": 300},
               5080, remote=f"{TANDEM_IP}:{SIP_PORT}", user="alice", auth_uri=f"bob@{DOMAIN}", timeout=20)
    uac.run()
    uac.check_ok("alice's call to the forked bob")
    answers.wait()
    answers.check_ok("the answering branch")
    rings.wait()
    rings.check_ok("the ringing branch must be cancelled after the other answered")
    check_caller_flow(uac)
    ok_tags = {m.to_tag() for m in uac.received(200, "INVITE")}
    answered_tags = {m.to_tag() for m in answers.messages() if m.direction == "sent" and m.status == 200}
    expect(ok_tags <= answered_tags, f"alice's 2xx (tags {ok_tags}) did not come from the answering branch "
                                     f"({answered_tags})")
    check_forwarded_invite(answers, Transport("udp"), "answering branch")
    check_forwarded_invite(rings, Transport("udp"), "ringing branch")
    expect(rings.received("CANCEL"), "the ringing branch got no CANCEL")


def test_udp_retransmission(ctx):
    start_tandem(ctx)
    uac, uas = run_call(ctx, uas_scenario="uas_ignore_first.xml", uas_extra=["-nr"])
    invites = uas.received("INVITE")
    expect(len(invites) >= 2, f"bob should have seen the INVITE retransmitted, got {len(invites)}")
    b1 = parse_params(invites[0].all("via")[0]).get("branch")
    b2 = parse_params(invites[1].all("via")[0]).get("branch")
    expect(b1 == b2, f"the second INVITE is not a retransmission (branches {b1} / {b2})")
    check_record_route(invites[0], Transport("udp"), "bob")
    # bob said nothing for 500 ms (Timer A): alice had Tandem's 100 Trying
    # after sip.trying_delay_ms (80 ms), long before bob's 180.
    statuses = [m.status for m in uac.received() if (m.get("cseq") or "").startswith("2 ")]
    expect(100 in statuses and 180 in statuses and statuses.index(100) < statuses.index(180),
           f"alice should get Tandem's 100 Trying before bob's 180, got {statuses}")


def test_tcp(ctx):
    start_tandem(ctx)
    uac, uas = run_call(ctx, transport=Transport("tcp"))
    check_forwarded_invite(uas, Transport("tcp"))
    expect(all(m.transport == "TCP" for m in uas.messages()), "bob's messages were not all over TCP")


def test_tls(ctx):
    cert, key = make_certificate(ctx)
    start_tandem(ctx, listen=[f"udp:{TANDEM_IP}:{SIP_PORT}", f"tls:{TANDEM_IP}:{TLS_PORT}"],
                 extra_args=["--tls-cert", cert, "--tls-key", key])
    # The Debian sipp has no TLS: sipp speaks TCP to local relays.
    #   callers -> 127.0.0.1:5062 (TCP) == relay ==> Tandem 127.0.0.1:5061 (TLS, certificate verified)
    #   Tandem ==> 127.0.0.1:5072 (TLS, bob's contact) == relay -> bob's sipp on 5070 (TCP)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cert)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    to_tandem = Relay(ctx, 5062, (TANDEM_IP, TLS_PORT), connect_tls=client)
    to_bob = Relay(ctx, 5072, (TANDEM_IP, 5070), accept_tls=server)
    uac, uas = run_call(ctx, transport=Transport("tls"), register_remote=f"{TANDEM_IP}:5062",
                        contact_port=5072)
    check_forwarded_invite(uas, Transport("tls"))
    expect(to_bob.conns, "Tandem never connected to bob's TLS contact")
    for r in (to_tandem, to_bob):
        expect(not r.errors, f"TLS relay errors: {r.errors}")
    log(f"TLS versions: to Tandem {to_tandem.versions}, from Tandem {to_bob.versions}")


def test_bad_input(ctx):
    config = ctx.path("tandem.toml")
    with open(config, "w") as f:
        f.write("[sip]\nmax_message_size = 4096\n")
    tandem = start_tandem(ctx, extra_args=["--config", config])
    failures = []
    ruri = f"sip:{TANDEM_IP}:{SIP_PORT}"

    def check_400(label, payload):
        m = udp_exchange(payload)
        if m is None:
            failures.append(f"{label}: no response (expected 400 with a reason)")
        elif not m.is_response or m.status != 400:
            failures.append(f"{label}: expected 400, got {m.start!r}")
        elif not m.reason:
            failures.append(f"{label}: the 400 has an empty reason phrase: {m.start!r}")
        else:
            log(f"{label}: {m.start}")

    def check_not_accepted(label, payload, allowed=(400, 513)):
        m = udp_exchange(payload, timeout=1.0)
        if m is not None and (not m.is_response or m.status not in allowed or not m.reason):
            failures.append(f"{label}: expected no response or {'/'.join(map(str, allowed))} with a reason, "
                            f"got {m.start!r}")
        else:
            log(f"{label}: {m.start if m else 'no response'}")

    rng = random.Random(4475)
    garbage = bytes(rng.getrandbits(8) for _ in range(600))
    check_not_accepted("UDP binary garbage", garbage, allowed=())
    check_not_accepted("UDP text garbage", b"HELLO THERE\r\nthis is not SIP\r\n\r\n", allowed=())
    check_not_accepted("truncated request (cut inside its Via)",
                       lambda local: build_request("OPTIONS", ruri, local)[:60])
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    check_400("truncated request (INVITE cut in the middle of its body)",
              lambda local: build_request("INVITE", f"sip:bob@{DOMAIN}", local, body=sdp,
                                          headers=["Content-Type: application/sdp"])[:-len(sdp) // 2])
    check_not_accepted("oversized datagram (10000 bytes, max_message_size 4096)",
                       lambda local: build_request("OPTIONS", ruri, local, body="x" * 10000,
                                                   headers=["Content-Type: text/plain"]))
    check_400("Content-Length larger than the body",
              lambda local: build_request("OPTIONS", ruri, local, body="v=0\r\n", content_length=500,
                                          headers=["Content-Type: application/sdp"]))
    check_400("Content-Length not a number",
              lambda local: build_request("OPTIONS", ruri, local, content_length="abc"))
    for header in ("Call-ID", "CSeq", "From"):
        check_400(f"request without {header}",
                  lambda local, h=header: build_request("OPTIONS", ruri, local, omit=(h,)))
    check_400("Max-Forwards not a number",
              lambda local: build_request("OPTIONS", ruri, local).replace(b"Max-Forwards: 70",
                                                                          b"Max-Forwards: lots"))

    # TCP: binary garbage must make Tandem close the connection.
    sock = socket.create_connection((TANDEM_IP, SIP_PORT), timeout=5)
    try:
        sock.sendall(garbage + b"\r\n\r\n" + garbage)
        closed = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                break
        if not closed:
            failures.append("TCP: Tandem kept the connection open for 5s after binary garbage")
        else:
            log("TCP garbage: connection closed by Tandem")
    finally:
        sock.close()

    if not tandem.running():
        raise TestFailure(f"tandem died on bad input (status {tandem.proc.returncode}); failures so far: "
                          + "; ".join(failures))
    expect(options_ok(), "tandem no longer answers OPTIONS after the bad input")
    try:
        uac, uas = run_call(ctx)
        check_forwarded_invite(uas, Transport("udp"))
    except TestFailure as e:
        failures.append(f"a normal call after the bad input failed: {e}")
    if failures:
        raise TestFailure("bad input handling:\n  - " + "\n  - ".join(failures))


def test_persistence(ctx):
    tandem = start_tandem(ctx)
    contact = contact_for("bob", 5070, Transport("udp"))
    check_registered(register(ctx, "bob", contact, 5090), contact)
    problems = tandem.stop()
    expect(not problems, f"stopping tandem with SIGTERM: {'; '.join(problems)}\n{tandem.stderr_tail()}")
    log("tandem stopped cleanly; restarting on the same data dir")
    tandem.start()
    uas = Sipp(ctx, "bob-uas", "uas_answer.xml", {"CONTACT": contact, "ANSWER_DELAY_MS": 100},
               5070, timeout=20).start_listening()
    uac = Sipp(ctx, "alice-call", "uac_call.xml",
               {"DOMAIN": DOMAIN, "CALLER": "alice", "CALLEE": "bob", "HOLD_MS": 200},
               5080, remote=f"{TANDEM_IP}:{SIP_PORT}", user="alice", auth_uri=f"bob@{DOMAIN}", timeout=20)
    uac.run()
    uac.check_ok("alice's call to bob after the restart (bob's binding must survive it)")
    uas.wait()
    uas.check_ok("bob answering after the restart")
    check_caller_flow(uac)
    check_forwarded_invite(uas, Transport("udp"))


def test_max_forwards(ctx):
    start_tandem(ctx)
    # bob is registered (at a port nobody answers on): without the Max-Forwards
    # check the INVITE would be forwarded instead of refused.
    contact = contact_for("bob", 5070, Transport("udp"))
    check_registered(register(ctx, "bob", contact, 5090), contact)
    uac = invite_expecting(ctx, "bob", 483, max_forwards=0)
    expect(uac.received(483, "INVITE"), "no 483 for Max-Forwards 0")
    m = udp_exchange(lambda local: build_request("OPTIONS", f"sip:{TANDEM_IP}:{SIP_PORT}", local))
    expect(m is not None and m.status == 200, f"OPTIONS to the server: expected 200, got {m.start if m else None}")
    m = udp_exchange(lambda local: build_request("OPTIONS", f"sip:{DOMAIN}", local))
    expect(m is not None and m.status == 200,
           f"OPTIONS sip:{DOMAIN}: expected 200, got {m.start if m else None}")


def test_foreign_domain(ctx):
    # Federation is on by default, and this namespace has no DNS server: the
    # call fails at once with 503 (never a hang), after alice authenticated.
    t = start_tandem(ctx)
    uac = invite_expecting(ctx, "x", 503, target_domain="other.test")
    expect(uac.received(407), "alice was not authenticated (407) before her call left the domain")
    with open(t.stderr_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    expect("503 Service Unavailable (DNS" in text and "other.test" in text,
           "Tandem's log does not say that resolving other.test failed")
    expect(not t.stop(), "tandem did not stop cleanly")
    # With federation off, other domains are refused.
    config = ctx.path("no-federation.toml")
    with open(config, "w") as f:
        f.write("[federation]\nenabled = false\n")
    start_tandem(ctx, users=(), extra_args=["--config", config], data_dir=t.data_dir)
    uac = invite_expecting(ctx, "x", 403, target_domain="other.test", name="alice-expects-403")
    expect(uac.received(403, "INVITE"), "no 403 for a foreign domain with federation off")


def test_config_error(ctx):
    cmd = [ctx.args.tandem, "serve", "--domain", DOMAIN, "--data-dir", ctx.path("data"),
           "--sip-listen", f"sctp:{TANDEM_IP}:{SIP_PORT}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    expect(r.returncode == 2, f"a bad --sip-listen should exit with status 2, got {r.returncode}: {r.stderr}")
    expect("sip.listen" in r.stderr or "--sip-listen" in r.stderr,
           f"the error message should name the key (sip.listen): {r.stderr!r}")
    config = ctx.path("bad.toml")
    with open(config, "w") as f:
        f.write("[sip]\nno_such_key = 1\n")
    r = subprocess.run([ctx.args.tandem, "serve", "--config", config, "--data-dir", ctx.path("data")],
                       capture_output=True, text=True, timeout=20)
    expect(r.returncode == 2, f"an unknown configuration key should exit with status 2, got {r.returncode}")
    expect("no_such_key" in r.stderr, f"the error message should name the key: {r.stderr!r}")


# --------------------------------------------------------------------------- federation over TLS
#
# Two domains, each its own Tandem: a.test on 127.0.0.2 and b.test on
# 127.0.0.3, with UDP (for the sipp users, whose Debian build has no TLS) and
# TLS listeners (for the domain-to-domain hop). Certificates come from a test
# CA made with openssl in the test's temp dir.

DOMAIN_IPS = {"a.test": "127.0.0.2", "b.test": "127.0.0.3"}
DNS_PORT = 5353


class TestCa:
    """A throwaway CA (EC P-256) and certificates it signs, by the openssl CLI."""

    def __init__(self, ctx, name="ca"):
        self.ctx = ctx
        self.name = name
        self.cert, self.key = ctx.path(f"{name}.pem"), ctx.path(f"{name}.key")
        self._openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-days", "2", "-keyout", self.key, "-out", self.cert,
                       "-subj", f"/CN=Tandem test CA {name}"])

    def _openssl(self, args):
        r = subprocess.run(["openssl"] + args, capture_output=True, text=True, timeout=60)
        expect(r.returncode == 0, f"openssl {' '.join(args[:2])} failed ({r.returncode}): {r.stderr}")

    def issue(self, label, common_name, san=None):
        """A certificate signed by this CA; `san` is the subjectAltName value or None (no extension)."""
        cert, key, csr = (self.ctx.path(f"{label}.{ext}") for ext in ("pem", "key", "csr"))
        self._openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={common_name}"])
        args = ["x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                "-days", "2", "-out", cert]
        if san:
            ext = self.ctx.path(f"{label}.ext")
            with open(ext, "w") as f:
                f.write(f"subjectAltName = {san}\n")
            args += ["-extfile", ext]
        self._openssl(args)
        return cert, key


def start_dns(ctx, records):
    """dnsmasq on 127.0.0.1:5353 serving `records` (dnsmasq options), like tests/browser's startDns."""
    dnsmasq = "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else shutil.which("dnsmasq")
    expect(dnsmasq, "dnsmasq is not installed (Debian package dnsmasq-base)")
    cmd = [dnsmasq, "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--log-queries",
           "--log-facility=-", "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={DNS_PORT}",
           "--local=/test/", "--pid-file="] + records
    out = open(ctx.path("dnsmasq.log"), "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            cwd=ctx.dir, preexec_fn=_die_with_parent)
    ctx.processes.append(proc)
    wait_for("dnsmasq to listen on UDP 5353",
             lambda: proc.poll() is None and port_bound("udp", DNS_PORT, ip="127.0.0.1"), 10)
    return proc


def sips_records(domain):
    """NAPTR SIPS+D2T -> SRV _sips._tcp -> sip.<domain>:5061 -> A (RFC 3263 §4.1)."""
    return [f"--naptr-record={domain},10,10,S,SIPS+D2T,,_sips._tcp.{domain}",
            f"--srv-host=_sips._tcp.{domain},sip.{domain},{TLS_PORT},0,10",
            f"--host-record=sip.{domain},{DOMAIN_IPS[domain]}"]


def start_domain(ctx, domain, cert=None, key=None, ca=None, federation=(), routes=None, users=(),
                 tls=True, data_dir=None):
    """One Tandem serving `domain` on its own address; `federation`: extra [federation] lines."""
    ip = DOMAIN_IPS[domain]
    listen = [f"udp:{ip}:{SIP_PORT}"] + ([f"tls:{ip}:{TLS_PORT}"] if tls else [])
    lines = []
    if cert:
        lines += ["[tls]", f'cert = "{cert}"', f'key = "{key}"', f'ca_file = "{ca or ""}"']
    lines += ["[federation]"] + list(federation)
    if routes:
        lines += ["[federation.routes]"] + [f'"{d}" = "{hop}"' for d, hop in routes.items()]
    config = ctx.path(f"{domain}.toml")
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    t = Tandem(ctx, data_dir=data_dir or ctx.path(f"data-{domain}"), listen=listen,
               extra_args=["--config", config, "--http-listen", "off"], tag=domain, domain=domain)
    for u in users:
        t.add_user(u, PASSWORDS[u])
    t.start()
    return t


def tls_routes(*domains):
    return {d: f"tls:{DOMAIN_IPS[d]}:{TLS_PORT}" for d in domains}


def register_at(ctx, node, user, port, sipp_port):
    """`user` (a sipp agent on 127.0.0.1:port over UDP) registered at node's domain."""
    contact = contact_for(user, port, Transport("udp"))
    reg = register(ctx, user, contact, sipp_port, remote=f"{DOMAIN_IPS[node.domain]}:{SIP_PORT}",
                   domain=node.domain, name=f"register-{user}-at-{node.domain}")
    check_registered(reg, contact)
    return contact


def federated_call(ctx, caller_node, callee_node, caller="alice", callee="bob", label=""):
    """callee answers (a sipp UAS registered at callee_node), caller calls from caller_node."""
    contact = contact_for(callee, 5070, Transport("udp"))
    uas = Sipp(ctx, f"{callee}-uas{label}", "uas_answer.xml", {"CONTACT": contact, "ANSWER_DELAY_MS": 100},
               5070, timeout=20).start_listening()
    register_at(ctx, callee_node, callee, 5070, 5090)
    target = f"{callee}@{callee_node.domain}"
    uac = Sipp(ctx, f"{caller}-call{label}", "uac_call_federated.xml",
               {"DOMAIN": caller_node.domain, "TARGET_DOMAIN": callee_node.domain, "CALLER": caller,
                "CALLEE": callee, "HOLD_MS": 200},
               5080, remote=f"{DOMAIN_IPS[caller_node.domain]}:{SIP_PORT}", user=caller, auth_uri=target,
               timeout=20)
    uac.run()
    uac.check_ok(f"{caller}@{caller_node.domain} calling {target}")
    uas.wait()
    uas.check_ok(f"{callee} answering the call from {caller_node.domain}")
    check_caller_flow(uac, realm=caller_node.domain)
    invite = uas.received("INVITE")[0]
    expect(parse_uri(invite.get("from"))[2] == caller_node.domain,
           f"the callee sees the call from {invite.get('from')}, not from {caller_node.domain}")
    return uac, uas


def federated_invite_expecting(ctx, node, callee, target_domain, status, name, port=5080):
    """alice at node's domain calls callee@target_domain and expects the final `status`."""
    uac = Sipp(ctx, name, "uac_invite_final.xml",
               {"DOMAIN": node.domain, "TARGET_DOMAIN": target_domain, "CALLER": "alice", "CALLEE": callee,
                "STATUS": status, "MAX_FORWARDS": 70},
               port, remote=f"{DOMAIN_IPS[node.domain]}:{SIP_PORT}", user="alice",
               auth_uri=f"{callee}@{target_domain}", timeout=15)
    started = time.monotonic()
    uac.run()
    finals = [m.start for m in uac.received() if m.is_response and m.status >= 200]
    uac.check_ok(f"INVITE sip:{callee}@{target_domain} from {node.domain} should end with {status}; "
                 f"final responses: {finals}")
    final = [m for m in uac.received(status, "INVITE")][-1]
    log(f"{name}: {final.start} after {time.monotonic() - started:.1f}s")
    return final


def tls_connections_to(node, peer):
    """How many TLS connections node's log says it opened to the peer domain's TLS port."""
    pattern = rf"TLS connection \d+ connecting to {re.escape(DOMAIN_IPS[peer])}:{TLS_PORT} for {re.escape(peer)}"
    return len(re.findall(pattern, node.log_text()))


def test_federation_tls(ctx):
    # a.test finds b.test by NAPTR (SIPS+D2T) -> SRV (_sips._tcp, target
    # sip.b.test) -> A in dnsmasq, and connects over TLS. b.test's certificate
    # names the domain b.test only, not the SRV target: RFC 5922 matches the
    # domain. Our users speak UDP to their own Tandem.
    ca = TestCa(ctx)
    start_dns(ctx, sips_records("a.test") + sips_records("b.test"))
    dns = [f'dns_servers = ["127.0.0.1:{DNS_PORT}"]']
    a = start_domain(ctx, "a.test", *ca.issue("a", "a.test", "DNS:a.test"), ca=ca.cert, federation=dns,
                     users=("alice",))
    b = start_domain(ctx, "b.test", *ca.issue("b", "b.test", "DNS:b.test"), ca=ca.cert, federation=dns,
                     users=("bob",))
    uac, uas = federated_call(ctx, a, b)
    expect(tls_connections_to(a, "b.test") >= 1,
           "a.test did not open a TLS connection to b.test (127.0.0.3:5061) as its NAPTR/SRV records say")
    expect(uas.received("BYE"), "bob did not get alice's BYE across the domains")
    invite = uas.received("INVITE")[0]
    rrs = invite.all("record-route")
    expect(any("127.0.0.2:5061" in r and "transport=tls" in r for r in rrs),
           f"the INVITE's Record-Route does not keep a.test's TLS side on the path: {rrs}")
    # And back: bob@b.test calls alice@a.test, b.test checking a.test's certificate.
    federated_call(ctx, b, a, caller="bob", callee="alice", label="-back")
    expect(tls_connections_to(b, "a.test") >= 1, "b.test did not open a TLS connection to a.test")


def test_federation_tls_bad_certificate(ctx):
    # b.test's certificate must name b.test: one for the SRV target
    # (sip.b.test) or a wildcard (*.test) does not do (RFC 5922 §7.2); one
    # from a CA a.test does not trust does not either. Each time the caller
    # gets a 503 naming the problem at once, and a.test logs it.
    ca = TestCa(ctx)
    start_dns(ctx, sips_records("b.test"))
    dns = [f'dns_servers = ["127.0.0.1:{DNS_PORT}"]']
    a = start_domain(ctx, "a.test", *ca.issue("a", "a.test", "DNS:a.test"), ca=ca.cert, federation=dns,
                     users=("alice",))
    b_cert = ca.issue("b-wrong", "b.test", "DNS:sip.b.test,DNS:*.test")
    b = start_domain(ctx, "b.test", *b_cert, ca=ca.cert, federation=dns, users=("bob",))
    started = time.monotonic()
    final = federated_invite_expecting(ctx, a, "bob", "b.test", 503, "alice-wrong-name")
    expect(time.monotonic() - started < 10, "the 503 for a certificate that does not match took too long")
    expect("TLS certificate of b.test does not match the domain" in final.reason,
           f"the 503 should say the certificate does not match b.test: {final.start!r}")
    expect("it names sip.b.test" in final.reason, f"the 503 should say what the certificate names: {final.start!r}")
    expect(re.search(r"TLS connection \d+ to 127\.0\.0\.3:5061 \(b\.test\) failed: TLS certificate of b\.test "
                     r"does not match the domain", a.log_text()),
           "a.test did not log the certificate that does not match")

    # A certificate for b.test, from a CA that a.test does not trust.
    expect(not b.stop(), "b.test did not stop cleanly")
    other = TestCa(ctx, "other-ca")
    b = start_domain(ctx, "b.test", *other.issue("b-untrusted", "b.test", "DNS:b.test"), ca=ca.cert,
                     federation=dns, data_dir=b.data_dir)
    final = federated_invite_expecting(ctx, a, "bob", "b.test", 503, "alice-untrusted", port=5081)
    expect("TLS certificate of b.test is not trusted" in final.reason,
           f"the 503 should say b.test's certificate is not trusted: {final.start!r}")


def test_federation_mutual_tls(ctx):
    # b.test requires client certificates: a.test presents its own (tls.cert)
    # and the call goes through; b.test knows the connection as a.test's.
    ca = TestCa(ctx)
    a = start_domain(ctx, "a.test", *ca.issue("a", "a.test", "DNS:a.test"), ca=ca.cert,
                     routes=tls_routes("b.test"), users=("alice",))
    b = start_domain(ctx, "b.test", *ca.issue("b", "b.test", "DNS:b.test"), ca=ca.cert,
                     federation=['tls_client_auth = "require"'], routes=tls_routes("a.test"),
                     users=("bob",))
    federated_call(ctx, a, b)
    expect(re.search(r"TLS connection \d+ open: 127\.0\.0\.2:\d+ \(accepted; peer certificate names a\.test\)",
                     b.log_text()),
           "b.test did not see a.test's client certificate on the accepted TLS connection")

    # A client with a valid certificate for another domain (c.test) may not
    # send requests from a.test over it: 403 (RFC 5922 identity of the peer).
    c_cert, c_key = ca.issue("c", "c.test", "DNS:c.test")
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca.cert)
    client.load_cert_chain(c_cert, c_key)
    ip = DOMAIN_IPS["b.test"]
    with socket.create_connection((ip, TLS_PORT), timeout=5) as raw:
        with client.wrap_socket(raw, server_hostname="b.test") as tls:
            local = tls.getsockname()
            tls.sendall(build_request("MESSAGE", "sip:bob@b.test", local, transport="TLS",
                                      from_uri="sip:mallory@a.test", body="hi",
                                      headers=["Content-Type: text/plain"]))
            response = read_tls_response(tls)
    expect(response is not None and response.status == 403,
           f"a request From a.test over a connection certified for c.test: expected 403, got "
           f"{response.start if response else 'nothing'}")
    expect("c.test" in response.reason, f"the 403 should name the certificate's domain: {response.start!r}")

    # Without a client certificate, b.test refuses the TLS connection itself.
    plain = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca.cert)
    refused = False
    try:
        with socket.create_connection((ip, TLS_PORT), timeout=5) as raw:
            with plain.wrap_socket(raw, server_hostname="b.test") as tls:
                tls.sendall(build_request("OPTIONS", "sip:b.test", tls.getsockname(), transport="TLS"))
                refused = read_tls_response(tls) is None
    except (ssl.SSLError, OSError):
        refused = True
    expect(refused, "b.test answered a TLS client without a certificate although it requires one")
    wait_for("b.test to log the refused client",
             lambda: "refused: TLS handshake failed" in b.log_text() or "refused: TLS client" in b.log_text(), 5)


class TlsTimeout(Exception):
    """A TLS peer neither answered nor closed in time."""


def read_tls_response(sock, timeout=5):
    """The first final response on a TLS socket, or None when the peer closes
    first; TlsTimeout when it does neither in time."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except (ssl.SSLError, OSError):
            return None
        if not chunk:
            return None
        data += chunk
        while b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            m = SipMessage(head.decode(errors="replace") + "\r\n\r\n")
            length = int(m.get("content-length") or 0)
            data = rest[length:]
            if m.is_response and m.status >= 200:
                return m
    raise TlsTimeout(f"no final response and no close within {timeout} s")


def test_federation_peers(ctx):
    # a.test federates only with c.test: alice's call to b.test is refused by
    # her own server, before any lookup (this namespace has no DNS server:
    # a lookup would give 503). Then b.test federates only with c.test: a.test
    # (open to all, static route to b.test) sends the call, b.test refuses it,
    # and alice gets b.test's 403.
    a = start_domain(ctx, "a.test", federation=['peers = ["c.test"]'], users=("alice",), tls=False)
    b = start_domain(ctx, "b.test", federation=['peers = ["c.test"]'], users=("bob",), tls=False)
    final = federated_invite_expecting(ctx, a, "bob", "b.test", 403, "alice-to-b-not-a-peer")
    expect("federation with b.test is not allowed" in final.reason,
           f"a.test's 403 should say b.test is not a peer: {final.start!r}")
    expect("is not a federation peer" in a.log_text(), "a.test did not log the refused call to b.test")

    expect(not a.stop(), "a.test did not stop cleanly")
    a = start_domain(ctx, "a.test", routes={"b.test": f"udp:{DOMAIN_IPS['b.test']}:{SIP_PORT}"},
                     tls=False, data_dir=a.data_dir)
    final = federated_invite_expecting(ctx, a, "bob", "b.test", 403, "alice-from-a-not-a-peer", port=5081)
    expect("federation with a.test is not allowed" in final.reason,
           f"b.test's 403 should say a.test is not a peer: {final.start!r}")
    expect("not a federation peer" in b.log_text(), "b.test did not log the refused request from a.test")


TESTS = {
    "register": test_register,
    "call": test_call,
    "cancel": test_cancel,
    "busy": test_busy,
    "unknown_user": test_unknown_user,
    "unregistered_user": test_unregistered_user,
    "forking": test_forking,
    "udp_retransmission": test_udp_retransmission,
    "tcp": test_tcp,
    "tls": test_tls,
    "bad_input": test_bad_input,
    "persistence": test_persistence,
    "max_forwards": test_max_forwards,
    "foreign_domain": test_foreign_domain,
    "config_error": test_config_error,
    "federation_tls": test_federation_tls,
    "federation_tls_bad_certificate": test_federation_tls_bad_certificate,
    "federation_mutual_tls": test_federation_mutual_tls,
    "federation_peers": test_federation_peers,
}


def run_test(args, name):
    ctx = Context(args, name)
    log(f"=== {name} (temp dir {ctx.dir})")
    started = time.monotonic()
    failure = None
    try:
        TESTS[name](ctx)
    except TestFailure as e:
        failure = str(e)
    except Exception:  # a harness bug: show it the same way
        failure = traceback.format_exc()
    problems = ctx.cleanup()
    if problems and failure is None:
        failure = "; ".join(problems)
    elif problems:
        failure += "\n(" + "; ".join(problems) + ")"
    if failure is not None:
        print(f"\nFAILED {name}: {failure}\n", flush=True)
        for t in ctx.tandems:
            if t.stderr_path:
                print(f"--- tandem stderr ({t.stderr_path}), last lines:\n{t.stderr_tail()}\n", flush=True)
    else:
        log(f"PASSED {name} in {time.monotonic() - started:.1f}s")
    if args.keep or (failure is not None and os.environ.get("TANDEM_KEEP_FAILED")):
        log(f"kept {ctx.dir}")
    else:
        shutil.rmtree(ctx.dir, ignore_errors=True)
    return failure is None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tandem", help="path of the tandem binary")
    parser.add_argument("--run", action="append", default=[], help="test to run (repeatable; default: all)")
    parser.add_argument("--list", action="store_true", help="list the tests")
    parser.add_argument("--sipp", default="sipp", help="sipp binary (default: sipp from PATH)")
    parser.add_argument("--keep", action="store_true", help="keep each test's temp dir")
    args = parser.parse_args()
    if args.list:
        print("\n".join(TESTS))
        return 0
    names = args.run or list(TESTS)
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        parser.error(f"unknown test(s) {unknown}; known: {', '.join(TESTS)}")
    if not args.tandem:
        parser.error("--tandem is required")
    args.tandem = os.path.abspath(args.tandem)
    if not os.access(args.tandem, os.X_OK):
        sys.exit(f"tandem binary not found or not executable: {args.tandem}")
    sipp = shutil.which(args.sipp)
    if sipp is None:
        sys.exit(f"sipp not found ({args.sipp}); install the Debian package sip-tester")
    args.sipp = sipp
    enter_namespace(sys.argv[1:])
    results = {n: run_test(args, n) for n in names}
    if len(names) > 1:
        print("\n".join(f"{'ok  ' if ok else 'FAIL'} {n}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
