import { kcat } from './kcat.ts';

export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: string;
  value: any;
  /** Record headers as kcat prints them (`name=value,name=value`), for diagnostics. */
  headers: string;
}

/** Everything in `topic` right now, read with kcat (librdkafka) from the beginning; values parsed as JSON. */
export async function readTopicJson(brokerPort: number, topic: string): Promise<ConsumedRecord[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${brokerPort}`, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\\t%o\\t%k\\t%h\\t%s\\n']);
  if (res.code !== 0 && !/Unknown topic|UNKNOWN_TOPIC/.test(res.stderr)) throw new Error(`kcat failed (${res.code}): ${res.stderr}`);
  const out: ConsumedRecord[] = [];
  for (const line of res.stdout.toString().split('\n')) {
    if (line === '') continue;
    const [p, o, k, h, ...rest] = line.split('\t');
    out.push({ partition: Number(p), offset: Number(o), key: k, headers: h, value: JSON.parse(rest.join('\t')) });
  }
  return out;
}
