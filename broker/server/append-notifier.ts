/**
 * Wakes long-polling fetches when data arrives: a fetch with min.bytes unmet parks on the partitions it
 * reads and is answered as soon as any of them is appended to, not when max.wait.ms runs out.
 */
export class AppendNotifier {
  private readonly waiters = new Map<string, Set<() => void>>();

  static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  notify(topic: string, partition: number): void {
    const set = this.waiters.get(AppendNotifier.key(topic, partition));
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Resolves on the first append to any of the keys, or after timeoutMs; always cleans up after itself. */
  waitForAny(keys: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        for (const key of keys) {
          const set = this.waiters.get(key);
          if (!set) continue;
          set.delete(finish);
          if (set.size === 0) this.waiters.delete(key);
        }
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', finish);
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) this.waiters.set(key, (set = new Set()));
        set.add(finish);
      }
    });
  }
}
