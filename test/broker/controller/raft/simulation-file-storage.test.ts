// A few randomized schedules (see simulation.test.ts) with every node on a FileLogStorage in a temporary
// directory, each crash closing the files and each restart recovering from them. Fewer and shorter schedules than
// the in-memory suite because every flush fsyncs. Replay one with RAFT_SEED=<seed> RAFT_RUNS=1.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLogStorage } from '../../../../broker/controller/raft/file-log-storage.ts';
import { runSchedule } from './schedule.ts';
import { baseSeed, runCount } from './seed.ts';

t.test('3 nodes on file storage: safety under faults, liveness after healing', (t) => {
  const seed = baseSeed();
  const runs = runCount(8);
  t.comment(`seed ${seed}, ${runs} schedules (RAFT_SEED=<seed> RAFT_RUNS=1 replays schedule <seed>)`);
  const root = mkdtempSync(join(tmpdir(), 'raft-sim-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  let restarts = 0;
  for (let run = 0; run < runs; run++) {
    const scheduleSeed = (seed + run) >>> 0;
    try {
      const result = runSchedule({ seed: scheduleSeed, nodeCount: 3, steps: 1200, livenessBound: 400, openStorage: (id) => new FileLogStorage(join(root, String(scheduleSeed), String(id))) });
      restarts += result.stats.restarts;
    } catch (error) {
      t.fail(`schedule ${scheduleSeed} (RAFT_SEED=${scheduleSeed} RAFT_RUNS=1): ${(error as Error).message}`);
      break;
    }
  }
  t.ok(restarts > 0, `${restarts} restarts recovered from files`);
  t.end();
});
