// `node bench/profile-summary.ts <file.cpuprofile>...`: where a process spent its time, from `node --cpu-prof`
// output: idle and GC shares, self time per area (our folders, each dependency, node internals) and the top
// functions. `npm run bench -- --cpu-prof` prints this for every broker profile it wrote.
import { basename } from 'node:path';
import { renderProfileSummary, summarizeCpuProfile } from './lib/cpu-profile-summary.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile>...\n');
  process.exit(2);
}
for (const file of files) console.log(renderProfileSummary(basename(file), summarizeCpuProfile(file)) + '\n');
