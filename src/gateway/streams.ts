// How many requests and streams each key has open through the gateway on this instance; past the
// limit → 429. A GET stream holds its slot until it closes.
export interface StreamSlots {
  /** A release function, or undefined when the key is at its limit. Release runs once however often it is called. */
  take(keyId: string): (() => void) | undefined;
  open(keyId: string): number;
}

export function createStreamSlots(limit: number): StreamSlots {
  const open = new Map<string, number>();
  return {
    take(keyId) {
      const now = open.get(keyId) ?? 0;
      if (now >= limit) return undefined;
      open.set(keyId, now + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(keyId) ?? 1) - 1;
        if (left <= 0) open.delete(keyId);
        else open.set(keyId, left);
      };
    },
    open: (keyId) => open.get(keyId) ?? 0,
  };
}
