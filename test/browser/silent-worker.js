// A worker that loads and never answers a message (a hung or empty worker file): the tabs test checks
// that BrowserValueLog.open() still settles within openTimeoutMs.
self.onmessage = () => {};
