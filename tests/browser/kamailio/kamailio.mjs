// Kamailio (Debian's kamailio 5.6) as the SIP domain c.test, federating with
// the Tandem domains of the browser tests, and the DNS it needs.
//
// Kamailio resolves other domains (RFC 3263: NAPTR, SRV, A) only through the
// system resolver, i.e. /etc/resolv.conf and port 53; it has no setting for
// a DNS server of its own. So:
//   - startDns53() runs dnsmasq on 127.0.0.1:53 (free inside the tests'
//     private network namespace) serving a.test, b.test and c.test;
//   - startKamailio() starts Kamailio in a mount namespace of its own
//     (`unshare --mount`, propagation private) in which a temporary
//     resolv.conf saying `nameserver 127.0.0.1` is bind-mounted over
//     /etc/resolv.conf. Nothing else (Tandem, Chromium, the host) sees it,
//     and the mount ends with Kamailio.
//
// Both take the harness's `startProcess(name, cmd, args, logFile)`, which
// spawns a child logging to logFile and records it to be stopped by pid.
// The child of startKamailio *is* Kamailio's main process (unshare and sh
// exec into it): SIGTERM to it stops Kamailio and all its workers.
//
//   const dns = startDns53(dir, startProcess);
//   const kam = await startKamailio(dir, startProcess, { users: { carol: 'pw' } });
//   // Tandem: [federation] dns_servers = ["127.0.0.1:53"] (or add C_TEST_DNS
//   // to the dnsmasq it already has)

import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const KAMAILIO_CFG = path.join(here, 'c-test.cfg');
export const C_TEST = { domain: 'c.test', ip: '127.0.0.4', port: 5060 };

// dnsmasq arguments for the federation zone (browser_tests.mjs's startDns
// serves A_B_TEST_DNS too). a.test: UDP. b.test: TCP first, then UDP; its
// first TCP target (priority 0) is gone.b.test, an address where nothing
// listens, so every call to b.test over TCP exercises RFC 3263 failover to
// sip.b.test (priority 1). c.test is Kamailio: UDP first, then TCP.
export const A_B_TEST_DNS = [
  '--naptr-record=a.test,10,10,S,SIP+D2U,,_sip._udp.a.test',
  '--srv-host=_sip._udp.a.test,sip.a.test,5060,0,10',
  '--host-record=sip.a.test,127.0.0.2',
  '--naptr-record=b.test,10,10,S,SIP+D2T,,_sip._tcp.b.test',
  '--naptr-record=b.test,20,10,S,SIP+D2U,,_sip._udp.b.test',
  '--srv-host=_sip._tcp.b.test,gone.b.test,5060,0,10',
  '--srv-host=_sip._tcp.b.test,sip.b.test,5060,1,10',
  '--srv-host=_sip._udp.b.test,sip.b.test,5060,0,10',
  '--host-record=sip.b.test,127.0.0.3',
  '--host-record=gone.b.test,127.0.0.5',
];
export const C_TEST_DNS = [
  '--naptr-record=c.test,10,10,S,SIP+D2U,,_sip._udp.c.test',
  '--naptr-record=c.test,20,10,S,SIP+D2T,,_sip._tcp.c.test',
  '--srv-host=_sip._udp.c.test,sip.c.test,5060,0,10',
  '--srv-host=_sip._tcp.c.test,sip.c.test,5060,0,10',
  `--host-record=sip.c.test,${C_TEST.ip}`,
];

// dnsmasq on ADDRESS:53 (the only port the system resolver, and so
// Kamailio, can use) serving a.test, b.test and c.test; every other name
// under .test is NXDOMAIN, and nothing is forwarded anywhere.
export function startDns53(dir, startProcess, { address = '127.0.0.1', port = 53, records = [...A_B_TEST_DNS, ...C_TEST_DNS] } = {}) {
  const args = ['--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--log-queries',
                '--log-facility=-', `--listen-address=${address}`, '--bind-interfaces', `--port=${port}`,
                '--local=/test/', ...records];
  const dnsmasq = fs.existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq';
  return startProcess('dnsmasq53', dnsmasq, args, path.join(dir, 'dnsmasq53.log'));
}

