#!/usr/bin/env python3
"""Gateway call-setup benchmark: JSON → SIP → JSON against SIP-only, same run.

Four paths, each on freshly started Tandems of the same (copied) release binary:

  gw1   JSON → SIP → JSON through one Tandem (a.test): bench/gateway/json_load
        logs in N callers and N callees over WebSocket (tandem.v1) and places
        calls: `call` → `call.incoming` → `answer` → `call.answered` → hold →
        `hangup` → `call.ended` on both sides.
  gw2   the same across two domains: callers on a.test (127.0.0.2), callees on
        b.test (127.0.0.3), each its own Tandem, finding each other through
        dnsmasq (NAPTR/SRV/A on 127.0.0.1:5353) or static routes (--routing).
  sip1  SIP only, through one Tandem: sipp UAC (bench/scenarios/uac_call.xml:
        INVITE → 407 → ACK, INVITE with credentials → 180/200 → ACK → hold → BYE)
        → Tandem → sipp UAS (bench/scenarios/uas_call.xml).
  sip2  the same across the two domains (caller@a.test → a → b → callee@b.test).

For each: a stepped rate ladder up to the highest sustainable rate (< 0.1 %
failed, ≥ 90 % of the target rate placed, p99 setup latency < --max-p99-ms),
then a fresh run at half that rate for p50/p90/p99 setup latency. CPU seconds
of the Tandem process(es) (utime+stime, /proc/PID/stat) per call, at a rate
every path passed, give the ratio gateway CPU per call / SIP-only CPU per call.
The load generators' own CPU (json_load, sipp, dnsmasq) is reported too.

    sudo python3 bench/gateway_bench.py            # ~7 min, 2 rounds, writes docs/benchmarks.md
    sudo python3 bench/gateway_bench.py --quick    # ~3 min, 1 round
    python3 bench/gateway_bench.py --paths gw1,sip1 --no-write

Runs inside a private loopback-only network namespace (re-executes itself
under `unshare --net`). Every process it starts is stopped by its pid; every
load run is bounded in count and time. Python 3 standard library only.
Needs sipp, dnsmasq, unshare, ip, and build/release/src/app/tandem (copied to
the work directory at the start: the tree may be rebuilt meanwhile).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import glob
import json
import os
import platform
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no bench/__pycache__ in the tree
import sip_bench as sb  # noqa: E402  (the shared /proc, process and sipp helpers)

REPO = sb.REPO
SCEN = sb.SCEN
DOCS_OUT = sb.DOCS_OUT
SECTION_BEGIN = "<!-- gateway_bench: begin -->"
SECTION_END = "<!-- gateway_bench: end -->"
NETNS_ENV = "GATEWAY_BENCH_IN_NETNS"

HTTP_PORT = 8080
SIP_PORT = sb.SIP_PORT
DNS_ADDR, DNS_PORT = "127.0.0.1", 5353
NODES = {"a": ("a.test", "127.0.0.2"), "b": ("b.test", "127.0.0.3")}
UAC_ADDR = "127.0.0.10"  # sipp caller
UAS_ADDR = "127.0.0.11"  # sipp callee

PATHS = ("gw1", "gw2", "sip1", "sip2")
LABEL = {
    "gw1": "JSON → SIP → JSON, one node",
    "gw2": "JSON → SIP → JSON, two domains",
    "sip1": "SIP only (sipp → Tandem → sipp), one node",
    "sip2": "SIP only, two domains (sipp → a → b → sipp)",
}
RATES = [250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000]
MAX_FAIL_RATIO = 0.001
MIN_ACHIEVED = 0.90
OTHERS_RETRY_SHARE = 0.30  # a failed step while others used > 30 % of the CPU is repeated once
CLK_TCK = sb.CLK_TCK
log = sb.log


# ----------------------------------------------------------------------------
# Namespace


def ensure_netns(argv: list[str]) -> None:
    if os.environ.get(NETNS_ENV) != "1":
        cmd = ["unshare", "--net", "--fork", "--kill-child"]
        if os.geteuid() != 0:
            cmd[1:1] = ["--user", "--map-root-user"]
        env = dict(os.environ, **{NETNS_ENV: "1", sb.NETNS_ENV: "1"})
        os.execvpe(cmd[0], cmd + ["--", sys.executable, str(Path(__file__).resolve())] + argv, env)
    sb.ensure_netns([])  # lo up, and a check that lo is the only link


# ----------------------------------------------------------------------------
# Build and binaries


def copy_tandem(src: Path, work: Path) -> Path:
    if not os.access(src, os.X_OK):
        sys.exit(f"no tandem binary at {src}: build it with `cmake --preset release && "
                 f"cmake --build --preset release --target tandem`")
    dst = work / "tandem"
    shutil.copy2(src, dst)
    return dst


def build_json_load(work: Path, attempts: int, wait: float) -> Path:
    """Builds only the json_load target of the release tree; if the tree does not
    configure or build (someone's edit may be half done), retries after `wait`
    seconds, then builds bench/gateway on its own in build/json-load."""
    built = REPO / "build" / "release" / "bench" / "gateway" / "json_load"
    for attempt in range(1, attempts + 1):
        cfg = subprocess.run(["cmake", "--preset", "release", "-DTANDEM_BUILD_GATEWAY_LOAD=ON"],
                             cwd=REPO, capture_output=True, text=True)
        if cfg.returncode == 0:
            b = subprocess.run(["cmake", "--build", "--preset", "release", "--target", "json_load"],
                               cwd=REPO, capture_output=True, text=True)
            if b.returncode == 0 and built.exists():
                break
            why = (b.stdout + b.stderr).strip().splitlines()[-3:]
        else:
            why = (cfg.stdout + cfg.stderr).strip().splitlines()[-3:]
        log(f"json_load: release tree build failed (attempt {attempt}/{attempts}): {' | '.join(why)}")
        if attempt < attempts:
            time.sleep(wait)
    else:
        own = REPO / "build" / "json-load"
        log(f"json_load: building bench/gateway on its own in {own}")
        subprocess.run(["cmake", "-S", str(REPO / "bench" / "gateway"), "-B", str(own),
                        "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
        subprocess.run(["cmake", "--build", str(own), "--target", "json_load"], check=True,
                       capture_output=True)
        built = own / "json_load"
    dst = work / "json_load"
    shutil.copy2(built, dst)
    return dst


def proc_cpu(pid: int | None) -> float:
    return sb.cpu_seconds([pid]) if pid else 0.0


# ----------------------------------------------------------------------------
# Servers


class Node:
    """One Tandem: its domain, address, users, TOML configuration."""

    def __init__(self, key: str, binary: Path, work: Path, routing: str, transport: str):
        self.key = key
        self.domain, self.addr = NODES[key]
        self.binary = binary
        self.work = work / f"node-{key}"
        self.work.mkdir(parents=True, exist_ok=True)
        self.template = self.work / "data-template"
        self.routing = routing
        self.transport = transport  # between the domains: udp or tcp
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def add_users(self, names: list[str], parallel: int) -> float:
        t0 = time.monotonic()
        self.template.mkdir(exist_ok=True)

        def add(name: str) -> str | None:
            cmd = [str(self.binary), "user", "add", name, "--password", f"pw-{name}",
                   "--data-dir", str(self.template), "--domain", self.domain]
            for attempt in range(5):
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    return None
                time.sleep(0.05 * (attempt + 1))  # SQLite busy under parallel adds
            return f"{name}: rc={r.returncode} {r.stderr.strip()[:200]}"

        add(names[0])  # creates the database before the parallel adds
        with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
            errors = [e for e in ex.map(add, names[1:]) if e]
        if errors:
            raise RuntimeError(f"{self.domain}: {len(errors)} `tandem user add` failed, first: {errors[0]}")
        return time.monotonic() - t0

    def config_text(self, data_dir: Path) -> str:
        other = [k for k in NODES if k != self.key][0]
        lines = [
            "[server]", f'domain = "{self.domain}"', f'data_dir = "{data_dir}"', 'log_level = "warn"',
            "[sip]", f'listen = ["udp:{self.addr}:{SIP_PORT}"' +
            (f', "tcp:{self.addr}:{SIP_PORT}"' if self.transport == "tcp" else "") + "]",
            f"udp_receive_buffer = {sb.UDP_RCVBUF}",
            "[http]", f'listen = "{self.addr}:{HTTP_PORT}"',
            "[federation]", f'dns_servers = ["{DNS_ADDR}:{DNS_PORT}"]',
        ]
        if self.routing == "static":
            odomain, oaddr = NODES[other]
            lines += ["[federation.routes]", f'"{odomain}" = "{self.transport}:{oaddr}:{SIP_PORT}"']
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self.starts += 1
        run_dir = self.work / f"run{self.starts}"
        run_dir.mkdir()
        shutil.copytree(self.template, run_dir / "data")
        config = run_dir / "tandem.toml"
        config.write_text(self.config_text(run_dir / "data"))
        self.logfile = open(run_dir / "tandem.log", "wb")
        self.proc = subprocess.Popen([str(self.binary), "serve", "--config", str(config)],
                                     stdout=self.logfile, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=run_dir)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tandem {self.domain} exited with {self.proc.returncode}; "
                                   f"see {run_dir / 'tandem.log'}")
            try:
                with urllib.request.urlopen(f"http://{self.addr}:{HTTP_PORT}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"tandem {self.domain} did not answer /healthz within 15 s")
            time.sleep(0.1)
        if not sb.sip_ping(self.addr, 10):
            self.stop()
            raise RuntimeError(f"tandem {self.domain} did not answer OPTIONS within 10 s")
        self.run_dir = run_dir

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid if self.proc else None)

    def stop(self) -> None:
        if self.proc:
            sb.stop_pid(self.proc, f"tandem {self.domain}")
            self.proc = None
            self.logfile.close()


class Dns:
    """dnsmasq with the two test domains' NAPTR, SRV and A records (one transport)."""

    def __init__(self, work: Path, transport: str, ttl: int):
        self.work = work
        self.transport = transport
        self.ttl = ttl
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = ["--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                f"--listen-address={DNS_ADDR}", "--bind-interfaces", f"--port={DNS_PORT}",
                "--local=/test/", "--log-facility=-", f"--local-ttl={self.ttl}"]
        service, proto = ("SIP+D2T", "_tcp") if self.transport == "tcp" else ("SIP+D2U", "_udp")
        for key, (domain, addr) in NODES.items():
            args += [f"--naptr-record={domain},10,10,S,{service},,_sip.{proto}.{domain}",
                     f"--srv-host=_sip.{proto}.{domain},sip.{domain},{SIP_PORT},0,10",
                     f"--host-record=sip.{domain},{addr}"]
        binary = "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else "dnsmasq"
        self.log = open(self.work / "dnsmasq.log", "wb")
        self.proc = subprocess.Popen([binary] + args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError(f"dnsmasq exited with {self.proc.returncode}; see {self.work / 'dnsmasq.log'}")

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid if self.proc else None)

    def stop(self) -> None:
        if self.proc:
            sb.stop_pid(self.proc, "dnsmasq")
            self.proc = None
            self.log.close()


# ----------------------------------------------------------------------------
# Load generators


class JsonLoad:
    """bench/gateway/json_load in --stdin mode: logged in once, one line per run."""

    def __init__(self, binary: Path, opts, caller: Node, callee: Node, run_dir: Path):
        self.opts = opts
        cmd = [str(binary), "--stdin", "1", "--caller-host", caller.addr, "--callee-host", callee.addr,
               "--port", str(HTTP_PORT), "--pairs", str(opts.pairs), "--hold-ms", str(opts.hold_ms),
               "--ring-ms", str(opts.ring_ms), "--call-timeout", str(opts.call_timeout),
               "--prefix", "g"]
        if caller is not callee:
            cmd += ["--to-domain", callee.domain]
        self.cmd = cmd
        self.err = open(run_dir / "json_load.err", "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, cwd=run_dir)
        self.buf = b""
        ready = self.read_line(30)
        if not ready or ready.get("phase") != "ready":
            self.stop()
            raise RuntimeError(f"json_load did not log in: {ready}")

    def read_line(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def run(self, rate: float, seconds: float) -> dict:
        count = max(int(rate * seconds), 1)
        # Placing may run 30 % late before it is cut (the client is then the limit).
        self.proc.stdin.write(f"{rate} {count} {seconds * 1.3:.3f}\n".encode())
        self.proc.stdin.flush()
        res = self.read_line(seconds * 1.3 + self.opts.call_timeout + self.opts.hold_ms / 1000 + 15)
        if res is None:
            raise RuntimeError("json_load did not report in time")
        return res

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                sb.stop_pid(self.proc, "json_load", grace=2)
        self.err.close()


def sipp_scenarios(work: Path, ring_ms: float) -> tuple[Path, Path]:
    """bench/scenarios/uac_call.xml and uas_call.xml, with two changes made here
    (the files themselves stay as sip_bench.py uses them): the caller times the
    authenticated INVITE to its 200 (rtd 1, sipp -trace_rtt) and calls
    [callee]@[callee_domain], so the callee may be in another domain; the
    callee's 20 ms ring becomes --ring-ms, as for the JSON callee."""
    uac = (SCEN / "uac_call.xml").read_text()
    auth_invite = uac.index("CSeq: 2 INVITE")
    send_at = uac.rindex('<send retrans="500">', 0, auth_invite)
    uac = uac[:send_at] + '<send retrans="500" start_rtd="1">' + uac[send_at + len('<send retrans="500">'):]
    assert uac.count('<recv response="200" rrs="true"/>') == 1
    uac = uac.replace('<recv response="200" rrs="true"/>', '<recv response="200" rrs="true" rtd="1"/>')
    assert "[callee]@[domain]" in uac
    uac = uac.replace("[callee]@[domain]", "[callee]@[callee_domain]")
    uas = (SCEN / "uas_call.xml").read_text()
    assert uas.count('<pause milliseconds="20"/>') == 1
    ring = f'<pause milliseconds="{int(ring_ms)}"/>' if ring_ms > 0 else ""
    uas = uas.replace('<pause milliseconds="20"/>', ring)
    (work / "uac_call.xml").write_text(uac)
    (work / "uas_call.xml").write_text(uas)
    return work / "uac_call.xml", work / "uas_call.xml"


def read_rtts(run_dir: Path, tag: str) -> list[float]:
    """Response times (ms) of rtd 1 from sipp's -trace_rtt file(s) of this run."""
    out: list[float] = []
    for f in glob.glob(str(run_dir / f"{tag}-rtt" / "*_rtt.csv")):
        with open(f) as fh:
            for line in fh:
                parts = line.strip().split(";")
                if len(parts) >= 3 and parts[2].strip() == "1":
                    try:
                        out.append(float(parts[1]))
                    except ValueError:
                        pass
    return out


def percentiles(v: list[float]) -> dict:
    if not v:
        return {"n": 0}
    v = sorted(v)

    def at(q: float) -> float:
        return v[min(int(q * (len(v) - 1) + 0.5), len(v) - 1)]

    return {"n": len(v), "mean": sum(v) / len(v), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99),
            "max": v[-1]}


class SippLoad:
    """The callee (sipp UAS, registered first) stays up; each run is one sipp UAC."""

    def __init__(self, opts, caller: Node, callee: Node, uac: Path, uas: Path, run_dir: Path):
        self.opts = opts
        self.caller, self.callee = caller, callee
        self.uac = uac
        self.run_dir = run_dir
        self.runs = 0
        callee_csv = run_dir / "callee.csv"
        callee_csv.write_text("SEQUENTIAL\ncallee;pw-callee\n")
        st, rc = sb.run_sipp([f"{callee.addr}:{SIP_PORT}", "-sf", str(SCEN / "register.xml"),
                              "-inf", str(callee_csv), "-auth_uri", callee.domain, "-au", "[field0]",
                              "-ap", "[field1]", "-i", UAS_ADDR, "-p", str(SIP_PORT),
                              "-key", "domain", callee.domain, "-m", "1", "-timeout", "10s"],
                             run_dir, "callee-register", timeout=20)
        if st.get("success") != 1:
            raise RuntimeError(f"the sipp callee could not register at {callee.domain} (see {run_dir})")
        self.uas_out = open(run_dir / "uas.out", "wb")
        self.uas = subprocess.Popen(
            ["sipp", "-sf", str(uas), "-i", UAS_ADDR, "-p", str(SIP_PORT), "-nostdin",
             "-buff_size", str(sb.UDP_RCVBUF), "-timeout", f"{int(opts.sipp_uas_timeout)}s",
             "-trace_err", "-error_file", str(run_dir / "uas.err.log")],
            stdout=self.uas_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=run_dir)
        time.sleep(0.5)

    def run(self, rate: float, seconds: float) -> dict:
        self.runs += 1
        count = max(int(rate * seconds), 1)
        tag = f"call{self.runs}-{int(rate)}"
        rtt_dir = self.run_dir / f"{tag}-rtt"
        rtt_dir.mkdir()
        args = [f"{self.caller.addr}:{SIP_PORT}", "-sf", str(self.uac),
                "-auth_uri", f"callee@{self.callee.domain}", "-au", "caller", "-ap", "pw-caller",
                "-key", "caller", "caller", "-key", "callee", "callee",
                "-key", "domain", self.caller.domain, "-key", "callee_domain", self.callee.domain,
                "-i", UAC_ADDR, "-p", str(SIP_PORT), "-r", str(int(rate)), "-m", str(count),
                "-timeout", f"{int(seconds * 1.3 + 10)}s", "-recv_timeout", "8000",
                "-trace_rtt", "-rtt_freq", "50"]
        # sipp writes <scenario>_<pid>_rtt.csv into its working directory.
        g0 = sb.children_cpu()
        st, rc = sb.run_sipp(args, rtt_dir, tag, timeout=seconds * 1.3 + 20)
        uac_cpu = sb.children_cpu() - g0
        success = st.get("success", 0)
        # The placing rate: the last call's own duration (ring + hold) is not sipp's pace.
        tail = (self.opts.ring_ms + 100) / 1000
        elapsed = max(st.get("elapsed", 0) - tail, count / rate / 2) if st else 0
        return {"attempted": count, "completed": success, "failed": count - success,
                "rate": (st.get("outgoing", 0) / elapsed) if elapsed else 0.0,
                "completed_rate": success / elapsed if elapsed else 0.0,
                "setup_ms": percentiles(read_rtts(self.run_dir, tag)),
                "retrans": st.get("retrans", 0), "sipp_rc": rc, "uac_cpu": uac_cpu}

    def cpu(self) -> float:
        """The callee's CPU (the caller's is taken per run from RUSAGE_CHILDREN)."""
        return proc_cpu(self.uas.pid if self.uas.poll() is None else None)

    def stop(self) -> None:
        sb.stop_pid(self.uas, "sipp uas", grace=2)
        self.uas_out.close()


# ----------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, opts, work: Path, tandem: Path, json_load: Path):
        self.o = opts
        self.work = work
        self.json_load = json_load
        self.nodes = {k: Node(k, tandem, work, opts.routing, opts.transport) for k in NODES}
        self.dns = Dns(work, opts.transport, opts.dns_ttl)
        self.uac, self.uas = sipp_scenarios(work, opts.ring_ms)
        self.sessions = 0
        self.waited = 0.0  # seconds spent waiting for an idle machine (not billed to the budget)

    def prepare_users(self) -> str:
        n = self.o.pairs
        callers = [f"gc{i:04d}" for i in range(n)]
        callees = [f"gd{i:04d}" for i in range(n)]
        ta = self.nodes["a"].add_users(callers + callees + ["caller", "callee"], self.o.user_add_parallel)
        tb = self.nodes["b"].add_users(callees + ["callee"], self.o.user_add_parallel)
        return (f"{2 * n + 2} users on a.test and {n + 1} on b.test with `tandem user add` "
                f"({ta + tb:.1f} s)")

    def wait_quiet(self) -> None:
        """Waits (bounded) until other processes leave the CPU mostly idle."""
        if self.o.wait_idle <= 0 or self.waited >= self.o.wait_total:
            return
        start = time.monotonic()
        deadline = start + min(self.o.wait_idle, self.o.wait_total - self.waited)
        try:
            while time.monotonic() < deadline:
                b0, t0 = sb.machine_busy_seconds()
                time.sleep(0.5)
                b1, t1 = sb.machine_busy_seconds()
                if (b1 - b0) / max(t1 - t0, 1e-3) < 0.15:
                    return
            log(f"  the machine stayed busy for {self.o.wait_idle:.0f} s: measuring anyway")
        finally:
            waited = time.monotonic() - start
            if waited > 0.6:
                self.waited += waited

    def start(self, path: str) -> tuple[list[Node], object]:
        """Fresh servers (and dnsmasq) and the load generator for one path."""
        self.sessions += 1
        two = path.endswith("2")
        nodes = [self.nodes["a"], self.nodes["b"]] if two else [self.nodes["a"]]
        if two and self.o.routing == "dns":
            self.dns.start()
        for n in nodes:
            n.start()
        run_dir = self.work / f"{path}-{self.sessions}"
        run_dir.mkdir()
        try:
            if path.startswith("gw"):
                load = JsonLoad(self.json_load, self.o, nodes[0], nodes[-1], run_dir)
            else:
                load = SippLoad(self.o, nodes[0], nodes[-1], self.uac, self.uas, run_dir)
        except Exception:
            self.stop(nodes, None)
            raise
        return nodes, load

    def stop(self, nodes: list[Node], load) -> None:
        if load:
            load.stop()
        for n in nodes:
            n.stop()
        self.dns.stop()

    def step(self, path: str, nodes: list[Node], load, rate: float, seconds: float) -> dict:
        self.wait_quiet()
        cpu0 = [n.cpu() for n in nodes]
        l0, d0 = load.cpu(), self.dns.cpu()
        b0, _ = sb.machine_busy_seconds()
        t0 = time.monotonic()
        r = load.run(rate, seconds)
        wall = time.monotonic() - t0
        cpu1 = [n.cpu() for n in nodes]
        l1, d1 = load.cpu(), self.dns.cpu()
        b1, _ = sb.machine_busy_seconds()
        node_cpu = [c1 - c0 for c0, c1 in zip(cpu0, cpu1)]
        server = sum(node_cpu)
        load_cpu = (l1 - l0) + r.get("uac_cpu", 0.0)
        dns_cpu = d1 - d0
        done = r.get("completed", 0)
        attempted = r.get("attempted", 0) or 1
        setup = r.get("setup_ms", {})
        res = {
            "path": path, "rate": rate, "attempted": r.get("attempted", 0), "completed": done,
            "failed": attempted - done, "fail_ratio": (attempted - done) / attempted,
            "achieved": r.get("rate", 0.0), "setup": setup,
            "server_cpu": server, "node_cpu": node_cpu, "load_cpu": load_cpu, "dns_cpu": dns_cpu,
            "other_cpu": max((b1 - b0) - server - load_cpu - dns_cpu, 0.0), "wall": wall,
            "cpu_ms_per_call": 1000 * server / done if done else None,
            "failures": r.get("failures", {}), "retrans": r.get("retrans"),
        }
        p99 = setup.get("p99")
        res["ok"] = (res["fail_ratio"] < MAX_FAIL_RATIO and res["achieved"] >= MIN_ACHIEVED * rate
                     and p99 is not None and p99 < self.o.max_p99_ms)
        log(f"  {path:4s} {rate:6.0f}/s: {done}/{res['attempted']} ok, placed {res['achieved']:7.0f}/s, "
            f"setup p50 {setup.get('p50', 0):.2f} p99 {setup.get('p99', 0):.2f} ms, Tandem CPU "
            f"{server:.2f} s ({res['cpu_ms_per_call'] or 0:.3f} ms/call"
            f"{', ' + ' + '.join(f'{c:.2f}' for c in node_cpu) if len(node_cpu) > 1 else ''}), "
            f"load CPU {load_cpu:.2f} s, dns {dns_cpu:.2f} s, others {res['other_cpu']:.2f} s"
            f"{' ' + json.dumps(res['failures']) if res['failures'] else ''} -> "
            f"{'PASS' if res['ok'] else 'FAIL'}")
        return res

    def ladder(self, path: str, budget_end: float) -> list[dict]:
        nodes, load = self.start(path)
        out: list[dict] = []
        waited0 = self.waited
        try:
            for rate in RATES:
                if rate > self.o.max_rate:
                    break
                if time.monotonic() + self.o.step_seconds + 3 > budget_end + (self.waited - waited0):
                    log(f"  {path}: ladder stopped before {rate}/s (time budget)")
                    break
                r = self.step(path, nodes, load, rate, self.o.step_seconds)
                busy = r["other_cpu"] / (r["wall"] * (os.cpu_count() or 1))
                if not r["ok"] and busy > OTHERS_RETRY_SHARE:
                    log(f"  {path}: other processes used {busy * 100:.0f} % of the CPU: repeating the step once")
                    r["retried"] = True
                    out.append(r)
                    time.sleep(1)
                    r = self.step(path, nodes, load, rate, self.o.step_seconds)
                out.append(r)
                if not r["ok"]:
                    break
                time.sleep(0.3)
        finally:
            self.stop(nodes, load)
        return out

    def half(self, path: str, rate: float) -> dict | None:
        if rate <= 0:
            return None
        nodes, load = self.start(path)
        try:
            return self.step(path, nodes, load, rate, self.o.half_seconds)
        finally:
            self.stop(nodes, load)


best, med, fmt = sb.best, sb.med, sb.fmt  # the highest passing step; median; a cell


def summarize(results: dict[str, list[dict]]) -> dict:
    """Medians over rounds per path; the reference rate every path passed in every round."""
    maxima = [(best(r["ladder"]) or {"rate": 0})["rate"] for rs in results.values() for r in rs]
    ref = min(maxima) if maxima else 0
    summ: dict = {"ref": ref}
    for path, rs in results.items():
        s: dict = {"rounds": len(rs)}
        bests = [best(r["ladder"]) for r in rs]
        s["max"] = med([b["rate"] if b else 0 for b in bests])
        s["capped"] = any(r["ladder"] and r["ladder"][-1]["ok"] for r in rs)
        s["cpu_ref"] = med([st["cpu_ms_per_call"] for r in rs for st in r["ladder"]
                            if st["rate"] == ref and st["ok"] and not st.get("retried")])
        s["node_cpu_ref"] = [med([st["node_cpu"][i] / st["completed"] * 1000 for r in rs for st in r["ladder"]
                                  if st["rate"] == ref and st["ok"] and not st.get("retried") and st["completed"]])
                             for i in range(2 if path.endswith("2") else 1)]
        s["load_cpu_ref"] = med([st["load_cpu"] / st["completed"] * 1000 for r in rs for st in r["ladder"]
                                 if st["rate"] == ref and st["ok"] and not st.get("retried") and st["completed"]])
        s["dns_cpu_ref"] = med([st["dns_cpu"] / st["completed"] * 1000 for r in rs for st in r["ladder"]
                                if st["rate"] == ref and st["ok"] and not st.get("retried") and st["completed"]])
        halves = [r["half"] for r in rs if r.get("half")]
        s["half_rate"] = med([h["rate"] for h in halves])
        for k in ("p50", "p90", "p99", "max"):
            s[f"half_{k}"] = med([h["setup"].get(k) for h in halves])
        s["half_failed"] = sum(h["failed"] for h in halves)
        s["half_attempted"] = sum(h["attempted"] for h in halves)
        s["half_cpu"] = med([h["cpu_ms_per_call"] for h in halves])
        s["half_load_cpu"] = med([h["load_cpu"] / h["completed"] * 1000 if h["completed"] else None for h in halves])
        s["limit"] = "; ".join(limit_reason(r["ladder"]) for r in rs)
        summ[path] = s
    return summ


def limit_reason(steps: list[dict]) -> str:
    if not steps:
        return "no step"
    last = steps[-1]
    if last["ok"]:
        return "ladder/time end"
    why = []
    if last["fail_ratio"] >= MAX_FAIL_RATIO:
        kinds = ", ".join(f"{k} ×{v}" for k, v in list(last.get("failures", {}).items())[:3])
        why.append(f"{last['fail_ratio'] * 100:.2f} % failed{' (' + kinds + ')' if kinds else ''}")
    if last["achieved"] < MIN_ACHIEVED * last["rate"]:
        why.append(f"placed only {last['achieved']:.0f}/s")
    p99 = last["setup"].get("p99")
    if not why:
        why.append(f"p99 setup latency {p99:.0f} ms" if p99 is not None else "no latency measured")
    return f"{last['rate']}/s: {', '.join(why)}"


def markdown(summ: dict, results: dict, meta: dict) -> str:
    paths = [p for p in PATHS if p in results]
    ref = summ["ref"]
    L = []
    L.append("| path | max calls/s | Tandem CPU ms/call at " + f"{ref}/s" +
             " | load generator CPU ms/call | half-max rate/s | setup p50 / p90 / p99 / max (ms) at half max "
             "| Tandem CPU ms/call at half max | failed at half max |")
    L.append("|---|---|---|---|---|---|---|---|")
    for p in paths:
        s = summ[p]
        node = ""
        if p.endswith("2") and all(x is not None for x in s["node_cpu_ref"]):
            node = f" (a {s['node_cpu_ref'][0]:.3f} + b {s['node_cpu_ref'][1]:.3f})"
        dns = f" + dnsmasq {s['dns_cpu_ref']:.3f}" if s.get("dns_cpu_ref") else ""
        lat = (f"{fmt(s['half_p50'], '{:.2f}')} / {fmt(s['half_p90'], '{:.2f}')} / "
               f"{fmt(s['half_p99'], '{:.2f}')} / {fmt(s['half_max'], '{:.1f}')}")
        L.append(f"| {LABEL[p]} | {'≥ ' if s['capped'] else ''}{fmt(s['max'])} | "
                 f"{fmt(s['cpu_ref'], '{:.3f}')}{node} | {fmt(s['load_cpu_ref'], '{:.3f}')}{dns} | "
                 f"{fmt(s['half_rate'])} | {lat} | {fmt(s['half_cpu'], '{:.3f}')} | "
                 f"{s['half_failed']}/{s['half_attempted']} |")
    L.append("")
    L.append("(≥: the ladder ended at its top or on the time budget before any step failed.)")
    L.append("")
    for p in paths:
        L.append(f"- {p}: ladder stopped at: {summ[p]['limit']}.")
    L.append("")
    verdicts = targets(summ)
    for v in verdicts:
        L.append(f"- {v}")
    L.append("")
    L.append("Every step (round, path, target rate → completed/attempted, placed/s, setup p50/p99 ms, "
             "Tandem CPU ms per call, load generator CPU s, dnsmasq CPU s, CPU s of other processes):")
    L.append("")
    L.append("| round | path | run | target/s | ok/attempted | placed/s | p50 ms | p99 ms | Tandem CPU ms/call "
             "| load CPU s | dnsmasq CPU s | others' CPU s | |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in paths:
        for r in results[p]:
            rows = [("ladder", st) for st in r["ladder"]] + ([("half max", r["half"])] if r.get("half") else [])
            for kind, st in rows:
                L.append(f"| {r['round']} | {p} | {kind} | {st['rate']:.0f} | {st['completed']}/{st['attempted']} | "
                         f"{st['achieved']:.0f} | {fmt(st['setup'].get('p50'), '{:.2f}')} | "
                         f"{fmt(st['setup'].get('p99'), '{:.2f}')} | {fmt(st['cpu_ms_per_call'], '{:.3f}')} | "
                         f"{st['load_cpu']:.2f} | {st['dns_cpu']:.2f} | {st['other_cpu']:.2f} | "
                         f"{'pass' if st['ok'] else 'FAIL, repeated' if st.get('retried') else 'FAIL'} |")
    return "\n".join(L)


def targets(summ: dict) -> list[str]:
    out = []
    for gw, sip in (("gw1", "sip1"), ("gw2", "sip2")):
        if gw in summ and sip in summ and summ[gw].get("cpu_ref") and summ[sip].get("cpu_ref"):
            ratio = summ[gw]["cpu_ref"] / summ[sip]["cpu_ref"]
            summ[f"ratio_{gw}"] = ratio
            out.append(f"CPU per call, {LABEL[gw]} / {LABEL[sip]} at {summ['ref']}/s: **{ratio:.2f}×** "
                       f"(target ≤ 2×: {'met' if ratio <= 2 else 'NOT met'}).")
    if "gw2" in summ and "sip1" in summ and summ["gw2"].get("cpu_ref") and summ["sip1"].get("cpu_ref"):
        out.append(f"For scale: two domains' gateway path per call against one proxied SIP call: "
                   f"{summ['gw2']['cpu_ref'] / summ['sip1']['cpu_ref']:.2f}× (two Tandems do the work).")
    for p in ("gw1", "gw2"):
        if p in summ and summ[p].get("half_p99") is not None:
            p99 = summ[p]["half_p99"]
            out.append(f"p99 setup latency, {LABEL[p]}, at half the maximum rate "
                       f"({fmt(summ[p]['half_rate'])}/s): **{p99:.2f} ms** "
                       f"(target < 20 ms: {'met' if p99 < 20 else 'NOT met'}).")
    return out


def section(table: str, meta: dict) -> str:
    m = meta
    return f"""{SECTION_BEGIN}
## Gateway call setup (issue 4)

Generated by `bench/gateway_bench.py` on {m['date']} — {m['mode']}.

**Machine:** {m['machine']}. {m['busy']}

**Versions:** {m['tandem']}; {m['sipp']}; {m['dnsmasq']}; load client `bench/gateway/json_load`.

**Reproduce:** `{m['command']}` (as root, from the repository root; `--quick` runs for
about 3 minutes, without it about 7). See `bench/README.md`.

Medians over {m['rounds']} round(s) (the paths' order alternates between rounds).
Tandem CPU is utime+stime of the Tandem process(es) from `/proc/PID/stat`, per
completed call; for two domains it is both Tandems together. The reference rate
({m['ref']}/s) is the highest ladder step that every path passed in every round:
CPU per call falls as the rate grows (bigger batches per wake-up), so the paths
are compared at the same rate.

{table}

How it was measured:

- Everything runs in a private loopback-only network namespace (`unshare --net`).
  a.test is a Tandem on 127.0.0.2 (SIP udp:127.0.0.2:5060, HTTP/WebSocket
  127.0.0.2:8080), b.test one on 127.0.0.3; both are the same release binary
  (RelWithDebInfo, one thread), copied before the run, with `log_level = "warn"`
  and 4 MB UDP receive buffers, and a TOML file each. Two domains find each other
  {m['routing']}. Every ladder and every half-max run starts on freshly started
  Tandems.
- **Gateway paths**: `bench/gateway/json_load` (our own client: one thread,
  Boost.Beast, nlohmann-json) logs in {m['pairs']} callers (`gc0000`…) and {m['pairs']}
  callees (`gd0000`…) on WebSockets with subprotocol `tandem.v1` (users made with
  `tandem user add`), then places calls at the target rate, open loop, round-robin
  over the pairs: caller `call` {{to, sdp}} (a ~130-byte fake SDP) → callee
  `call.incoming` → callee `answer` {{sdp}} at once (ring {m['ring_ms']:.0f} ms) → caller
  `call.answered` → hold {m['hold_ms']:.0f} ms → caller `hangup` → `call.ended` on both.
  A call counts when all of that happened within {m['call_timeout']:.0f} s (+ hold). **Setup
  latency** = from sending `call` to receiving `call.answered`, measured by the
  client. In Tandem each JSON connection is a SIP user agent on an internal
  WebSocket channel; a gateway call is one SIP dialog between two of them through
  the proxy (INVITE, 180, 200, ACK, BYE, 200, with RFC 4028 session-timer headers).
- **SIP-only paths**: sipp `bench/scenarios/uac_call.xml` (caller `caller@a.test`,
  127.0.0.10) → Tandem → sipp `bench/scenarios/uas_call.xml` (callee
  `callee`, registered from 127.0.0.11 with `bench/scenarios/register.xml`, at a.test
  or b.test), run as in `bench/sip_bench.py`, with three changes made on copies in
  the work directory: the callee answers after {m['ring_ms']:.0f} ms instead of 20 ms (as the
  JSON callee), the caller may call another domain (`[callee]@[callee_domain]`), and
  it times the authenticated INVITE to its 200 (`start_rtd`/`rtd`, `-trace_rtt`) —
  the setup latency, comparable to the JSON one (the 407 challenge round trip before
  it is not included; its CPU is). sipp's clock advances in 4 ms ticks here: its
  latencies read 0, 4, 8… ms, 0 meaning under one tick. Hold 100 ms.
- **Ladders**: {', '.join(map(str, RATES))} calls/s, {m['step_seconds']:.0f} s per step
  (count = rate × seconds); a step passes with < 0.1 % of the calls failed or
  unfinished, ≥ 90 % of the target rate placed and p99 setup latency below
  {m['max_p99_ms']:.0f} ms (a growing backlog shows there before calls fail). The maximum is the
  highest passing step; then a fresh run of {m['half_seconds']:.0f} s at half of it gives the
  latency figures.
- The load generators share the 2 cores with Tandem: the JSON client's (and
  sipp's) CPU per call is shown next to Tandem's, and the maximum rates are
  often the machine's limit, not Tandem's (two Tandems + client on 2 cores for the
  two-domain paths). Steps wait (up to {m['wait_idle']:.0f} s) for the machine to be idle
  before they start; the CPU other processes used during each step is in the last
  table.
{m['notes']}{SECTION_END}
"""


def write_section(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else ""
    start, end = old.find(SECTION_BEGIN), old.find(SECTION_END)
    if start != -1 and end != -1:
        new = old[:start] + text.strip() + old[end + len(SECTION_END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text.strip() + "\n"
    path.write_text(new)


def tool_version(cmd: list[str], pick: str) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        lines = (out.stdout + out.stderr).splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return next((l.strip() for l in lines if pick in l), lines[0].strip() if lines else "?")


def tandem_version(src: Path, copy: Path) -> str:
    try:
        tree = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        tree = "?"
    built = dt.datetime.fromtimestamp(src.stat().st_mtime).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    shown = os.path.relpath(src, REPO) if str(src).startswith(str(REPO)) else str(src)
    return (f"{tool_version([str(copy), '--version'], 'andem')} (`{shown}`, built {built}; "
            f"the repository was at {tree} during the run)")


def sustain(bench: Bench, paths: list[str], opts, work: Path) -> int:
    rate_text, _, steps_text = opts.sustain.partition(":")
    rate, steps = float(rate_text), int(steps_text or "5")
    print(f"| path | step | ok/attempted | placed/s | setup p50 / p99 ms | Tandem CPU ms/call | others' CPU s |")
    print("|---|---|---|---|---|---|---|")
    try:
        for p in paths:
            nodes, load = bench.start(p)
            try:
                for i in range(1, steps + 1):
                    st = bench.step(p, nodes, load, rate, opts.step_seconds)
                    print(f"| {p} | {i} | {st['completed']}/{st['attempted']} | {st['achieved']:.0f} | "
                          f"{fmt(st['setup'].get('p50'), '{:.2f}')} / {fmt(st['setup'].get('p99'), '{:.2f}')} | "
                          f"{fmt(st['cpu_ms_per_call'], '{:.3f}')} | {st['other_cpu']:.2f} |", flush=True)
            finally:
                bench.stop(nodes, load)
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~3 minutes: 1 round, shorter steps")
    ap.add_argument("--rounds", type=int, help="rounds (default 2, quick 1)")
    ap.add_argument("--paths", default=",".join(PATHS), help=f"comma list of {', '.join(PATHS)}")
    ap.add_argument("--dns-ttl", type=int, default=300,
                    help="TTL of dnsmasq's records, seconds (default 300, as real zones have; "
                         "0: every call resolves again)")
    ap.add_argument("--routing", choices=("dns", "static"), default="dns",
                    help="how the two domains find each other: dnsmasq (NAPTR/SRV/A) or [federation.routes]")
    ap.add_argument("--transport", choices=("udp", "tcp"), default="udp",
                    help="SIP transport between the two domains (default udp)")
    ap.add_argument("--tandem", default=str(REPO / "build" / "release" / "src" / "app" / "tandem"),
                    help="tandem binary to copy and run (default: the release build)")
    ap.add_argument("--json-load", help="json_load binary (default: build it)")
    ap.add_argument("--pairs", type=int, default=250, help="caller and callee connections each (default 250)")
    ap.add_argument("--hold-ms", type=float, default=100, help="hold time of a JSON call (sipp's is 100 ms)")
    ap.add_argument("--ring-ms", type=float, default=0, help="callee's delay before answering (both paths)")
    ap.add_argument("--call-timeout", type=float, default=5, help="seconds a JSON call may take (hold excluded)")
    ap.add_argument("--step-seconds", type=float, help="seconds per ladder step (default 3, quick 2)")
    ap.add_argument("--half-seconds", type=float, help="seconds of the half-max run (default 8, quick 5)")
    ap.add_argument("--max-p99-ms", type=float, default=100, help="a ladder step fails above this p99")
    ap.add_argument("--max-rate", type=int, default=10**9, help="do not step above this rate")
    ap.add_argument("--sustain", metavar="RATE:STEPS",
                    help="instead of ladders: STEPS back-to-back steps at RATE on the same servers, per "
                         "path (shows costs that grow with the live transactions); prints, writes nothing")
    ap.add_argument("--time-budget", type=float, help="seconds for all ladders, waits for an idle machine "
                    "not counted (default 420, quick 150)")
    ap.add_argument("--wait-idle", type=float, default=20,
                    help="before each step, wait up to this many seconds for the machine to be idle")
    ap.add_argument("--wait-total", type=float, default=180,
                    help="wait at most this many seconds in all for an idle machine (default 180)")
    ap.add_argument("--user-add-parallel", type=int, default=4)
    ap.add_argument("--build-attempts", type=int, default=3, help="tries of the release-tree build of json_load")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--out", default=str(DOCS_OUT))
    ap.add_argument("--note", default="", help="free text added to the section")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, sipp files)")
    opts = ap.parse_args()
    ensure_netns(sys.argv[1:])
    # 2 × --pairs WebSockets in json_load and in Tandem (children inherit the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if 2 * opts.pairs + 200 > hard:
        sys.exit(f"--pairs {opts.pairs} needs {2 * opts.pairs + 200} open files; the limit is {hard}")

    q = opts.quick
    opts.rounds = opts.rounds or (1 if q else 2)
    opts.step_seconds = opts.step_seconds or (2.0 if q else 3.0)
    opts.half_seconds = opts.half_seconds or (5.0 if q else 8.0)
    opts.time_budget = opts.time_budget or (150 if q else 420)
    opts.sipp_uas_timeout = opts.time_budget + 120
    paths = [p.strip() for p in opts.paths.split(",") if p.strip()]
    for p in paths:
        if p not in PATHS:
            sys.exit(f"unknown path {p} (known: {', '.join(PATHS)})")
    for tool in ("sipp", "ip", "ss"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found")
    if any(p.endswith("2") for p in paths) and opts.routing == "dns" and not (
            os.path.exists("/usr/sbin/dnsmasq") or shutil.which("dnsmasq")):
        sys.exit("dnsmasq not found (Debian dnsmasq-base), or use --routing static")

    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    log(f"work dir {work}")
    t_start = time.monotonic()
    src = Path(opts.tandem).resolve()
    tandem = copy_tandem(src, work)
    version = tandem_version(src, tandem)
    log(f"tandem: {version}")
    json_load = Path(opts.json_load).resolve() if opts.json_load else build_json_load(
        work, opts.build_attempts, 120)
    if opts.json_load:
        shutil.copy2(json_load, work / "json_load")
        json_load = work / "json_load"

    bench = Bench(opts, work, tandem, json_load)
    users_note = bench.prepare_users()
    log(users_note)
    if opts.sustain:
        return sustain(bench, paths, opts, work)
    load0 = open("/proc/loadavg").read().split()[:3]
    results: dict[str, list[dict]] = {p: [] for p in paths}
    budget_end = time.monotonic() + opts.time_budget
    ladders = opts.rounds * len(paths)
    done = 0
    try:
        for rnd in range(1, opts.rounds + 1):
            order = paths if rnd % 2 else list(reversed(paths))
            for p in order:
                left = budget_end + bench.waited - time.monotonic()
                share_end = time.monotonic() + left / max(ladders - done, 1)
                log(f"round {rnd}: {p} ({LABEL[p]}), ladder budget {share_end - time.monotonic():.0f} s")
                ladder = bench.ladder(p, share_end)
                top = best(ladder)
                half_rate = (top["rate"] / 2) if top else 0
                log(f"round {rnd}: {p} max {top['rate'] if top else 0}/s; half-max run at {half_rate:.0f}/s")
                half = bench.half(p, half_rate)
                results[p].append({"round": rnd, "ladder": ladder, "half": half})
                done += 1
    finally:
        for n in bench.nodes.values():
            n.stop()
        bench.dns.stop()
    elapsed = time.monotonic() - t_start

    steps = [st for rs in results.values() for r in rs
             for st in r["ladder"] + ([r["half"]] if r.get("half") else [])]
    others = sum(st["other_cpu"] for st in steps)
    wall = sum(st["wall"] for st in steps)
    ncpu = os.cpu_count() or 1
    share = others / (wall * ncpu) if wall else 0
    busy = (f"During the load steps, processes other than Tandem, the load generators and "
            f"dnsmasq used {others:.1f} CPU-s of {wall * ncpu:.0f} available ({share * 100:.0f} %); "
            f"load average at start {' '.join(load0)}.")
    if share > 0.05:
        busy += " **The machine was busy with other work: rates are lower and noisier than on an idle machine.**"
    summ = summarize(results)
    notes = f"\nUsers: {users_note}.\n"
    if opts.note:
        notes += f"\n{opts.note.strip()}\n"
    meta = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "mode": f"{'--quick' if q else 'full'} mode, {elapsed / 60:.1f} min",
        "machine": f"{sb.cpu_model()}, {ncpu} cores, {sb.mem_total()} RAM, Linux {platform.release()}, "
                   f"Debian {sb.read_first('/etc/debian_version')}",
        "busy": busy, "tandem": version,
        "sipp": tool_version(["sipp", "-v"], "SIPp").rstrip("."),
        "dnsmasq": tool_version(["/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else "dnsmasq",
                                 "--version"], "version").split("  ")[0],
        "command": "python3 bench/gateway_bench.py" + (" --quick" if q else "") +
                   (f" --routing {opts.routing}" if opts.routing != "dns" else "") +
                   (f" --transport {opts.transport}" if opts.transport != "udp" else "") +
                   (f" --dns-ttl {opts.dns_ttl}" if opts.dns_ttl != 300 else ""),
        "rounds": opts.rounds, "ref": summ["ref"], "pairs": opts.pairs, "ring_ms": opts.ring_ms,
        "hold_ms": opts.hold_ms, "call_timeout": opts.call_timeout, "step_seconds": opts.step_seconds,
        "half_seconds": opts.half_seconds, "max_p99_ms": opts.max_p99_ms, "wait_idle": opts.wait_idle,
        "routing": ((f"through dnsmasq on 127.0.0.1:5353 (`[federation] dns_servers`): NAPTR "
                     f"`SIP+D2{'T' if opts.transport == 'tcp' else 'U'}` → SRV `_sip._{opts.transport}` → A, "
                     f"looked up by the first call to a domain and then kept for the records' TTL (`--dns-ttl`, 300 s; 0 makes every call look them up; dnsmasq's CPU is shown)")
                    if opts.routing == "dns" else
                    f"by static routes (`[federation.routes]`, {opts.transport.upper()}, no DNS)") +
                   f", and talk SIP over {opts.transport.upper()} to each other",
        "notes": notes,
    }
    table = markdown(summ, results, meta)
    print(table)
    raw = work / "results.json"
    raw.write_text(json.dumps({"summary": summ, "results": results, "meta": meta}, indent=1, default=str))
    if not opts.no_write:
        write_section(section(table, meta), Path(opts.out))
        log(f"wrote the gateway section of {opts.out}")
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
