// The seat map of GET /events/{id}/map: the event's seats in their rows,
// coloured by status and kept current by the event's stream
// (GET /events/{id}/stream), with a cart for one UUID.
//
// Every URL is relative to the page's, so that the page also works behind
// a proxy that serves the API under a path prefix. The page's policy lets
// it talk to this service only.
//
// For tests, the page's state is in its DOM: each seat's cell has
// data-seat (its number) and data-status (A available, H on hold,
// R reserved, T taken before the page knew it, as a snapshot says only
// which seats are available; empty before the first snapshot); data-mine
// marks the seats held for the UUID of the field; the body's data-position
// is the position of the last message applied, data-changes the number of
// changes applied, data-snapshots the number of snapshots, data-duplicates
// the changes the page received twice and skipped, and data-stream the
// stream's state.
'use strict';

(() => {
  const statusLetters = { 'Available': 'A', 'On hold': 'H', 'Reserved': 'R' }; // domain's names
  const reconnectDelay = 2000; // ms, the stream's retry: hint

  const body = document.body;
  const grid = document.getElementById('seats');
  const statusLine = document.getElementById('status');
  const uuidField = document.getElementById('uuid');
  const countField = document.getElementById('count');
  const answer = document.getElementById('answer');

  // The page is at <prefix>/events/{id}/map.
  const path = location.pathname.split('/');
  const eventId = decodeURIComponent(path[path.length - 2]);
  const eventURL = new URL('../' + encodeURIComponent(eventId), location.href);
  const seatNumber = (id) => Number(id.slice(id.lastIndexOf('.') + 1));

  let cells = []; // cells[n - 1] is seat n's
  const mine = new Set(); // the seats held for the UUID of the field, by number
  let position = ''; // of the last message applied
  let changes = 0;
  let duplicates = 0;
  let source = null;

  // A random (version 4) UUID. crypto.randomUUID exists only in a secure
  // context (HTTPS, localhost), and the page may be served over plain HTTP.
  function newUUID() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  uuidField.value = newUUID();
  uuidField.addEventListener('change', () => {
    for (const n of mine) markMine(n, false);
    mine.clear();
  });

  // draw makes one cell per seat, once: a change then touches its seats'
  // cells only.
  function draw(event) {
    document.title = event.name + ': seat map';
    document.getElementById('title').textContent = event.name;
    grid.style.setProperty('--per-row', String(event.seatsPerRow));
    const fragment = document.createDocumentFragment();
    cells = new Array(event.totalSeats);
    for (let n = 1; n <= event.totalSeats; n++) {
      const cell = document.createElement('i');
      cell.dataset.seat = String(n);
      cell.dataset.status = '';
      cells[n - 1] = cell;
      fragment.append(cell);
    }
    grid.replaceChildren(fragment);
    // One listener for every cell: a seat's title is made when pointed at.
    grid.addEventListener('mouseover', (e) => {
      const n = Number(e.target.dataset.seat);
      if (n) {
        const row = Math.ceil(n / event.seatsPerRow);
        e.target.title = `Seat ${n}, row ${row}, number ${n - (row - 1) * event.seatsPerRow}`;
      }
    });
  }

  function setStatus(n, letter) {
    const cell = cells[n - 1];
    if (cell && cell.dataset.status !== letter) cell.dataset.status = letter;
  }

  function markMine(n, on) {
    const cell = cells[n - 1];
    if (cell) cell.toggleAttribute('data-mine', on);
  }

  function setMine(n, on) {
    if (on === mine.has(n)) return;
    if (on) mine.add(n); else mine.delete(n);
    markMine(n, on);
  }

  // A position is "<ms>-<seq>"; comparePositions orders two.
  function comparePositions(a, b) {
    const [am, as] = a.split('-').map(Number);
    const [bm, bs] = b.split('-').map(Number);
    return am - bm || as - bs;
  }

  function applied(at) {
    position = at;
    body.dataset.position = position;
    body.dataset.changes = String(changes);
    body.dataset.duplicates = String(duplicates);
  }

  // A snapshot resets every seat: the available ones are known; the others
  // are on hold or reserved, and a seat the page knew reserved stays so
  // (a reservation is final).
  function applySnapshot(snapshot) {
    const available = new Uint8Array(cells.length + 1);
    for (const [from, to] of snapshot.available) available.fill(1, from, to + 1);
    for (let n = 1; n <= cells.length; n++) {
      if (available[n]) {
        setStatus(n, 'A');
        setMine(n, false);
      } else if (cells[n - 1].dataset.status !== 'R') {
        setStatus(n, 'T');
      }
    }
    body.dataset.snapshots = String(Number(body.dataset.snapshots) + 1);
    applied(snapshot.position);
  }

  // A message carries whole records, after the position of the last one
  // applied: a change at or before it was applied already (a resent
  // message), and is skipped.
  function applyChanges(message) {
    const since = position;
    for (const change of message.changes) {
      if (since !== '' && comparePositions(change.position, since) <= 0) {
        duplicates++;
        continue;
      }
      const n = change.seat; // a change names its seat by number
      const letter = statusLetters[change.status];
      setStatus(n, letter);
      if (letter !== 'H') {
        setMine(n, false);
      } else if (change.UUID !== '') { // "" when holders are hidden from this page
        setMine(n, change.UUID === uuidField.value);
      }
      changes++;
    }
    applied(message.changes.length ? message.changes[message.changes.length - 1].position : position);
  }

  function streamState(state, text) {
    body.dataset.stream = state;
    statusLine.textContent = text;
  }

  // follow opens the stream. EventSource reconnects by itself with
  // Last-Event-ID after a dropped connection, but gives up for good on an
  // answer that is no stream (a proxy's 502, a 503 of a full instance):
  // then the page opens a new one, resuming with ?after= from the last
  // position applied.
  function follow() {
    const url = new URL('stream', location.href);
    if (position !== '') url.searchParams.set('after', position);
    source = new EventSource(url);
    source.addEventListener('open', () => streamState('live', 'Live'));
    source.addEventListener('snapshot', (e) => applySnapshot(JSON.parse(e.data)));
    source.addEventListener('changes', (e) => applyChanges(JSON.parse(e.data)));
    source.addEventListener('gone', () => {
      source.close();
      streamState('gone', 'The event has been deleted.');
    });
    source.addEventListener('error', () => {
      if (body.dataset.stream === 'gone') return;
      streamState('reconnecting', 'Reconnecting…');
      if (source.readyState === EventSource.CLOSED) setTimeout(resume, reconnectDelay);
    });
  }

  // resume reopens the stream unless the event is gone.
  async function resume() {
    try {
      const res = await fetch(eventURL);
      if (res.status === 404) {
        streamState('gone', 'The event has been deleted.');
        return;
      }
    } catch {
      // Unreachable for now: the stream will tell.
    }
    follow();
  }

  function show(text, code) {
    answer.textContent = text;
    answer.dataset.code = code;
  }

  // send posts a change of the cart and shows its answer, or its error's
  // code; it returns the answer's seats' numbers, or null.
  async function send(op, request) {
    show('…', '');
    let res, reply;
    try {
      res = await fetch(new URL(op, location.href), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(request),
      });
      reply = await res.json();
    } catch (err) {
      show(`${op}: ${err.message}`, 'NETWORK');
      return null;
    }
    if (!res.ok) {
      show(`${op}: ${res.status} ${reply.code}: ${reply.error}`, reply.code);
      return null;
    }
    const seats = reply.seats.map((s) => seatNumber(s.id));
    show(`${reply.message}: ${seats.length ? seats.join(', ') : 'none'}`, 'OK');
    return seats;
  }

  // The answers say which seats are this UUID's: the stream may hide
  // holders.
  document.getElementById('hold').addEventListener('click', async () => {
    const held = await send('hold', { UUID: uuidField.value, bestAvailable: { count: Number(countField.value) } });
    for (const n of held ?? []) setMine(n, true);
  });
  document.getElementById('release').addEventListener('click', async () => {
    const released = await send('release', { UUID: uuidField.value });
    for (const n of released ?? []) setMine(n, false);
  });
  document.getElementById('reserve').addEventListener('click', async () => {
    if (mine.size === 0) {
      show('reserve: this page holds no seats for this UUID', 'NONE_HELD');
      return;
    }
    const ids = [...mine].sort((a, b) => a - b).map((n) => eventId + '.' + n);
    const reserved = await send('reserve', { UUID: uuidField.value, ids });
    for (const n of reserved ?? []) setMine(n, false);
  });

  async function start() {
    let res;
    try {
      res = await fetch(eventURL);
    } catch (err) {
      streamState('error', `The service cannot be reached: ${err.message}`);
      return;
    }
    const reply = await res.json();
    if (!res.ok) {
      streamState(res.status === 404 ? 'not-found' : 'error',
        res.status === 404 ? 'Event not found.' : `${res.status} ${reply.code}: ${reply.error}`);
      return;
    }
    draw(reply);
    streamState('connecting', 'Connecting to the stream…');
    follow();
  }

  start();
})();
