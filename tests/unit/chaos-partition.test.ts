import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroup2Root, localPortsTo, LoopbackPartition, partitionUnavailable } from '../../scripts/chaos/partition.js';

const SS = [
  '0      0      127.0.0.1:39503 127.0.0.1:25001 users:(("beam.smp",pid=32177,fd=43))',
  '0      0      127.0.0.1:41000 127.0.0.1:25002 users:(("beam.smp",pid=32177,fd=44))',
  '0      0      127.0.0.1:41001 127.0.0.1:5672 users:(("beam.smp",pid=32177,fd=45))',
  '0      0      127.0.0.1:42000 127.0.0.1:25002 users:(("beam.smp",pid=40000,fd=21))',
  '0      0      127.0.0.1:43000 127.0.0.1:25001 users:(("beam.smp",pid=321770,fd=21))',
].join('\n');

describe('loopback partition helpers', () => {
  it('GIVEN ss output WHEN looking for a VM\'s connections to peer distribution ports THEN only its own local ports to those peers come back', () => {
    assert.deepEqual(localPortsTo(SS, 32177, [25001, 25002]), [39503, 41000]);
  });

  it('GIVEN no matching connection WHEN looking THEN the list is empty', () => {
    assert.deepEqual(localPortsTo(SS, 99, [25001]), []);
  });
});

/**
 * iptables and ss stand-ins first on PATH record their argv (one JSON line per call); `ss` answers
 * with the connections in $FAKE_SS_OUT, `iptables` fails with a message when $FAKE_IPTABLES_FAIL is set.
 */
const STAND_IN = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const name = require('node:path').basename(process.argv[1]);
fs.appendFileSync(process.env.FAKE_NET_LOG, JSON.stringify([name, ...process.argv.slice(2)]) + '\n');
if (name === 'iptables' && process.env.FAKE_IPTABLES_FAIL) { process.stderr.write(process.env.FAKE_IPTABLES_FAIL + '\n'); process.exit(3); }
if (name === 'ss' && process.argv[2] === '-tnpH') process.stdout.write(fs.readFileSync(process.env.FAKE_SS_OUT, 'utf8'));
`;

const asRoot = process.getuid?.() === 0;
const cgroupRoot = cgroup2Root();

describe('loopback partition commands (iptables and ss stand-ins)', { skip: asRoot && cgroupRoot ? false : 'needs root and a cgroup v2 hierarchy (the rules move a process into a cgroup of its own)' }, () => {
  let dir: string;
  let logFile: string;
  let savedPath: string | undefined;
  let victim: ChildProcess;
  const calls = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'feedkit-net-'));
    for (const name of ['iptables', 'ss']) {
      writeFileSync(join(dir, name), STAND_IN);
      chmodSync(join(dir, name), 0o755);
    }
    logFile = join(dir, 'calls.log');
    savedPath = process.env['PATH'];
    process.env['PATH'] = `${dir}:${savedPath ?? ''}`;
    process.env['FAKE_NET_LOG'] = logFile;
    process.env['FAKE_SS_OUT'] = join(dir, 'ss.out');
    victim = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  after(() => {
    victim.kill('SIGKILL');
    process.env['PATH'] = savedPath;
    delete process.env['FAKE_IPTABLES_FAIL'];
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN a node WHEN isolated and healed THEN iptables gets exactly the chain, the DROP rules for its ports and connections, and their removal', async () => {
    writeFileSync(logFile, '');
    const pid = victim.pid!;
    writeFileSync(process.env['FAKE_SS_OUT']!, `0 0 127.0.0.1:39503 127.0.0.1:25002 users:(("beam.smp",pid=${pid},fd=43))\n`);
    const partition = new LoopbackPartition('t0');
    const result = await partition.isolate(pid, 25001, [25002, 25003]);
    assert.deepEqual(result, { rules: 5, existingConnections: 1 });
    const chain = `FKCHAOS-${process.pid}-t0`.slice(0, 28);
    const cgroupPath = `feedkit-chaos-${process.pid}-t0`;
    assert.ok(readFileSync(join(cgroupRoot!, cgroupPath, 'cgroup.procs'), 'utf8').includes(String(pid)), 'the VM is in its own cgroup');
    await partition.heal();
    assert.deepEqual(calls(), [
      ['iptables', '-w', '5', '-N', chain],
      ['ss', '-tnpH', 'state', 'established'],
      ['iptables', '-w', '5', '-A', chain, '-p', 'tcp', '--dport', '25001', '-j', 'DROP'],
      ['iptables', '-w', '5', '-A', chain, '-p', 'tcp', '--sport', '25001', '-j', 'DROP'],
      ['iptables', '-w', '5', '-A', chain, '-p', 'tcp', '-m', 'cgroup', '--path', cgroupPath, '-m', 'multiport', '--dports', '25002,25003', '-j', 'DROP'],
      ['iptables', '-w', '5', '-A', chain, '-p', 'tcp', '--sport', '39503', '-j', 'DROP'],
      ['iptables', '-w', '5', '-A', chain, '-p', 'tcp', '--dport', '39503', '-j', 'DROP'],
      ['iptables', '-w', '5', '-I', 'OUTPUT', '1', '-j', chain],
      ['iptables', '-w', '5', '-D', 'OUTPUT', '-j', chain],
      ['iptables', '-w', '5', '-F', chain],
      ['iptables', '-w', '5', '-X', chain],
    ]);
    assert.equal(existsSync(join(cgroupRoot!, cgroupPath)), false, 'the cgroup is removed');
  });

  it('GIVEN an iptables that fails WHEN asked whether a partition can be made THEN the reason names the iptables command and its stderr', async () => {
    process.env['FAKE_IPTABLES_FAIL'] = "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied";
    try {
      assert.equal(
        await partitionUnavailable(),
        'iptables is not usable (iptables -w 5 -S OUTPUT failed: iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied); install it (apt-get install -y iptables) to include the partition scenario',
      );
    } finally {
      delete process.env['FAKE_IPTABLES_FAIL'];
    }
  });

  it('GIVEN working iptables and ss WHEN asked whether a partition can be made THEN nothing blocks it', async () => {
    assert.equal(await partitionUnavailable(), undefined);
  });
});
