import type { PartitionFetcher } from './partition-fetcher.ts';
import { sourceOffsetOf } from './source-headers.ts';

/** The last output of ours found in one output partition: from input offset `offset`, the first `count` of its outputs there. */
export interface ProducedMark {
  offset: number;
  count: number;
}

/**
 * Finds outputs written after the last snapshot whose snapshot never landed (a crash, a failed send):
 * per output topic, partition P from the snapshot's `outputsEnd` to the high watermark, the highest
 * `tributary.src_offset` of records from `source`, and how many of that input record's outputs are there
 * (a send can stop part-way through one record's outputs). Also returns each scanned high watermark:
 * every later output of ours lands past it.
 */
export async function findProducedOutputs(
  fetcher: PartitionFetcher,
  topics: string[],
  partition: number,
  source: string,
  from: Record<string, number>,
  afterOffset: number,
): Promise<{ marks: Map<string, ProducedMark>; ends: Record<string, number> }> {
  const src = Buffer.from(source);
  const marks = new Map<string, ProducedMark>();
  const ends: Record<string, number> = {};
  for (const topic of topics) {
    let mark: ProducedMark = { offset: -1, count: 0 };
    const { highWatermark } = await fetcher.scan(topic, partition, from[topic] ?? 0, (r) => {
      const offset = sourceOffsetOf(r.headers, src);
      if (offset <= afterOffset) return;
      if (offset > mark.offset) mark = { offset, count: 1 };
      else if (offset === mark.offset) mark.count++;
    });
    ends[topic] = highWatermark;
    if (mark.offset >= 0) marks.set(topic, mark);
  }
  return { marks, ends };
}

/**
 * While replaying input the partition already produced outputs for, drops those outputs: outputs from
 * input offsets below the mark, and the first `count` from the mark's offset itself. A deterministic stage
 * emits the same outputs in the same order, so what remains is exactly what the crashed run did not write.
 */
export class OutputDedupe {
  private readonly marks: Map<string, ProducedMark>;
  private readonly seenAtMark = new Map<string, number>();

  constructor(marks: Map<string, ProducedMark>) {
    this.marks = marks;
  }

  /** The highest input offset with outputs already written, or -1. */
  get replayThrough(): number {
    let max = -1;
    for (const m of this.marks.values()) max = Math.max(max, m.offset);
    return max;
  }

  isWritten(topic: string, sourceOffset: number): boolean {
    const mark = this.marks.get(topic);
    if (!mark || sourceOffset > mark.offset) return false;
    if (sourceOffset < mark.offset) return true;
    const seen = this.seenAtMark.get(topic) ?? 0;
    if (seen >= mark.count) return false;
    this.seenAtMark.set(topic, seen + 1);
    return true;
  }
}
