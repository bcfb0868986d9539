// The check both driver test files run against every driver: what is produced comes back exactly once per
// partition, and a send time stamped into a batch reaches the consumer unchanged.
import type { Test } from 'tap';
import type { StreamDriver } from '../../../bench/compare/drivers/stream-driver.ts';

const WAIT_MS = 20_000;

export const RECORD_BYTES = 100;

async function waitFor(condition: () => boolean, what: string, failed: Promise<Error>): Promise<void> {
  let failure: Error | null = null;
  void failed.then((err) => (failure = err));
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * 3 batches to 2 partitions (one stamped), read back; then a marker per partition proves nothing more came.
 * The first plain batch is sent `copies` times at once (2: re-sent buffers are in flight together). Streams are
 * not deleted: the servers and their directories go at the end.
 */
export async function checkRoundTrip(t: Test, driver: StreamDriver, stream: string, copies = 1): Promise<void> {
  await driver.createStreams(stream, 2);
  const sentAt = performance.now();
  await Promise.all(Array.from({ length: copies }, () => driver.produceBatch(stream, 0, 300, RECORD_BYTES)));
  await driver.produceBatch(stream, 1, 200, RECORD_BYTES);
  await driver.produceBatch(stream, 0, 7, RECORD_BYTES, sentAt);

  const counts = [0, 0];
  const stamped = new Map<number, number[]>();
  const consumption = await driver.consume(stream, 2, (partition, count, sentAtMs) => {
    counts[partition] += count;
    if (sentAtMs !== undefined) {
      if (!stamped.has(sentAtMs)) stamped.set(sentAtMs, [0, 0]);
      stamped.get(sentAtMs)![partition] += count;
    }
  });
  try {
    await waitFor(() => counts[0] >= 300 * copies + 7 && counts[1] >= 200, 'the produced records', consumption.failed);
    const marker = performance.now() + 1;
    await driver.produceBatch(stream, 0, 1, RECORD_BYTES, marker);
    await driver.produceBatch(stream, 1, 1, RECORD_BYTES, marker);
    await waitFor(() => stamped.get(marker)?.[0] === 1 && stamped.get(marker)?.[1] === 1, 'the markers', consumption.failed);
  } finally {
    await consumption.stop();
  }
  t.same(counts, [300 * copies + 8, 201], 'every record exactly once per partition (markers included)');
  t.same(stamped.get(sentAt), [7, 0], 'the stamped batch carried its send time');
  t.same(stamped.size, 2, 'no record carried a send time it was not sent with');
}
