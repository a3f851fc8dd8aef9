// Undoing a refused open: what a read-write ValueLog.open has opened or created so far, and how to
// leave the directory as it found it.
import { parseSegmentFileName } from './format/segment.js';
import type { Manager } from './manager.js';
import { DIRTY_MARKER } from './recovery.js';
import type { StorageBackend, StorageLock } from './storage/types.js';
import type { Writer } from './writer.js';

/** @internal What a read-write open has opened or created so far, for undoOpen. */
export interface Opened {
  writers: Writer[];
  manager: Manager | undefined;
  /** Files in the directory before open created any (undefined: listing failed, nothing created). */
  existing: Set<string> | undefined;
}

/**
 * @internal Undoes a refused open: closes what it opened, removes the segment files it created (open writes
 * nothing into them; without a lock only empty ones, which cannot be another writer's data) and
 * releases the lock.
 * Errors here are secondary to the one that refused the open and are not reported.
 */
export async function undoOpen(storage: StorageBackend, opened: Opened, lock: StorageLock | undefined): Promise<void> {
  for (const w of opened.writers) {
    try {
      w.close();
    } catch {
      // the open already failed; its error is the one to report
    }
  }
  await opened.manager?.close().catch(() => undefined);
  try {
    if (opened.existing !== undefined) {
      for (const name of await storage.list()) {
        if (opened.existing.has(name) || (parseSegmentFileName(name) === undefined && name !== DIRTY_MARKER)) continue;
        // Under the lock every new file is ours; without one, only an empty file can be.
        if (lock === undefined) {
          const f = await storage.open(name, { readOnly: true });
          const empty = f.size() === 0;
          f.close();
          if (!empty) continue;
        }
        await storage.remove(name);
      }
    }
  } catch {
    // best effort: an empty segment left behind is harmless (the next open reuses it)
  } finally {
    await lock?.release().catch(() => undefined);
  }
}
