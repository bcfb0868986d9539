import type { Resource } from '../../events/attributes.ts';
import type { FileSourceSettings } from '../config.ts';
import type { NewRecord } from '../buffer/buffer-frame.ts';
import { createLineParser } from '../logs/line-parser.ts';
import { MultilineAssembler } from '../logs/multiline.ts';

export interface LineAssembler {
  push(line: string, start: number, end: number, now: number): { text: string; startOffset: number; endOffset: number }[];
  flushDue(now: number): { text: string; startOffset: number; endOffset: number }[];
  flushAll(): { text: string; startOffset: number; endOffset: number }[];
}

/**
 * One `files:` entry of agent.yaml turned into records: parses each line (or multiline group) into the
 * logs.raw schema, adds the source's resource and attributes, and marks where in the file it ended.
 */
export class FileSource {
  private readonly parse: ReturnType<typeof createLineParser>;
  private readonly resource: Resource;
  private readonly attributes: Record<string, string | number | boolean>;
  private readonly hasAttributes: boolean;
  readonly settings: FileSourceSettings;
  private readonly topic: string;

  constructor(
    settings: FileSourceSettings,
    hostName: string,
    topic: string,
  ) {
    this.settings = settings;
    this.topic = topic;
    this.parse = createLineParser(settings.parser);
    this.resource = settings.service ? { 'host.name': hostName, 'service.name': settings.service } : { 'host.name': hostName };
    this.attributes = settings.attributes;
    this.hasAttributes = Object.keys(settings.attributes).length > 0;
    this.key = hostName;
  }

  /** Records of one host stay in one partition, in order. */
  private readonly key: string;

  newAssembler(): LineAssembler | null {
    const m = this.settings.multiline;
    if (!m) return null;
    return new MultilineAssembler({ startPattern: m.startPattern, mode: m.mode, timeoutMs: m.timeoutMs, maxLines: m.maxLines, maxBytes: m.maxBytes });
  }

  /** `markFile` identifies the file (and its truncation generation) in checkpoints. */
  toRecord(text: string, start: number, end: number, path: string, markFile: string, now: number): NewRecord {
    const record = this.parse(text, { now, resource: this.resource, file: path, offset: start });
    if (this.hasAttributes) record.attributes = record.attributes ? { ...this.attributes, ...record.attributes } : { ...this.attributes };
    return { timestamp: record.timestamp, topic: this.topic, key: this.key, value: Buffer.from(JSON.stringify(record)), mark: { file: markFile, position: end } };
  }
}
