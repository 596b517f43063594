// A bounded wait, shared by the tests that need no tetherd (hostile.test)
// and those that do (support/tetherd.mjs re-exports it).

/** Resolves once `check()` (which may return a promise) is true; rejects
 * after `ms` naming `what`. */
export function until(check, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = async () => {
      let ok = false;
      try { ok = await check(); } catch { ok = false; }
      if (ok) { resolve(); return; }
      if (Date.now() > deadline) { reject(new Error(`timed out waiting for ${what}`)); return; }
      setTimeout(poll, 20);
    };
    poll();
  });
}
