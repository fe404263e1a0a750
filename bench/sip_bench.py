#!/usr/bin/env python3
"""SIP load benchmark: Tandem against Kamailio, same machine, same run.

Both servers play the same role for the same users: registrar with MD5 digest
authentication (401) and record-routing, transaction-stateful proxy that
authenticates calls from its local users (407). sipp drives them at stepped
rates; the script reports, per server (medians over rounds that alternate the
servers):

  * the highest calls/s and authenticated REGISTERs/s with < 0.1 % failures;
  * the server's own CPU seconds (utime+stime from /proc/PID/stat, summed over
    its whole process tree, all threads) per 1,000 calls / REGISTERs;
  * its resident memory (RSS and PSS from /proc/PID/smaps_rollup, summed over
    the process tree) idle and with 10,000 registered users.

Everything runs inside a private, loopback-only network namespace: the script
re-executes itself under `unshare --net --fork --kill-child`. Every process it
starts is stopped by its pid; every load run is bounded in count and time.

    sudo python3 bench/sip_bench.py            # ~10 min, 3 rounds, writes docs/benchmarks.md
    sudo python3 bench/sip_bench.py --quick    # ~2 min, 1 round
    python3 bench/sip_bench.py --servers kamailio --no-write

Python 3 standard library only. Needs: sipp (Debian sip-tester), kamailio,
util-linux unshare, iproute2 ip, and a built `tandem` binary (found under
build/*/src/app/tandem, or --tandem PATH).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime as dt
import glob
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
SCEN = BENCH / "scenarios"
KAMAILIO_CFG = BENCH / "kamailio" / "kamailio.cfg"
DOCS_OUT = REPO / "docs" / "benchmarks.md"

DOMAIN = "bench.test"
SIP_PORT = 5060
ADDR = {"kamailio": "127.0.0.2", "tandem": "127.0.0.3"}
UAC_ADDR = "127.0.0.10"  # caller (sipp UAC)
UAS_ADDR = "127.0.0.11"  # callee (sipp UAS), registered as "callee"
REG_ADDR = "127.0.0.12"  # REGISTER load (sipp)
N_USERS = 10_000
# Markers of the other benchmarks' sections in docs/benchmarks.md
# (bench/ws_bench.py, bench/gateway_bench.py): kept when this one rewrites it.
WS_SECTION_BEGIN = "<!-- ws_bench: begin -->"
WS_SECTION_END = "<!-- ws_bench: end -->"
OTHER_SECTIONS = [(WS_SECTION_BEGIN, WS_SECTION_END),
                  ("<!-- gateway_bench: begin -->", "<!-- gateway_bench: end -->")]
UDP_RCVBUF = 4 * 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
NETNS_ENV = "SIP_BENCH_IN_NETNS"

# Rate ladders (per second). A server climbs until the first step that fails
# (>= 0.1 % failed, or sipp could not place 90 % of the target rate).
CALL_RATES = [500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000]
REG_RATES = [1000, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000]
MAX_FAIL_RATIO = 0.001
MIN_ACHIEVED = 0.90
# A failed step during which other processes on the machine used more than this
# share of all cores is repeated once (the machine may be shared).
OTHERS_RETRY_SHARE = 0.30
# Share of a session's ladder time for REGISTERs (their ladder has more steps).
REG_BUDGET_SHARE = 0.55


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Namespace


def ensure_netns(argv: list[str], script: str = __file__) -> None:
    """Re-exec `script` (this one by default) inside a fresh loopback-only
    network namespace."""
    if os.environ.get(NETNS_ENV) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        links = subprocess.run(["ip", "-o", "link", "show"], check=True,
                               capture_output=True, text=True).stdout
        names = [line.split(":")[1].strip() for line in links.splitlines() if line.strip()]
        if names != ["lo"]:
            sys.exit(f"not in a loopback-only namespace (links: {names})")
        return
    cmd = ["unshare", "--net", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        cmd[1:1] = ["--user", "--map-root-user"]
    env = dict(os.environ, **{NETNS_ENV: "1"})
    os.execvpe(cmd[0], cmd + ["--", sys.executable, str(Path(script).resolve())] + argv, env)


# ----------------------------------------------------------------------------
# /proc helpers


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("latin-1")
    except OSError:
        return None
    # fields after "pid (comm)"; comm may contain spaces and parentheses
    return data[data.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """root and all its descendants (Kamailio forks many children)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = _stat_fields(int(d))
        if f:
            children.setdefault(int(f[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of each process (all its threads), summed."""
    total = 0
    for p in pids:
        f = _stat_fields(p)
        if f:
            total += int(f[11]) + int(f[12])  # fields 14 and 15 of stat
    return total / CLK_TCK


def memory_kb(pids: list[int]) -> dict[str, int]:
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    threads = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                threads += next((int(l.split()[1]) for l in f if l.startswith("Threads:")), 0)
        except OSError:
            pass
    return {"rss_kb": rss, "pss_kb": pss, "processes": len(pids), "threads": threads}


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    total = sum(v[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def udp_rcvbuf_of(addr: str) -> int | None:
    """SO_RCVBUF of the UDP socket bound to addr:5060 (ss reports the doubled value)."""
    try:
        out = subprocess.run(["ss", "-uamnH", "src", f"{addr}:{SIP_PORT}"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for tok in out.replace("(", ",").replace(")", ",").split(","):
        if tok.startswith("rb") and tok[2:].isdigit():
            return int(tok[2:]) // 2
    return None


# ----------------------------------------------------------------------------
# Process control (by pid only)


def stop_pid(proc: subprocess.Popen, name: str, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"{name} (pid {proc.pid}) ignored SIGTERM for {grace}s; SIGKILL")
        proc.kill()
        proc.wait(timeout=5)


def sip_ping(addr: str, timeout: float) -> bool:
    """Send OPTIONS until any SIP response arrives or timeout expires."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            msg = (f"OPTIONS sip:{DOMAIN} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-ping{n}-{os.getpid()}\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:ping@127.0.0.1>;tag=p{n}\r\n"
                   f"To: <sip:{DOMAIN}>\r\nCall-ID: ping-{n}-{os.getpid()}@127.0.0.1\r\n"
                   f"CSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n")
            try:
                s.sendto(msg.encode(), (addr, SIP_PORT))
                s.settimeout(0.3)
                data = s.recv(65535)
                if data.startswith(b"SIP/2.0 "):
                    return True
            except OSError:
                time.sleep(0.2)
    return False


# ----------------------------------------------------------------------------
# Users


def user_list() -> list[tuple[str, str]]:
    users = [("caller", "pw-caller"), ("callee", "pw-callee")]
    users += [(f"u{i:05d}", f"pw-u{i:05d}") for i in range(N_USERS)]
    return users


def write_injection_files(work: Path) -> None:
    with open(work / "users.csv", "w") as f:
        f.write("SEQUENTIAL\n")
        for u, p in user_list()[2:]:
            f.write(f"{u};{p}\n")
    with open(work / "callee.csv", "w") as f:
        f.write("SEQUENTIAL\ncallee;pw-callee\n")


# ----------------------------------------------------------------------------
# Servers


class Server:
    name = ""

    def __init__(self, work: Path):
        self.addr = ADDR[self.name]
        self.work = work / self.name
        self.work.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.session = 0

    def version(self) -> str:
        return ""

    def prepare(self) -> None:
        pass

    def command(self, run_dir: Path) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.session += 1
        run_dir = self.work / f"run{self.session}"
        run_dir.mkdir()
        self.setup_run(run_dir)
        self.logfile = open(run_dir / "server.log", "wb")
        cmd = self.command(run_dir)
        log(f"start {self.name}: {' '.join(cmd)}")
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=run_dir)
        if not sip_ping(self.addr, 15):
            self.stop()
            raise RuntimeError(f"{self.name} did not answer OPTIONS on {self.addr}:{SIP_PORT} "
                               f"within 15 s; see {run_dir / 'server.log'}")
        time.sleep(0.5)  # let every worker come up

    def setup_run(self, run_dir: Path) -> None:
        pass

    def pids(self) -> list[int]:
        assert self.proc
        return process_tree(self.proc.pid)

    def stop(self) -> None:
        if self.proc:
            stop_pid(self.proc, self.name)
            self.proc = None
            self.logfile.close()


class Kamailio(Server):
    name = "kamailio"

    def __init__(self, work: Path, children: int, binary: str = "kamailio"):
        super().__init__(work)
        self.children = children
        self.binary = binary

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True).stdout
        return out.splitlines()[0].replace("version: ", "") if out else "?"

    def prepare(self) -> None:
        db = self.work / "db"
        db.mkdir(exist_ok=True)
        # db_text `version` table (Kamailio checks table versions) + users in
        # the htable layout, plaintext passwords (value_type 0 = string).
        with open(db / "version", "w") as f:
            f.write("id(int,auto) table_name(string) table_version(int) \n0:htable:2\n")
        with open(db / "htable", "w") as f:
            f.write("id(int,auto) key_name(string) key_type(int) value_type(int) "
                    "key_value(string) expires(int) \n")
            for i, (u, p) in enumerate(user_list(), 1):
                f.write(f"{i}:{u}:0:0:{p}:0\n")

    def command(self, run_dir: Path) -> list[str]:
        return [self.binary, "-f", str(KAMAILIO_CFG), "-DD", "-E",
                "-x", "tlsf", "-m", "2048", "-n", str(self.children),
                "-b", str(UDP_RCVBUF),
                "-P", str(run_dir / "kamailio.pid"), "-w", str(run_dir),
                "-A", f"BENCH_LISTEN=udp:{self.addr}:{SIP_PORT}",
                "-A", f'BENCH_DBURL="text://{self.work / "db"}"',
                "-A", f'BENCH_DOMAIN="{DOMAIN}"']


