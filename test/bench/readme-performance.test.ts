import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli-process.ts';

// #8's promise: the README's Performance section shows the latest full run's table, so claims there are
// measured. The figures it quotes must be the ones in the newest results file, and it must say how to reproduce.
t.test('the README Performance section quotes the newest full results and says how to reproduce them', async (t) => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('## Performance\n');
  t.ok(start >= 0, 'README has a Performance section');
  // The side-by-side part; the component benchmarks after it come from their own commands.
  const section = readme.slice(start, readme.indexOf('### Component benchmarks', start));
  const newest = readdirSync(join(repoRoot, 'bench/results')).filter((f) => /^\d{4}-\d{2}-\d{2}\.md$/.test(f)).sort().at(-1);
  t.ok(newest, 'a full run is committed under bench/results/');
  t.match(section, `bench/results/${newest}`, 'the section links the newest full run');
  t.match(section, 'npm run bench -- --quick', 'and says how to run it');
  const results = readFileSync(join(repoRoot, 'bench/results', newest!), 'utf8');
  // Every "median (min–max)" the section's tables quote comes from that file.
  const quoted = [...section.matchAll(/\| ([\d,.]+ \([\d,.]+–[\d,.]+\)) /g)].map((m) => m[1]);
  t.ok(quoted.length >= 20, `${quoted.length} figures quoted`);
  for (const figure of quoted) if (!results.includes(figure)) t.fail(`README quotes ${figure}, which is not in bench/results/${newest}`);
});
