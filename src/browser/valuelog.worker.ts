// The dedicated worker that valuelog/browser starts: it serves one log on OPFS to its page.
import { serveValueLog } from './host.js';

serveValueLog(globalThis as unknown as Parameters<typeof serveValueLog>[0]);
