import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeCpuProfile } from '../../../bench/lib/cpu-profile-summary.ts';

t.test('self time is attributed per function and area, idle apart from the busy time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-profile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4, 5] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('appendBatch', 'file:///repo/broker/storage/log.ts') },
      { id: 4, callFrame: frame('crc32c', 'file:///repo/node_modules/@node-rs/crc32/index.js') },
      { id: 5, callFrame: frame('(garbage collector)', '') },
    ],
    // 10 ms idle, 6 ms in the log, 3 ms in crc32, 1 ms GC.
    samples: [2, 3, 4, 5, 3, 2],
    timeDeltas: [5000, 3000, 3000, 1000, 3000, 5000],
    startTime: 0,
    endTime: 20_000,
  };
  const file = join(dir, 'broker.cpuprofile');
  writeFileSync(file, JSON.stringify(profile));
  const s = summarizeCpuProfile(file);
  t.equal(s.seconds, 0.02);
  t.equal(s.idlePercent, 50);
  t.equal(s.gcPercent, 10);
  t.same(s.byArea.map((e) => [e.where, e.selfPercent]), [['broker/storage/', 60], ['@node-rs/crc32', 30], ['garbage collector', 10]]);
  t.same(s.top[0], { where: 'appendBatch (broker/storage/log.ts:10)', selfPercent: 60 });
});
