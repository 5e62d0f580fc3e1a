/* global document, fetch, setTimeout */
// Keeps /cluster current while slots move: every data-live-ms it fetches the
// page's live part, rendered by the server as before, and swaps it in.
//
// Why a script and not <meta http-equiv="refresh">: a refresh every second
// reloads the whole document, so find-in-page and any text being selected
// (say, an address to paste into redis-cli) are lost each second, and once the
// app cannot be reached the browser's own error page ends the refreshing.
// Here an unchanged answer leaves the page alone, and while the app is away
// the last state stays up, marked as stale. The fragment is the server's own
// escaped markup from this origin, so swapping it in adds no new input. It is
// a file under /static because the pages' Content-Security-Policy runs no
// inline script; without script the page is still whole, only not live.
'use strict';

(function keepLive() {
  const live = document.querySelector('[data-live]');
  if (!live) return;
  const source = live.getAttribute('data-live');
  const every = Number(live.getAttribute('data-live-ms')) || 1000;
  let shown = '';

  async function refresh() {
    try {
      // A hidden tab reads nothing: nobody is watching.
      if (!document.hidden) {
        const response = await fetch(source, { cache: 'no-store', headers: { Accept: 'text/html' } });
        // An error answer is a rendered fragment too, saying what is wrong.
        const html = await response.text();
        if (html !== shown) {
          live.innerHTML = html;
          shown = html;
        }
        live.setAttribute('data-live-state', 'current');
      }
    } catch {
      live.setAttribute('data-live-state', 'stale');
    }
    setTimeout(refresh, every);
  }

  setTimeout(refresh, every);
})();
