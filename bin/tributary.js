#!/usr/bin/env node
// Plain JavaScript so that an old system node fails with a clear message instead of a syntax error;
// everything else is TypeScript that Node 24 runs by stripping types.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `tributary needs Node.js 24 or newer (this is ${process.version}). ` +
      'Run `npm install` in the project, then `npx tributary ...`: the project installs Node 24 itself.',
  );
  process.exit(1);
}
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
