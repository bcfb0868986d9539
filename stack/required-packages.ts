// The stack runs ClickHouse and Prometheus from their installed binaries. This checks for them before
// anything starts, so a missing one is one clear message naming the Debian package, not a crash midway.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Where Debian installs servers that are not on a normal user's PATH (clickhouse-server is in /usr/sbin).
 * TRIBUTARY_SYSTEM_BIN_DIRS (colon-separated) replaces the list: for unusual installs, and for tests that
 * need a package to look absent.
 */
export const SYSTEM_BINARY_DIRS =
  process.env.TRIBUTARY_SYSTEM_BIN_DIRS !== undefined ? process.env.TRIBUTARY_SYSTEM_BIN_DIRS.split(delimiter).filter(Boolean) : ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

export interface StackBinaries {
  /** The ClickHouse server command: `clickhouse-server`, or `clickhouse server` (the single binary of current releases). */
  clickhouse: string[];
  prometheus: string;
}

export interface PackageLookup {
  /** The PATH to search (default: the process's). */
  path?: string;
  /** Searched after PATH (default SYSTEM_BINARY_DIRS); tests pass [] to pretend a package is absent. */
  systemDirs?: string[];
  /** Whether the install command needs sudo (default: not running as root). */
  needsSudo?: boolean;
}

export class MissingPackagesError extends Error {
  override name = 'MissingPackagesError';
  readonly packages: string[];
  constructor(packages: string[], needsSudo: boolean) {
    const list = packages.join(' ');
    const noun = packages.length === 1 ? 'the Debian package' : 'the Debian packages';
    super(`tributary up needs ${noun} ${packages.join(' and ')} (not found on PATH or in /usr/sbin). Install with: ${needsSudo ? 'sudo ' : ''}apt-get install -y ${list}`);
    this.packages = packages;
  }
}

/** The first of `names` found in `dirs`, as a full path. */
export function findExecutable(names: string[], dirs: string[]): string | null {
  for (const name of names) for (const dir of dirs) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return null;
}

/** Finds both servers or throws one MissingPackagesError naming every missing package. */
export function findStackBinaries(lookup: PackageLookup = {}): StackBinaries {
  const dirs = [...(lookup.path ?? process.env.PATH ?? '').split(delimiter), ...(lookup.systemDirs ?? SYSTEM_BINARY_DIRS)];
  const missing: string[] = [];
  let clickhouse: string[] | null = null;
  const server = findExecutable(['clickhouse-server'], dirs);
  if (server) clickhouse = [server];
  else {
    const single = findExecutable(['clickhouse'], dirs);
    if (single) clickhouse = [single, 'server'];
    else missing.push('clickhouse-server');
  }
  const prometheus = findExecutable(['prometheus'], dirs);
  if (!prometheus) missing.push('prometheus');
  if (missing.length > 0) throw new MissingPackagesError(missing, lookup.needsSudo ?? process.getuid?.() !== 0);
  return { clickhouse: clickhouse!, prometheus: prometheus! };
}