class Tandem(Server):
    name = "tandem"

    def __init__(self, work: Path, binary: str, parallel: int):
        super().__init__(work)
        self.binary = binary
        self.parallel = parallel
        self.template = self.work / "data-template"

    def version(self) -> str:
        try:
            rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            rev, dirty = "?", ""
        shown = os.path.relpath(self.binary, REPO) if str(Path(self.binary).resolve()).startswith(str(REPO)) else self.binary
        return f"tandem {rev}{' + uncommitted changes in src/' if dirty else ''} ({shown})"

    def prepare(self) -> None:
        """Create the users once in a template data dir; each session copies it.

        `tandem user add` takes ~0.1 s per call here (one SQLite commit each), too
        slow for 10,002 users. So: add `caller` and `callee` with the CLI, check that
        the rows it wrote are exactly (name, realm, MD5 HA1, SHA-256 HA1, created) with
        the digests this script computes, then insert the others in one SQLite
        transaction. If anything differs, fall back to the CLI for every user."""
        self.template.mkdir(exist_ok=True)
        users = user_list()
        t0 = time.monotonic()

        def add(u: tuple[str, str]) -> str | None:
            cmd = [self.binary, "user", "add", u[0], "--password", u[1],
                   "--data-dir", str(self.template), "--domain", DOMAIN]
            for attempt in range(5):
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    return None
                time.sleep(0.05 * (attempt + 1))  # e.g. SQLite busy under parallel adds
            return f"{u[0]}: rc={r.returncode} {r.stderr.strip()[:200]}"

        for u in users[:2]:
            err = add(u)
            if err:
                raise RuntimeError(f"tandem user add failed: {err}")
        rest = users[2:]
        if self.bulk_insert(users[:2], rest):
            self.prepare_how = "2 with `tandem user add`, 10,000 inserted in bulk into its SQLite users table"
        else:
            log("tandem: bulk insert not possible; adding users one CLI call each")
            with concurrent.futures.ThreadPoolExecutor(self.parallel) as ex:
                errors = [e for e in ex.map(add, rest) if e]
            if errors:
                raise RuntimeError(f"{len(errors)} tandem user adds failed, first: {errors[0]}")
            self.prepare_how = f"`tandem user add`, {self.parallel} in parallel"
        listed = subprocess.run([self.binary, "user", "list", "--data-dir", str(self.template),
                                 "--domain", DOMAIN], capture_output=True, text=True, timeout=60)
        n = sum(1 for line in listed.stdout.splitlines() if "@" in line)
        if n != len(users):
            raise RuntimeError(f"`tandem user list` shows {n} users, expected {len(users)}")
        self.prepare_seconds = time.monotonic() - t0
        log(f"tandem: {len(users)} users in {self.prepare_seconds:.1f} s ({self.prepare_how})")

    def bulk_insert(self, done: list[tuple[str, str]], rest: list[tuple[str, str]]) -> bool:
        import hashlib
        import sqlite3
        dbs = list(self.template.glob("*.db"))
        if len(dbs) != 1:
            return False

        def ha1(name: str, pw: str) -> tuple[str, str]:
            a = f"{name}:{DOMAIN}:{pw}".encode()
            return hashlib.md5(a).hexdigest(), hashlib.sha256(a).hexdigest()

        try:
            con = sqlite3.connect(dbs[0], timeout=10)
            cols = [r[1] for r in con.execute("PRAGMA table_info(users)")]
            if cols != ["name", "realm", "ha1_md5", "ha1_sha256", "created"]:
                return False
            for name, pw in done:
                row = con.execute("SELECT realm, ha1_md5, ha1_sha256 FROM users WHERE name = ?",
                                  (name,)).fetchone()
                if row is None or tuple(row) != (DOMAIN,) + ha1(name, pw):
                    return False
            now = int(time.time())
            with con:
                con.executemany("INSERT INTO users (name, realm, ha1_md5, ha1_sha256, created) "
                                "VALUES (?, ?, ?, ?, ?)",
                                [(n, DOMAIN) + ha1(n, p) + (now,) for n, p in rest])
            con.close()
            return True
        except sqlite3.Error as e:
            log(f"tandem: bulk insert failed: {e}")
            return False

    def setup_run(self, run_dir: Path) -> None:
        shutil.copytree(self.template, run_dir / "data")

    def command(self, run_dir: Path) -> list[str]:
        return [self.binary, "serve", "--domain", DOMAIN,
                "--sip-listen", f"udp:{self.addr}:{SIP_PORT}",
                "--data-dir", str(run_dir / "data"), "--log-level", "warn"]