// The db_text tables Kamailio's htable module loads at start-up: users and
// plaintext passwords (value_type 0 = string), plus the `version` table
// Kamailio checks.
function writeUsers(dbDir, users) {
  fs.mkdirSync(dbDir, { recursive: true });
  fs.writeFileSync(path.join(dbDir, 'version'), 'id(int,auto) table_name(string) table_version(int) \n0:htable:2\n');
  const rows = Object.entries(users).map(([u, p], i) => {
    if (/[:\\\n]/.test(u + p)) throw new Error(`kamailio: user or password with ':', '\\' or a newline: ${u}`);
    return `${i + 1}:${u}:0:0:${p}:0\n`;
  });
  fs.writeFileSync(path.join(dbDir, 'htable'),
                   'id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int) \n' +
                   rows.join(''));
}

// Sends OPTIONS sip:DOMAIN to ip:port until any reply comes back.
export async function waitSip(ip, port, domain, timeoutMs = 10000, proc = null) {
  const deadline = Date.now() + timeoutMs;
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => { sock.once('error', reject); sock.bind(0, '127.0.0.1', resolve); });
  try {
    let n = 0;
    for (;;) {
      if (proc && proc.exitCode !== null) throw new Error(`kamailio exited with ${proc.exitCode} (see ${proc.logFile})`);
      if (Date.now() > deadline) throw new Error(`kamailio did not answer OPTIONS on ${ip}:${port} within ${timeoutMs} ms`);
      n += 1;
      const { port: lport } = sock.address();
      const msg = [`OPTIONS sip:${domain} SIP/2.0`,
                   `Via: SIP/2.0/UDP 127.0.0.1:${lport};branch=z9hG4bK-probe-${process.pid}-${n};rport`,
                   'Max-Forwards: 70', `From: <sip:probe@probe.invalid>;tag=probe${n}`, `To: <sip:${domain}>`,
                   `Call-ID: probe-${process.pid}-${n}@probe.invalid`, `CSeq: ${n} OPTIONS`, 'Content-Length: 0', '', ''].join('\r\n');
      const reply = await new Promise((resolve) => {
        const t = setTimeout(() => { sock.removeAllListeners('message'); resolve(null); }, 200);
        sock.once('message', (m) => { clearTimeout(t); resolve(m.toString()); });
        sock.send(msg, port, ip);
      });
      if (reply && reply.startsWith('SIP/2.0 ')) return reply.split('\r\n')[0];
    }
  } finally {
    sock.close();
  }
}

// Starts Kamailio for c.test on ip:5060 (UDP and TCP), its resolver pointing
// at `nameserver` (port 53 there: startDns53). Resolves, once Kamailio
// answers OPTIONS, with the child process (stop it by its pid).
export async function startKamailio(dir, startProcess, {
  users = { carol: 'carol-pw-3' }, ip = C_TEST.ip, port = C_TEST.port, nameserver = '127.0.0.1',
  children = 1, binary = 'kamailio', cfg = KAMAILIO_CFG, timeoutMs = 10000,
} = {}) {
  const work = path.join(dir, 'kamailio');
  fs.mkdirSync(work, { recursive: true });
  writeUsers(path.join(work, 'db'), users);
  const resolv = path.join(work, 'resolv.conf');
  fs.writeFileSync(resolv, `# Kamailio's resolver in the tests (bind-mounted over /etc/resolv.conf)\nnameserver ${nameserver}\n`);
  const defines = ['-A', `C_IP=${ip}`, '-A', `C_UDP=udp:${ip}:${port}`, '-A', `C_TCP=tcp:${ip}:${port}`,
                   '-A', `C_DBURL="text://${path.join(work, 'db')}"`];
  // A syntax error shows here, in the exception, rather than as a timeout.
  const check = spawnSync(binary, ['-c', '-f', cfg, ...defines], { encoding: 'utf8', timeout: 20000 });
  if (check.status !== 0) throw new Error(`kamailio -c -f ${cfg} failed: ${check.stdout}${check.stderr}`);
  // unshare --mount (no --fork) and sh both exec: the child's pid is
  // Kamailio's main process. Propagation private (unshare's default, spelled
  // out): the bind mount never reaches the parent namespace.
  const args = ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c',
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv,
                binary, '-f', cfg, '-DD', '-E', '-n', String(children), '-m', '64',
                '-P', path.join(work, 'kamailio.pid'), '-w', work, ...defines];
  const proc = startProcess('kamailio', 'unshare', args, path.join(dir, 'kamailio.log'));
  const first = await waitSip(ip, port, C_TEST.domain, timeoutMs, proc);
  if (!first.startsWith('SIP/2.0 200')) throw new Error(`kamailio answered OPTIONS with ${first}`);
  return proc;
}
