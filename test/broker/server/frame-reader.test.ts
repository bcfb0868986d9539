import t from 'tap';
import { FrameReader } from '../../../broker/server/frame-reader.ts';

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

const bodies = [Buffer.alloc(8, 1), Buffer.alloc(100, 2), Buffer.alloc(20_000, 3), Buffer.alloc(9, 4)];
const stream = Buffer.concat(bodies.map(frame));

t.test('frames come out whole and in order however the stream is split', async (t) => {
  for (const chunkSize of [1, 2, 3, 5, 7, 64, 4096, stream.length]) {
    const reader = new FrameReader(1 << 20);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += chunkSize) reader.push(stream.subarray(i, i + chunkSize), (f) => got.push(Buffer.from(f)));
    t.same(got, bodies, `chunks of ${chunkSize}`);
    t.equal(reader.midFrame, false);
  }
});

t.test('a frame inside one chunk is handed out without copying', async (t) => {
  const reader = new FrameReader(1 << 20);
  let got: Buffer | undefined;
  const one = frame(Buffer.alloc(32, 9));
  reader.push(one, (f) => (got = f));
  t.equal(got!.buffer, one.buffer, 'same memory');
});

t.test('bad sizes are refused before any allocation', async (t) => {
  const neg = Buffer.alloc(4);
  neg.writeInt32BE(-5);
  t.throws(() => new FrameReader(1024).push(neg, () => {}), { name: 'InvalidFrameSizeError' });
  const tiny = Buffer.alloc(4);
  tiny.writeInt32BE(3);
  t.throws(() => new FrameReader(1024).push(tiny, () => {}), { name: 'InvalidFrameSizeError' });
  const huge = Buffer.alloc(4);
  huge.writeInt32BE(2000);
  t.throws(() => new FrameReader(1024).push(huge, () => {}), { name: 'FrameTooLargeError' });
  // The size prefix split across chunks is checked too.
  const r = new FrameReader(1024);
  r.push(huge.subarray(0, 2), () => {});
  t.equal(r.midFrame, true);
  t.throws(() => r.push(huge.subarray(2), () => {}), { name: 'FrameTooLargeError' });
});
