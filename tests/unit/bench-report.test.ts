/** Pure parts of the benchmark CLI and report: flags, the table, file names and the small helpers of each scenario. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueueMode } from '../../shared/index.js';
import { BENCH_SCENARIOS, benchModes, parseBenchArgs } from '../../scripts/bench/cli.js';
import { UsageError } from '../../scripts/cli-args.js';
import { batchedBody, recipientsOf } from '../../scripts/bench/fanout.js';
import { gapsAfter, rawStall } from '../../scripts/bench/failover-gap.js';
import { splitUsers } from '../../scripts/bench/holders.js';
import { benchPostText, parseBenchPostText } from '../../scripts/bench/load.js';
import { peakPerSecond } from '../../scripts/bench/reconnect-storm.js';
import { figure, renderBenchMarkdown, renderBenchTable, reportFileName } from '../../scripts/bench/report.js';

describe('bench flags', () => {
  it('GIVEN no flags WHEN parsed THEN every scenario runs in full', () => {
    const o = parseBenchArgs([]);
    assert.deepEqual(o.scenarios, [...BENCH_SCENARIOS]);
    assert.equal(o.quick, false);
  });

  it('GIVEN --scenario fanout,connections --quick WHEN parsed THEN those two run in the short form', () => {
    const o = parseBenchArgs(['--scenario', 'fanout,connections', '--quick']);
    assert.deepEqual(o.scenarios, ['fanout', 'connections']);
    assert.equal(o.quick, true);
  });

  it('GIVEN an unknown scenario WHEN parsed THEN the error names --scenario and the valid names', () => {
    assert.throws(() => parseBenchArgs(['--scenario', 'speed']), (e: unknown) => e instanceof UsageError && /--scenario: "speed".*throughput/.test(e.message));
  });

  it('GIVEN quick or full WHEN choosing queue modes THEN quick runs mirrored only and full runs both', () => {
    assert.deepEqual(benchModes(true), [QueueMode.MIRRORED]);
    assert.deepEqual(benchModes(false), [QueueMode.MIRRORED, QueueMode.QUORUM]);
  });
});

describe('bench report', () => {
  it('GIVEN a figure WHEN built THEN its ratio is ours over baseline', () => {
    const f = figure({ scenario: 'throughput', name: 'rate', unit: '/s', ours: 400, baseline: 500, baselineName: 'raw', limit: 'cpu' });
    assert.equal(f.ratio, 0.8);
  });

  it('GIVEN a scenario with a figure and a failed one WHEN rendered THEN the table shows ours, baseline, ratio and the error', () => {
    const table = renderBenchTable({
      scenarios: [
        { scenario: 'throughput', startedAt: '', durationS: 1, details: {}, figures: [figure({ scenario: 'throughput', name: 'rate', unit: '/s', ours: 400, baseline: 500, baselineName: 'raw', target: '≥ 0.8', limit: 'cpu' })] },
        { scenario: 'fanout', startedAt: '', durationS: 1, details: {}, figures: [], error: 'broker down' },
      ],
    });
    const row = table.split('\n').find((l) => l.startsWith('throughput'));
    assert.ok(row);
    assert.match(row, /400\s+500 \(raw\)\s+0\.8\s+≥ 0\.8\s+cpu/);
    assert.match(table, /fanout\s+ERROR: broker down/);
  });

  it('GIVEN a date WHEN naming the report THEN the name is bench-<UTC timestamp>.json without colons', () => {
    assert.equal(reportFileName(new Date('2026-11-23T11:00:05.123Z')), 'bench-2026-11-23T11-00-05Z.json');
  });
});

describe('scenario helpers', () => {
  it('GIVEN a tagged post text WHEN parsed THEN the tag and send time come back, padding ignored', () => {
    const text = benchPostText('tp-1-s2', 1234, 80);
    assert.equal(text.length, 80);
    assert.deepEqual(parseBenchPostText(text), { tag: 'tp-1-s2', sentAt: 1234 });
    assert.equal(parseBenchPostText('hello'), undefined);
  });

  it('GIVEN 9,000 users WHEN split over holders THEN no holder gets more than 4,000 and nobody is left out', () => {
    const users = Array.from({ length: 9000 }, (_, i) => i);
    const chunks = splitUsers(users);
    assert.equal(chunks.length, 3);
    assert.ok(chunks.every((c) => c.length <= 4000));
    assert.equal(chunks.flat().length, 9000);
  });

  it('GIVEN re-open times WHEN finding the busiest second THEN the peak counts events less than 1 s apart', () => {
    assert.equal(peakPerSecond([0, 100, 200, 1500, 1600, 1700, 1800]), 4);
    assert.equal(peakPerSecond([]), 0);
  });

  it('GIVEN faults and items WHEN computing gaps THEN each gap is the first receipt of an item sent after the fault', () => {
    const items = [
      { sentAt: 900, receivedAt: 950 },
      { sentAt: 1000, receivedAt: 3000 },
      { sentAt: 1100, receivedAt: 2500 },
      { sentAt: 5000 },
    ];
    assert.deepEqual(gapsAfter([1000, 4000], items), [1.5, null]);
  });

  it('GIVEN raw messages around a kill WHEN their stall is measured THEN the window p99 is the slowest message sent inside it and an unreceived one (the raw pair\'s loss) is no wait', () => {
    const items = [
      { sentAt: 500, receivedAt: 510 },
      { sentAt: 1100, receivedAt: 4100 },
      { sentAt: 1200, receivedAt: 1300 },
      { sentAt: 9000 },
    ];
    const stall = rawStall([{ from: 1000, to: 2000 }], items);
    assert.equal(stall.faultWindowP99Ms, 3000);
    assert.equal(stall.worstWaitMs, 3000, 'the 1100→4100 message is the longest receipt');
    assert.equal(rawStall([], [{ sentAt: 0 }]).worstWaitMs, 0, 'never received: a loss of the raw pair, not a wait');
  });

  it('GIVEN a batched message and a per-follower one WHEN reading recipients THEN the list or the routing key names them', () => {
    const batched = recipientsOf({ fields: { routingKey: 'user.a' } as never, content: batchedBody('p1', ['a', 'b']) });
    assert.deepEqual(batched, { postId: 'p1', users: ['a', 'b'] });
    const single = recipientsOf({ fields: { routingKey: 'user.c' } as never, content: Buffer.from(JSON.stringify({ postId: 'p2' })) });
    assert.deepEqual(single, { postId: 'p2', users: ['c'] });
  });
});

describe('bench markdown', () => {
  it('GIVEN a report WHEN rendered as Markdown THEN it names the command, the machine and each figure with its ratio', () => {
    const md = renderBenchMarkdown({
      command: 'npm run bench -- --scenario all',
      gitCommit: 'abcdef1234567890',
      startedAt: '2026-11-23T11:00:00.000Z',
      machine: { cores: 2, cpuModel: 'AMD EPYC', memoryGiB: 23.5, node: 'v20', platform: 'linux x64', loadAvgAtStart: 0.1, otherBeamProcessesAtStart: 0, busy: false },
      scenarios: [{ scenario: 'throughput', startedAt: '', durationS: 1, details: {}, figures: [figure({ scenario: 'throughput', name: 'rate | max', unit: '/s', ours: 400, baseline: 500, baselineName: 'raw', limit: 'cpu' })] }],
    });
    assert.match(md, /`npm run bench -- --scenario all` at commit `abcdef123456`/);
    assert.match(md, /2 cores \(AMD EPYC\) and 23\.5 GiB/);
    assert.match(md, /\| throughput \| rate \\\| max \| \/s \| 400 \| 500 \(raw\) \| 0\.8 \|/);
  });
});
