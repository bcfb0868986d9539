import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/write-file-atomic.ts';

const BLOCK = 1000;
const FILE = 'producer-id-block';

/**
 * Hands out producer ids that are never reused, even across crashes: ids are reserved on disk a block at
 * a time (as Kafka's controller does), so a restart continues after the last reserved block.
 */
export class ProducerIdAllocator {
  private next: number;
  private blockEnd: number;
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, FILE);
    this.next = existsSync(this.path) ? Number(readFileSync(this.path, 'utf8')) || 0 : 0;
    this.blockEnd = this.next;
  }

  allocate(): number {
    if (this.next >= this.blockEnd) {
      this.blockEnd = this.next + BLOCK;
      writeFileAtomic(this.path, String(this.blockEnd));
    }
    return this.next++;
  }
}
