// A turn of the event loop that works in every runtime the library runs in.

const g = globalThis as unknown as { setImmediate?: (cb: () => void) => unknown; MessageChannel?: typeof MessageChannel };
let channel: MessageChannel | undefined;
const waiting: Array<() => void> = [];

/**
 * @internal Resolves on a later macrotask: setImmediate where it exists (Node, Deno, Bun), else a
 * MessageChannel message (browsers; setTimeout would be clamped to >= 1-4 ms), else setTimeout 0.
 */
export function macrotask(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof g.setImmediate === 'function') {
      g.setImmediate(resolve);
      return;
    }
    if (typeof g.MessageChannel === 'function') {
      if (channel === undefined) {
        channel = new g.MessageChannel();
        channel.port1.onmessage = () => waiting.shift()?.();
      }
      waiting.push(resolve);
      channel.port2.postMessage(0);
      return;
    }
    setTimeout(resolve, 0);
  });
}
