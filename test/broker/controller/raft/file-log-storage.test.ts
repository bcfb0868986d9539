// FileLogStorage: what was synced comes back after reopening, a torn tail is cut off, and a crash between saving a
// snapshot and rewriting the log is reconciled. Property runs are seeded: RAFT_SEED=<seed> replays.
import t from 'tap';
import fc from 'fast-check';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLogStorage } from '../../../../broker/controller/raft/file-log-storage.ts';
import { MemoryLogStorage, applyLogWrite } from '../../../../broker/controller/raft/log-storage.ts';
import type { LogWrite } from '../../../../broker/controller/raft/ready.ts';
import { logOfTerms } from './cluster-fixture.ts';
import { baseSeed } from './seed.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'raft-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const write: fc.Arbitrary<{ kind: 'append' | 'truncate' | 'snapshot'; n: number; bump: boolean }> = fc.record({
  kind: fc.constantFrom('append' as const, 'append' as const, 'truncate' as const, 'snapshot' as const),
  n: fc.integer({ min: 0, max: 5 }),
  bump: fc.boolean(),
});

t.test('reopened storage equals an in-memory storage given the same writes (property)', (t) => {
  const seed = baseSeed();
  t.comment(`fast-check seed ${seed} (RAFT_SEED=${seed} replays)`);
  const root = tempDir(t);
  let run = 0;
  fc.assert(
    fc.property(fc.array(write, { maxLength: 25 }), (ops) => {
      const dir = join(root, String(run++));
      let file = new FileLogStorage(dir);
      const memory = new MemoryLogStorage();
      for (const op of ops) {
        let w: LogWrite | null = null;
        const last = memory.lastIndex();
        const lastTerm = memory.termAt(last) ?? 0;
        if (op.kind === 'append') {
          const term = lastTerm + (op.bump ? 1 : 0);
          w = { kind: 'append', entries: Array.from({ length: op.n + 1 }, (_, i) => ({ index: last + 1 + i, term, kind: 'command' as const, data: new Uint8Array([i, op.n]) })) };
        } else if (op.kind === 'truncate' && last - op.n >= memory.firstIndex()) {
          w = { kind: 'truncate', fromIndex: last - op.n };
        } else if (op.kind === 'snapshot' && last - op.n + 2 >= memory.firstIndex()) {
          const index = last - op.n + 2; // sometimes past the end, as an InstallSnapshot can be
          const term = op.bump ? lastTerm + 1 : (memory.termAt(index) ?? lastTerm + 1);
          w = { kind: 'snapshot', snapshot: { index, term, data: new Uint8Array([index]) } };
        }
        if (!w) continue;
        applyLogWrite(memory, w);
        applyLogWrite(file, w);
        file.sync();
        if (op.bump) {
          file.close();
          file = new FileLogStorage(dir);
        }
      }
      file.close();
      const reopened = new FileLogStorage(dir);
      const same =
        reopened.firstIndex() === memory.firstIndex() &&
        reopened.lastIndex() === memory.lastIndex() &&
        JSON.stringify(reopened.snapshot()) === JSON.stringify(memory.snapshot()) &&
        JSON.stringify(reopened.entries(0, Infinity)) === JSON.stringify(memory.entries(0, Infinity));
      reopened.close();
      return same;
    }),
    { seed, numRuns: 60 },
  );
  t.pass('60 random write sequences, reopened after some writes and at the end');
  t.end();
});

t.test('hard state survives reopening', (t) => {
  const dir = tempDir(t);
  const storage = new FileLogStorage(dir);
  storage.saveHardState({ currentTerm: 7, votedFor: 2 });
  storage.close();
  t.same(new FileLogStorage(dir).hardState(), { currentTerm: 7, votedFor: 2 });
  t.end();
});

t.test('a torn or corrupt tail is cut at the last whole frame, and appending resumes there', (t) => {
  const dir = tempDir(t);
  const storage = new FileLogStorage(dir);
  storage.append(logOfTerms([1, 1, 2]));
  storage.sync();
  storage.close();
  const log = join(dir, 'log');
  const intact = statSync(log).size;
  appendFileSync(log, Buffer.from([0, 0, 0, 40, 1, 2, 3])); // half a frame
  let reopened = new FileLogStorage(dir);
  t.equal(reopened.lastIndex(), 3);
  t.equal(statSync(log).size, intact, 'the torn bytes are gone');
  reopened.close();
  // Flip a byte inside the last frame: its CRC no longer matches, so it is dropped too.
  truncateSync(log, intact - 1);
  appendFileSync(log, Buffer.from([0xee]));
  reopened = new FileLogStorage(dir);
  t.equal(reopened.lastIndex(), 2, 'the corrupt last entry is dropped');
  reopened.append([{ index: 3, term: 3, kind: 'noop', data: new Uint8Array(0) }]);
  reopened.sync();
  reopened.close();
  t.same(new FileLogStorage(dir).entries(1, 3).map((e) => e.term), [1, 1, 3]);
  t.end();
});

t.test('a crash between saving an InstallSnapshot and discarding the conflicting log is reconciled', (t) => {
  const dir = tempDir(t);
  const storage = new FileLogStorage(dir);
  storage.append(logOfTerms([1, 1, 2, 2]));
  storage.sync();
  storage.close();
  // What saveSnapshot writes first: a snapshot at index 3 of term 5, which the log (term 2 at 3) contradicts.
  const scratch = tempDir(t);
  const writer = new FileLogStorage(scratch);
  writer.saveSnapshot({ index: 3, term: 5, data: new Uint8Array([9]) });
  writer.close();
  writeFileSync(join(dir, 'snapshot'), readFileSync(join(scratch, 'snapshot')));
  const reopened = new FileLogStorage(dir);
  t.same([reopened.snapshot()?.index, reopened.firstIndex(), reopened.lastIndex()], [3, 4, 3], 'the old log is discarded');
  t.end();
});
