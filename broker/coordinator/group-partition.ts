/** Java's String.hashCode, so a group maps to the same __consumer_offsets partition as in Kafka. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's Utils.abs: Integer.MIN_VALUE maps to 0, not to itself. */
function kafkaAbs(n: number): number {
  return n === -2147483648 ? 0 : Math.abs(n);
}

/** The __consumer_offsets partition that holds a group's offsets; its leader coordinates the group. */
export function groupPartition(groupId: string, partitionCount: number): number {
  return kafkaAbs(javaHash(groupId)) % partitionCount;
}
