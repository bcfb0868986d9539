// ClickHouse for the stack: the installed server (Debian's clickhouse-server 18.16, or a current release),
// its config generated under <state>/clickhouse and its data in <state>/clickhouse/data, so a second start
// finds the tables and rows of the first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet } from './http-probe.ts';
import type { ComponentSpec } from './supervisor.ts';

export interface ClickHousePorts {
  http: number;
  tcp: number;
  interserver: number;
}

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Everything the server reads, and nothing current releases reject (`<yandex>` is still accepted as the
 * root). 18.16 refuses to start without `mark_cache_size` and without the profile and quota its user
 * names. Only 127.0.0.1 is listened on: the stack is for one machine.
 */
export function clickHouseConfigXml(dir: string, logDir: string, ports: ClickHousePorts): string {
  const d = xmlText(dir);
  const l = xmlText(logDir);
  return `<?xml version="1.0"?>
<!-- Written by Tributary at every start; edit the code in stack/clickhouse-process.ts, not this file. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>${l}/clickhouse-server.log</log>
    <errorlog>${l}/clickhouse-server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <users_config>${d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

export const CLICKHOUSE_USERS_XML = `<?xml version="1.0"?>
<!-- Written by Tributary: one passwordless user, reachable from this machine only. -->
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`;

/** Writes the config into `<stateDir>/clickhouse` and describes the server as a supervised component. */
export function clickHouseComponent(opts: { command: string[]; stateDir: string; logDir: string; ports: ClickHousePorts }): ComponentSpec {
  const dir = join(opts.stateDir, 'clickhouse');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const configFile = join(dir, 'config.xml');
  writeFileSync(configFile, clickHouseConfigXml(dir, opts.logDir, opts.ports));
  writeFileSync(join(dir, 'users.xml'), CLICKHOUSE_USERS_XML);
  const url = `http://127.0.0.1:${opts.ports.http}`;
  return {
    name: 'clickhouse',
    command: opts.command[0],
    args: [...opts.command.slice(1), `--config-file=${configFile}`],
    cwd: dir,
    address: url,
    ready: { probe: async () => (await httpGet(`${url}/ping`)).body === 'Ok.\n' },
    readyTimeoutMs: 90_000,
    // A merge in progress can hold the shutdown for a while; data is safe either way (parts are atomic).
    stopTimeoutMs: 30_000,
    extraLogFiles: [join(opts.logDir, 'clickhouse-server.err.log')],
  };
}
