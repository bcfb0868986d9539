import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';

/** Codec ids as carried in the low 3 bits of a batch's attributes. */
export const Codec = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CodecId = (typeof Codec)[keyof typeof Codec];

// The Java client (and kafkajs's snappy plug-in) frame snappy data the way xerial's SnappyOutputStream
// does: a 16-byte header, then blocks of int32 length + raw snappy. librdkafka writes raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;

function snappyDecompress(data: Buffer): Buffer {
  if (data.length >= XERIAL_HEADER && data.subarray(0, 8).equals(XERIAL_MAGIC)) {
    const parts: Buffer[] = [];
    let pos = XERIAL_HEADER;
    while (pos + 4 <= data.length) {
      const len = data.readInt32BE(pos);
      pos += 4;
      if (len < 0 || pos + len > data.length) throw new Error('truncated xerial snappy block');
      parts.push(snappyUncompress(data.subarray(pos, pos + len)) as Buffer);
      pos += len;
    }
    return Buffer.concat(parts);
  }
  return snappyUncompress(data) as Buffer;
}

function snappyXerialCompress(data: Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // minimum compatible version
  const blocks: Buffer[] = [header];
  const BLOCK = 32 * 1024;
  for (let pos = 0; pos < data.length; pos += BLOCK) {
    const compressed = snappyCompress(data.subarray(pos, pos + BLOCK));
    const len = Buffer.alloc(4);
    len.writeInt32BE(compressed.length);
    blocks.push(len, compressed);
  }
  return Buffer.concat(blocks);
}

export function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Codec.none:
      return data;
    case Codec.gzip:
      return gunzipSync(data);
    case Codec.snappy:
      return snappyDecompress(data);
    case Codec.lz4:
      return decompressFrameSync(data);
    case Codec.zstd:
      return zstdDecompressSync(data);
  }
  throw new Error(`unknown compression codec ${codec}`);
}

export function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Codec.none:
      return data;
    case Codec.gzip:
      return gzipSync(data);
    case Codec.snappy:
      return snappyXerialCompress(data);
    case Codec.lz4:
      return compressFrameSync(data);
    case Codec.zstd:
      return zstdCompressSync(data);
  }
  throw new Error(`unknown compression codec ${codec}`);
}