def find_tandem() -> str | None:
    cands = sorted(glob.glob(str(REPO / "build" / "*" / "src" / "app" / "tandem")),
                   key=lambda p: os.path.getmtime(p), reverse=True)
    # prefer optimised builds
    for pref in ("h-bench", "release"):
        for c in cands:
            if f"/build/{pref}/" in c and os.access(c, os.X_OK):
                return c
    for c in cands:
        if os.access(c, os.X_OK) and "/debug/" not in c and "/fuzz/" not in c:
            return c
    return None


# ----------------------------------------------------------------------------
# sipp


def sipp_stats(stat_file: Path) -> dict:
    with open(stat_file, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        return {}
    last = dict(zip(rows[0], rows[-1]))

    def epoch(k: str) -> float:
        return float(last[k].split("\t")[-1])

    def num(k: str) -> int:
        return int(float(last.get(k, "0") or 0))

    return {
        "success": num("SuccessfulCall(C)"),
        "failed": num("FailedCall(C)"),
        "outgoing": num("OutgoingCall(C)"),
        "retrans": num("Retransmissions(C)"),
        "elapsed": max(epoch("CurrentTime") - epoch("StartTime"), 1e-3),
    }


def run_sipp(args: list[str], run_dir: Path, tag: str, timeout: float) -> tuple[dict, int]:
    stat = run_dir / f"{tag}.stat.csv"
    errf = run_dir / f"{tag}.err.log"
    cmd = ["sipp"] + args + ["-nostdin", "-buff_size", str(UDP_RCVBUF), "-trace_stat", "-stf", str(stat), "-fd", "3600",
                             "-trace_err", "-error_file", str(errf)]
    with open(run_dir / f"{tag}.out", "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=run_dir)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"sipp {tag} (pid {p.pid}) still running after {timeout:.0f}s: stopping it")
            stop_pid(p, f"sipp {tag}", grace=2)
            rc = -1
    try:
        st = sipp_stats(stat)
    except (OSError, ValueError, KeyError):
        st = {}
    return st, rc


class Bench:
    def __init__(self, opts, servers: dict[str, Server], work: Path):
        self.o = opts
        self.servers = servers
        self.work = work
        self.steps = 0

    def step(self, srv: Server, kind: str, rate: int, run_dir: Path, uas: subprocess.Popen | None):
        secs = self.o.step_seconds
        count = max(int(rate * secs), 1)
        self.steps += 1
        tag = f"{kind}-{rate}"
        target = f"{srv.addr}:{SIP_PORT}"
        common = ["-r", str(rate), "-m", str(count), "-timeout", f"{int(secs + 10)}s",
                  "-recv_timeout", "8000", "-key", "domain", DOMAIN, "-p", str(SIP_PORT)]
        if kind == "reg":
            args = [target, "-sf", str(SCEN / "register.xml"), "-inf", str(self.work / "users.csv"),
                    "-auth_uri", DOMAIN, "-au", "[field0]", "-ap", "[field1]", "-i", REG_ADDR] + common
        else:
            args = [target, "-sf", str(SCEN / "uac_call.xml"), "-auth_uri", f"callee@{DOMAIN}", "-au", "caller", "-ap", "pw-caller",
                    "-key", "caller", "caller", "-key", "callee", "callee", "-i", UAC_ADDR] + common
        pids = srv.pids()
        c0, g0, u0 = cpu_seconds(pids), children_cpu(), cpu_seconds([uas.pid]) if uas else 0.0
        b0, _ = machine_busy_seconds()
        t0 = time.monotonic()
        st, rc = run_sipp(args, run_dir, tag, timeout=secs + 20)
        wall = time.monotonic() - t0
        pids = srv.pids()
        c1, g1, u1 = cpu_seconds(pids), children_cpu(), cpu_seconds([uas.pid]) if uas else 0.0
        b1, _ = machine_busy_seconds()
        success = st.get("success", 0)
        failures = count - success  # failed + never completed
        # placing rate: the last call's own duration (ringing + hold) is not sipp's pace
        tail = 0.12 if kind == "call" else 0.0
        achieved = success / max(st["elapsed"] - tail, count / rate / 2) if st else 0.0
        server_cpu = c1 - c0
        load_cpu = (g1 - g0) + (u1 - u0)
        r = {
            "kind": kind, "rate": rate, "count": count, "success": success,
            "failures": failures, "fail_ratio": failures / count,
            "achieved": achieved, "retrans": st.get("retrans", 0), "sipp_rc": rc,
            "server_cpu": server_cpu, "sipp_cpu": load_cpu,
            "other_cpu": max((b1 - b0) - server_cpu - load_cpu, 0.0), "wall": wall,
            "cpu_per_1k": server_cpu / success * 1000 if success else None,
        }
        r["ok"] = r["fail_ratio"] < MAX_FAIL_RATIO and achieved >= MIN_ACHIEVED * rate
        log(f"  {srv.name:8s} {kind:4s} {rate:6d}/s: {success}/{count} ok, achieved "
            f"{achieved:7.0f}/s, retrans {r['retrans']}, server CPU {server_cpu:.2f}s "
            f"({r['cpu_per_1k'] or 0:.3f}s/1k), sipp CPU {load_cpu:.2f}s, others "
            f"{r['other_cpu']:.2f}s -> {'PASS' if r['ok'] else 'FAIL'}")
        time.sleep(0.5)  # let retransmissions settle
        return r

    def ladder(self, srv, kind, rates, run_dir, uas, budget_end):
        out = []
        for rate in rates:
            if rate > self.o.max_rate:
                break
            if time.monotonic() + self.o.step_seconds + 3 > budget_end:
                log(f"  {srv.name}: {kind} ladder stopped before {rate}/s (time budget)")
                break
            r = self.step(srv, kind, rate, run_dir, uas)
            busy = r["other_cpu"] / (r["wall"] * (os.cpu_count() or 1))
            if not r["ok"] and busy > OTHERS_RETRY_SHARE and \
                    time.monotonic() + self.o.step_seconds + 3 <= budget_end:
                # other work on the machine took the CPU: repeat this step once
                log(f"  {srv.name}: other processes used {busy * 100:.0f} % of the CPU "
                    f"during that step: repeating it once")
                r["retried"] = True
                out.append(r)
                r = self.step(srv, kind, rate, run_dir, uas)
            out.append(r)
            if not r["ok"]:
                break
        return out

    def register_all(self, srv: Server, run_dir: Path, tag: str) -> int:
        """Register the 10,000 distinct AORs, each authenticated as itself."""
        st, rc = run_sipp([f"{srv.addr}:{SIP_PORT}", "-sf", str(SCEN / "register.xml"),
                           "-inf", str(self.work / "users.csv"), "-auth_uri", DOMAIN, "-au", "[field0]",
                           "-ap", "[field1]", "-i", REG_ADDR, "-p", str(SIP_PORT),
                           "-key", "domain", DOMAIN, "-r", str(self.o.mem_reg_rate),
                           "-m", str(N_USERS), "-timeout", "60s", "-recv_timeout", "8000"],
                          run_dir, tag, timeout=70)
        n = st.get("success", 0)
        if n != N_USERS:
            log(f"  {srv.name}: only {n}/{N_USERS} registrations succeeded (see {run_dir})")
        return n

    def memory_phase(self, servers: list[Server]) -> dict[str, dict]:
        """All servers up at once: idle memory, 10,000 registrations each, settle, memory."""
        res: dict[str, dict] = {}
        try:
            for srv in servers:
                srv.start()
                res[srv.name] = {"mem_idle": memory_kb(srv.pids()),
                                 "udp_rcvbuf": udp_rcvbuf_of(srv.addr)}
            for srv in servers:
                run_dir = srv.work / f"run{srv.session}"
                res[srv.name]["mem_registered"] = self.register_all(srv, run_dir, "mem-register")
            log(f"memory: waiting {self.o.mem_settle:.0f} s for transactions to end")
            time.sleep(self.o.mem_settle)
            for srv in servers:
                r = res[srv.name]
                r["mem_10k"] = memory_kb(srv.pids())
                log(f"  {srv.name}: memory idle RSS {r['mem_idle']['rss_kb'] / 1024:.1f} MB "
                    f"PSS {r['mem_idle']['pss_kb'] / 1024:.1f} MB; with {r['mem_registered']} "
                    f"users RSS {r['mem_10k']['rss_kb'] / 1024:.1f} MB PSS "
                    f"{r['mem_10k']['pss_kb'] / 1024:.1f} MB ({r['mem_10k']['processes']} processes)")
        finally:
            for srv in servers:
                srv.stop()
        return res

    def session(self, srv: Server, round_no: int, share_end: float) -> dict:
        """One server's round: 10,000 users registered, REGISTER ladder, call ladder."""
        res: dict = {"round": round_no}
        srv.start()
        run_dir = srv.work / f"run{srv.session}"
        uas = None
        try:
            res["registered"] = self.register_all(srv, run_dir, "register-all")
            now = time.monotonic()
            half = now + (share_end - now) * REG_BUDGET_SHARE
            res["reg"] = self.ladder(srv, "reg", REG_RATES, run_dir, None, half)

            # A fresh server for the calls: the REGISTER ladder ends with an
            # overloaded step, and what it leaves behind (retransmission
            # backlogs, tens of thousands of transactions still timing out,
            # fragmented shared memory) would bill its cleanup to the calls.
            srv.stop()
            srv.start()
            run_dir = srv.work / f"run{srv.session}"
            res["registered_calls"] = self.register_all(srv, run_dir, "register-all")

            # callee registers from the address the UAS then listens on
            st, rc = run_sipp([f"{srv.addr}:{SIP_PORT}", "-sf", str(SCEN / "register.xml"),
                               "-inf", str(self.work / "callee.csv"), "-auth_uri", DOMAIN, "-au", "[field0]",
                               "-ap", "[field1]", "-i", UAS_ADDR, "-p", str(SIP_PORT),
                               "-key", "domain", DOMAIN, "-m", "1", "-timeout", "10s"],
                              run_dir, "callee-register", timeout=20)
            if st.get("success") != 1:
                raise RuntimeError(f"{srv.name}: callee registration failed (see {run_dir})")
            uas_out = open(run_dir / "uas.out", "wb")
            uas = subprocess.Popen(
                ["sipp", "-sf", str(SCEN / "uas_call.xml"), "-i", UAS_ADDR, "-p", str(SIP_PORT),
                 "-nostdin", "-buff_size", str(UDP_RCVBUF), "-timeout", f"{int(max(share_end - time.monotonic(), 0) + 60)}s",
                 "-trace_err", "-error_file", str(run_dir / "uas.err.log")],
                stdout=uas_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=run_dir)
            time.sleep(0.5)
            res["call"] = self.ladder(srv, "call", CALL_RATES, run_dir, uas, share_end)
        finally:
            if uas:
                stop_pid(uas, "sipp uas", grace=2)
                uas_out.close()
            srv.stop()
        return res


# ----------------------------------------------------------------------------
# Reporting


def best(steps: list[dict]) -> dict | None:
    ok = [s for s in steps if s["ok"] and not s.get("retried")]
    return max(ok, key=lambda s: s["rate"]) if ok else None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(results: dict[str, list[dict]]) -> dict:
    summ: dict = {}
    for kind in ("call", "reg"):
        # reference rate: the highest step every server passed in every round
        maxima = [best(r.get(kind, []))["rate"] if best(r.get(kind, [])) else 0
                  for rs in results.values() for r in rs]
        summ[f"{kind}_ref"] = min(maxima) if maxima else 0
    for name, rs in results.items():
        s: dict = {"rounds": len(rs)}
        for kind in ("call", "reg"):
            bests = [best(r.get(kind, [])) for r in rs]
            s[f"{kind}_max"] = med([b["rate"] if b else 0 for b in bests])
            s[f"{kind}_max_achieved"] = med([b["achieved"] if b else None for b in bests])
            s[f"{kind}_cpu_at_max"] = med([b["cpu_per_1k"] if b else None for b in bests])
            ref = summ[f"{kind}_ref"]
            s[f"{kind}_cpu_at_ref"] = med([st["cpu_per_1k"] for r in rs for st in r.get(kind, [])
                                          if st["rate"] == ref and st["ok"]])
            s[f"{kind}_limit"] = limit_reason(rs, kind)
            # the ladder ended without a failing step (time budget or top of the ladder)
            s[f"{kind}_capped"] = any(r.get(kind) and r[kind][-1]["ok"] for r in rs)
        for k in ("mem_idle", "mem_10k"):
            for m in ("rss_kb", "pss_kb"):
                s[f"{k}_{m}"] = med([r[k][m] for r in rs if k in r])
        s["mem_registered"] = med([r.get("mem_registered") for r in rs])
        s["processes"] = med([r["mem_10k"]["processes"] for r in rs if "mem_10k" in r])
        s["threads"] = med([r["mem_10k"].get("threads") for r in rs if "mem_10k" in r])
        s["udp_rcvbuf"] = med([r.get("udp_rcvbuf") for r in rs])
        summ[name] = s
    return summ


def limit_reason(rs: list[dict], kind: str) -> str:
    reasons = []
    for r in rs:
        steps = r.get(kind, [])
        if not steps:
            reasons.append("no step")
            continue
        last = steps[-1]
        if last["ok"]:
            reasons.append("ladder/time end")
        elif last["fail_ratio"] >= MAX_FAIL_RATIO:
            reasons.append(f"{last['rate']}/s: {last['fail_ratio'] * 100:.2f} % failed")
        else:
            reasons.append(f"{last['rate']}/s: sipp placed only {last['achieved']:.0f}/s")
    return "; ".join(reasons)


def fmt(x, f="{:.0f}", none="—"):
    return none if x is None else f.format(x)


def markdown(summ: dict, results: dict, meta: dict) -> str:
    names = [n for n in ("tandem", "kamailio") if n in results]
    have_both = len(names) == 2
    L = []
    hdr = "| | " + " | ".join(n.capitalize() for n in names) + (" | Tandem / Kamailio | target |" if have_both else " |")
    L.append(hdr)
    L.append("|---" * (len(names) + 1 + (2 if have_both else 0)) + "|")

    def row(label, key, f="{:.0f}", ratio=None, target=""):
        vals = [summ[n].get(key) for n in names]
        cells = [fmt(v, f) for v in vals]
        if key.endswith("_max"):  # "≥": a ladder stopped before any step failed
            cells = [("≥ " if summ[n].get(key.replace("_max", "_capped")) else "") + c
                     for n, c in zip(names, cells)]
        line = f"| {label} | " + " | ".join(cells)
        if have_both:
            rt = ""
            t, k = vals[0], vals[1]
            if t is not None and k:
                rv = t / k if ratio != "inverse" else (k / t if t else None)
                rt = fmt(rv, "{:.2f}×")
            line += f" | {rt} | {target}"
        L.append(line + " |")

    cref, rref = summ["call_ref"], summ["reg_ref"]
    row("max calls/s (< 0.1 % failed)", "call_max", target="Tandem ≥ Kamailio")
    row("max authenticated REGISTERs/s (< 0.1 % failed)", "reg_max", target="Tandem ≥ Kamailio")
    row(f"server CPU s per 1,000 calls at {cref}/s", "call_cpu_at_ref", "{:.3f}",
        ratio="inverse", target="calls per CPU-s ≥ 1.5× (ratio shown: Kamailio CPU / Tandem CPU)")
    row(f"server CPU s per 1,000 REGISTERs at {rref}/s", "reg_cpu_at_ref", "{:.3f}",
        ratio="inverse", target="REGISTERs per CPU-s ≥ 1.5×")
    for n in names:
        s = summ[n]
        s["call_per_cpu_s"] = 1000 / s["call_cpu_at_ref"] if s.get("call_cpu_at_ref") else None
        s["reg_per_cpu_s"] = 1000 / s["reg_cpu_at_ref"] if s.get("reg_cpu_at_ref") else None
        for k in ("mem_idle_rss_kb", "mem_idle_pss_kb", "mem_10k_rss_kb", "mem_10k_pss_kb"):
            s[k.replace("_kb", "_mb")] = s[k] / 1024 if s.get(k) is not None else None
    row("→ calls per server CPU-second", "call_per_cpu_s", target="≥ 1.5×")
    row("→ REGISTERs per server CPU-second", "reg_per_cpu_s", target="≥ 1.5×")
    row("server CPU s per 1,000 calls at its own max", "call_cpu_at_max", "{:.3f}", ratio="inverse")
    row("server CPU s per 1,000 REGISTERs at its own max", "reg_cpu_at_max", "{:.3f}", ratio="inverse")
    row("RSS idle, MB (sum over processes)", "mem_idle_rss_mb", "{:.1f}")
    row("PSS idle, MB", "mem_idle_pss_mb", "{:.1f}")
    row(f"RSS with {N_USERS:,} registered users, MB (sum over processes)", "mem_10k_rss_mb", "{:.1f}",
        target="Tandem < 100 MB")
    row(f"PSS with {N_USERS:,} registered users, MB", "mem_10k_pss_mb", "{:.1f}", target="Tandem < 100 MB")
    row("processes", "processes")
    row("threads (all processes)", "threads")
    row("UDP receive buffer, bytes", "udp_rcvbuf")

    L.append("")
    L.append("(≥: in at least one round the ladder ended, on the time budget or at its top, "
             "before any step failed.)")
    L.append("")
    for n in names:
        s = summ[n]
        L.append(f"- {n}: rounds {s['rounds']}; calls stopped at: {s['call_limit']}; "
                 f"REGISTERs stopped at: {s['reg_limit']}.")
    if have_both:
        t, k = summ["tandem"], summ["kamailio"]
        checks = []
        if t.get("call_per_cpu_s") and k.get("call_per_cpu_s"):
            checks.append(f"calls per CPU-s {t['call_per_cpu_s'] / k['call_per_cpu_s']:.2f}× "
                          f"({'met' if t['call_per_cpu_s'] >= 1.5 * k['call_per_cpu_s'] else 'NOT met'})")
        if t.get("reg_per_cpu_s") and k.get("reg_per_cpu_s"):
            checks.append(f"REGISTERs per CPU-s {t['reg_per_cpu_s'] / k['reg_per_cpu_s']:.2f}× "
                          f"({'met' if t['reg_per_cpu_s'] >= 1.5 * k['reg_per_cpu_s'] else 'NOT met'})")
        if k.get("call_max"):
            checks.append(f"max calls/s {'met' if (t['call_max'] or 0) >= k['call_max'] else 'NOT met'}")
        if k.get("reg_max"):
            checks.append(f"max REGISTERs/s {'met' if (t['reg_max'] or 0) >= k['reg_max'] else 'NOT met'}")
        if t.get("mem_10k_pss_mb") is not None:
            checks.append(f"memory with 10,000 users {'met' if max(t['mem_10k_pss_mb'], t['mem_10k_rss_mb']) < 100 else 'NOT met'}")
        L.append(f"- Targets: {'; '.join(checks)}.")
    L.append("")
    L.append("Every step (round, server, kind, target rate → completed, achieved rate, "
             "server CPU s per 1,000, sipp CPU s, CPU s used by other processes on the machine):")
    L.append("")
    L.append("| round | server | kind | target/s | ok/sent | achieved/s | retrans | server CPU s/1k | sipp CPU s | others' CPU s | |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        for r in results[n]:
            for kind in ("reg", "call"):
                for st in r.get(kind, []):
                    L.append(f"| {r['round']} | {n} | {kind} | {st['rate']} | {st['success']}/{st['count']} | "
                             f"{st['achieved']:.0f} | {st['retrans']} | {fmt(st['cpu_per_1k'], '{:.3f}')} | "
                             f"{st['sipp_cpu']:.2f} | {st['other_cpu']:.2f} | "
                             f"{'pass' if st['ok'] else 'FAIL, repeated' if st.get('retried') else 'FAIL'} |")
    return "\n".join(L)


def write_doc(table: str, meta: dict, path: Path) -> None:
    m = meta
    text = f"""# SIP benchmark: Tandem and Kamailio

Generated by `bench/sip_bench.py` on {m['date']} — {m['mode']}.

**Machine:** {m['machine']}. {m['busy']}

**Versions:** {'; '.join(v.strip() for v in m['versions'])}; {m['sipp'].rstrip('.')}.

**Reproduce:** `{m['command']}` (as root, from the repository root; `--quick` runs
for ~2 minutes, without it ~10). See `bench/README.md`.

## Results

Rates and CPU: medians over {m['rounds']} round(s), the servers alternating within and
across rounds. Memory: one reading per server, in the memory phase.

{m['note'].strip()}

How to read it: the server, sipp's caller and sipp's callee share the same
{os.cpu_count()} cores, so when server CPU + sipp CPU in a step approach all of them
(see the per-step table), the maximum rate is the machine's limit rather than the
server's. The CPU seconds per 1,000 calls or REGISTERs, compared at the same rate, are
the figures that carry over to a bigger machine.

{table}

Where the server's time goes, and how these figures moved: [performance.md](performance.md).

## Method

- Everything runs inside a private, loopback-only network namespace (`unshare --net
  --fork --kill-child`, then `ip link set lo up`). Kamailio listens on
  udp:127.0.0.2:5060, Tandem on udp:127.0.0.3:5060; sipp's caller is 127.0.0.10, its
  callee 127.0.0.11, its REGISTER load 127.0.0.12.
- Same role, same users, same domain (`{DOMAIN}`) for both servers: registrar with MD5
  digest authentication (401 challenge, qop=auth, then credentials) and record-routing,
  transaction-stateful proxy that challenges initial requests from its local users
  (407). 10,002 users with plaintext passwords: `caller`, `callee`, `u00000`…`u09999`.
  Kamailio ({'`-n ' + str(m['kamailio_children']) + '` UDP workers'}) runs
  `bench/kamailio/kamailio.cfg`: tm/t_relay, rr, registrar/usrloc (memory only),
  auth with passwords from an in-memory htable loaded from db_text at start-up
  (a hash lookup per request: no database cost); started in the foreground with
  `-DD -E -x tlsf -m 2048`, its own `-P` pid file and `-w` working dir. Tandem:
  `tandem serve --domain {DOMAIN} --sip-listen udp:127.0.0.3:5060 --data-dir DIR
  --log-level warn`, users added with `tandem user add` (see the note above).
  Kamailio answers REGISTERs statelessly (`save()` replies with sl, as its default
  configuration does), which is its cheapest way; Tandem's registrar keeps a server
  transaction per request. Both UDP receive buffers are
  4 MB (the kernel cap; shown in the table as read back with `ss`), and so are sipp's
  (`-buff_size`).
- **REGISTERs**: sipp `bench/scenarios/register.xml`: REGISTER → 401 → REGISTER with
  Authorization → 200; every REGISTER authenticates as its own user (`-inf` with
  10,000 users, `-au [field0] -ap [field1]`; `-auth_uri` makes the digest `uri` the
  Request-URI). One counted REGISTER = one
  authenticated registration (two requests).
- **Calls**: sipp `bench/scenarios/uac_call.xml` (caller `caller`) → server → sipp
  `bench/scenarios/uas_call.xml` (callee `callee`, registered first from the UAS
  address): INVITE → 407 → ACK, INVITE with Proxy-Authorization → 180 → 200 → ACK →
  (the callee rings 20 ms) → ACK → 100 ms hold → BYE → 200, ACK and BYE along the
  Record-Route set. The pauses keep legal reordering by a multi-worker proxy (a 180
  after the 200, a BYE before the ACK) from failing sipp calls.
- **Rates**: each server climbs a ladder (REGISTERs {', '.join(map(str, REG_RATES))}/s;
  calls {', '.join(map(str, CALL_RATES))}/s), {m['step_seconds']} s per step
  (count = rate × seconds, sipp `-timeout` bound), and stops at the first step where
  ≥ 0.1 % of the attempts did not complete or sipp placed < 90 % of the target rate
  (a failed step during which other processes used > 30 % of the machine's CPU is
  repeated once).
  The maximum is the highest passing step. Each ladder runs on a freshly started
  server that first registers the 10,000 users, so the server holds 10,000 bindings
  throughout, and the call ladder does not pay for the overloaded last REGISTER step.
- **CPU**: utime+stime from `/proc/PID/stat` of the server's whole process tree (all
  Kamailio processes; all Tandem threads), before and after each step, divided by the
  completed calls/REGISTERs. Compared at the highest rate that every server passed in
  every round (the reference rate in the table), since CPU per request falls as batches
  grow. sipp shares the same 2 cores, so the top rate is often sipp's limit, not the
  server's: the per-CPU-second figures are the ones to compare.
- **Memory** (a separate phase before the rounds, both servers up): RSS and PSS from
  `/proc/PID/smaps_rollup`, summed over the process tree, after start-up (idle) and
  {m['mem_settle']:.0f} s after registering 10,000 distinct AORs (each authenticated as
  itself) at {m['mem_reg_rate']}/s. For Kamailio, RSS summed over
  its processes counts its shared memory once per process; PSS splits shared pages among
  them and is the fair total.
"""
    # The other benchmarks keep their own sections in the same file: carry them over.
    try:
        old = path.read_text()
    except OSError:
        old = ""
    for begin_marker, end_marker in OTHER_SECTIONS:
        start, end = old.find(begin_marker), old.find(end_marker)
        if start != -1 and end != -1:
            text = text.rstrip("\n") + "\n\n" + old[start:end + len(end_marker)] + "\n"
    path.write_text(text)


# ----------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~2 minutes: 1 round, short steps")
    ap.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    ap.add_argument("--servers", default="tandem,kamailio", help="comma list (default: tandem,kamailio)")
    ap.add_argument("--tandem", help="tandem binary (default: newest build/*/src/app/tandem)")
    ap.add_argument("--kamailio-children", type=int, default=2,
                    help="Kamailio UDP workers (-n); default 2 = cores (measured cheaper per call than 4 or 8)")
    ap.add_argument("--step-seconds", type=float, help="seconds per load step (default 3, quick 2.5)")
    ap.add_argument("--max-rate", type=int, default=10**9, help="do not step above this rate")
    ap.add_argument("--time-budget", type=float, help="seconds for the load ladders (default 480, quick 100)")
    ap.add_argument("--mem-settle", type=float, help="seconds between the 10,000 registrations and "
                    "the memory reading (default 33: UDP non-INVITE transactions have ended; quick 3)")
    ap.add_argument("--mem-reg-rate", type=int, default=2000, help="REGISTER rate for the 10,000 users")
    ap.add_argument("--user-add-parallel", type=int, default=4, help="parallel `tandem user add` calls")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--out", default=str(DOCS_OUT), help="Markdown output file")
    ap.add_argument("--note", default="", help="free text added to the results section")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    opts = ap.parse_args()
    ensure_netns(sys.argv[1:])

    q = opts.quick
    opts.rounds = opts.rounds or (1 if q else 3)
    opts.step_seconds = opts.step_seconds or (2.5 if q else 3.0)
    opts.time_budget = opts.time_budget or (100 if q else 480)
    opts.mem_settle = opts.mem_settle if opts.mem_settle is not None else (3 if q else 33)

    for tool in ("sipp", "ss", "ip"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found")
    names = [n.strip() for n in opts.servers.split(",") if n.strip()]
    work = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    log(f"work dir {work}")
    write_injection_files(work)
    servers: dict[str, Server] = {}
    for n in names:
        if n == "kamailio":
            if not shutil.which("kamailio"):
                sys.exit("kamailio not found")
            servers[n] = Kamailio(work, opts.kamailio_children)
        elif n == "tandem":
            binary = opts.tandem or find_tandem()
            if not binary:
                log("no tandem binary under build/*/src/app/tandem: benchmarking without Tandem")
                continue
            servers[n] = Tandem(work, os.path.abspath(binary), opts.user_add_parallel)
        else:
            sys.exit(f"unknown server {n}")
    if not servers:
        sys.exit("no server to benchmark")

    sipp_version = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout.strip().splitlines()
    sipp_version = next((s.strip() for s in sipp_version if "SIPp" in s), "sipp ?")
    versions = [s.version() for s in servers.values()]  # before the run: HEAD may move
    busy0, total0 = machine_busy_seconds()
    load0 = open("/proc/loadavg").read().split()[:3]
    results: dict[str, list[dict]] = {n: [] for n in servers}
    t_start = time.monotonic()
    try:
        for srv in servers.values():
            log(f"preparing {srv.name}")
            srv.prepare()
        order = list(servers.values())
        bench = Bench(opts, servers, work)
        log("memory phase")
        mem = bench.memory_phase(order)
        sessions = opts.rounds * len(order)
        budget_end = time.monotonic() + opts.time_budget
        done = 0
        for rnd in range(1, opts.rounds + 1):
            seq = order if rnd % 2 else list(reversed(order))
            for srv in seq:
                reg_time = N_USERS / opts.mem_reg_rate + 3  # registering the users first
                budget_end += reg_time
                share = (budget_end - time.monotonic()) / max(sessions - done, 1)
                log(f"round {rnd}: {srv.name} (ladder budget ~{share - reg_time:.0f} s)")
                res = bench.session(srv, rnd, time.monotonic() + share)
                res.update(mem[srv.name])
                results[srv.name].append(res)
                done += 1
    finally:
        for srv in servers.values():
            srv.stop()
    busy1, total1 = machine_busy_seconds()
    elapsed = time.monotonic() - t_start

    own = sum(st["server_cpu"] + st["sipp_cpu"] for rs in results.values() for r in rs
              for k in ("reg", "call") for st in r.get(k, []))
    others = sum(st["other_cpu"] for rs in results.values() for r in rs
                 for k in ("reg", "call") for st in r.get(k, []))
    ladder_wall = sum(st["wall"] for rs in results.values() for r in rs
                      for k in ("reg", "call") for st in r.get(k, []))
    ncpu = os.cpu_count() or 1
    busy_share = others / (ladder_wall * ncpu) if ladder_wall else 0
    busy = (f"During the load steps, processes other than the servers and sipp used "
            f"{others:.1f} CPU-s of {ladder_wall * ncpu:.0f} available ({busy_share * 100:.0f} %); "
            f"load average at start {' '.join(load0)}.")
    if busy_share > 0.05:
        busy += " **The machine was busy with other work: rates are lower and noisier than on an idle machine.**"
    meta = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "mode": f"{'--quick' if q else 'full'} mode, {elapsed / 60:.1f} min",
        "machine": f"{cpu_model()}, {ncpu} cores, {mem_total()} RAM, Linux {platform.release()}, "
                   f"Debian {read_first('/etc/debian_version')}",
        "busy": busy,
        "versions": versions,
        "sipp": sipp_version,
        "command": "python3 bench/sip_bench.py" + (" --quick" if q else ""),
        "rounds": opts.rounds, "note": opts.note,
        "kamailio_children": opts.kamailio_children,
        "step_seconds": opts.step_seconds, "mem_settle": opts.mem_settle,
        "mem_reg_rate": opts.mem_reg_rate,
    }
    if "tandem" in servers and hasattr(servers["tandem"], "prepare_seconds"):
        meta["note"] += (f"\n\nTandem's 10,002 users: {servers['tandem'].prepare_how} "
                         f"({servers['tandem'].prepare_seconds:.1f} s).")
    if "tandem" not in servers:
        meta["note"] += "\n\nTandem was not benchmarked in this run (no binary, or not selected)."
    summ = summarize(results)
    table = markdown(summ, results, meta)
    print(table)
    if not opts.no_write:
        write_doc(table, meta, Path(opts.out))
        log(f"wrote {opts.out}")
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    return 0


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def mem_total() -> str:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    return "?"


def read_first(path: str) -> str:
    try:
        return open(path).readline().strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
