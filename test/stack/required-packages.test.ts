import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findStackBinaries, MissingPackagesError } from '../../stack/required-packages.ts';
import { repoRoot } from '../helpers/cli-process.ts';

/** A folder holding executables of the given names (empty scripts): a PATH with only those on it. */
function fakeBin(t: Test, names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-path-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const n of names) {
    writeFileSync(join(dir, n), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, n), 0o755);
  }
  return dir;
}

t.test('both found: their paths; clickhouse-server is preferred over the single clickhouse binary', async (t) => {
  const dir = fakeBin(t, ['clickhouse-server', 'clickhouse', 'prometheus']);
  t.same(findStackBinaries({ path: dir, systemDirs: [] }), { clickhouse: [join(dir, 'clickhouse-server')], prometheus: join(dir, 'prometheus') });
  const single = fakeBin(t, ['clickhouse', 'prometheus']);
  t.same(findStackBinaries({ path: single, systemDirs: [] }).clickhouse, [join(single, 'clickhouse'), 'server'], 'current releases: `clickhouse server`');
});

t.test('clickhouse-server in /usr/sbin (Debian) is found though not on PATH', async (t) => {
  const sbin = fakeBin(t, ['clickhouse-server']);
  const bin = fakeBin(t, ['prometheus']);
  t.same(findStackBinaries({ path: bin, systemDirs: [sbin] }).clickhouse, [join(sbin, 'clickhouse-server')]);
});

t.test('a missing package: one message naming the Debian package and the install command', async (t) => {
  const onlyClickhouse = fakeBin(t, ['clickhouse-server']);
  const err = (() => {
    try {
      findStackBinaries({ path: onlyClickhouse, systemDirs: [], needsSudo: false });
    } catch (e) {
      return e as MissingPackagesError;
    }
  })();
  t.type(err, MissingPackagesError);
  t.equal(err!.message, 'tributary up needs the Debian package prometheus (not found on PATH or in /usr/sbin). Install with: apt-get install -y prometheus');
  t.same(err!.packages, ['prometheus']);

  const onlyPrometheus = fakeBin(t, ['prometheus']);
  t.throws(() => findStackBinaries({ path: onlyPrometheus, systemDirs: [], needsSudo: true }), {
    message: 'tributary up needs the Debian package clickhouse-server (not found on PATH or in /usr/sbin). Install with: sudo apt-get install -y clickhouse-server',
  });
  const empty = fakeBin(t, []);
  t.throws(() => findStackBinaries({ path: empty, systemDirs: [], needsSudo: false }), {
    message: 'tributary up needs the Debian packages clickhouse-server and prometheus (not found on PATH or in /usr/sbin). Install with: apt-get install -y clickhouse-server prometheus',
  });
});

t.test('`tributary up` with prometheus missing prints that message and exits 1 before starting anything', async (t) => {
  // PATH holds only node; the system folders searched are replaced (TRIBUTARY_SYSTEM_BIN_DIRS) by one with
  // a clickhouse-server in it, so exactly prometheus is missing.
  const bin = fakeBin(t, []);
  symlinkSync(process.execPath, join(bin, 'node'));
  const sbin = fakeBin(t, ['clickhouse-server']);
  const state = mkdtempSync(join(tmpdir(), 'tributary-up-missing-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const res = spawnSync(process.execPath, [join(repoRoot, 'bin/tributary.js'), 'up', '--ports', 'auto', '--state-dir', state, '--without', 'dashboards'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, PATH: bin, TRIBUTARY_SYSTEM_BIN_DIRS: sbin },
  });
  t.equal(res.status, 1, res.stderr);
  const sudo = process.getuid!() === 0 ? '' : 'sudo ';
  t.equal(res.stderr, `tributary up needs the Debian package prometheus (not found on PATH or in /usr/sbin). Install with: ${sudo}apt-get install -y prometheus\n`);
  t.equal(res.stdout, '', 'nothing was started');
});
