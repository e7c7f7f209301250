// The chat page: the browser's own WebSocket, no framework. Protocol: see src/protocol.ts.
// Everything user-supplied goes into the page as textContent, never as HTML.

const ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const DEFAULT_ROOM = 'lobby';
const NAME_KEY = 'wsup-chat-name';
const ROOMS_KEY = 'wsup-chat-rooms';

// Reconnect delays: "full jitter" between 0 and min(MAX, INITIAL × 2^(n−1)) seconds for the n-th
// attempt in a row, so pages dropped together by a restart do not all come back at once.
const INITIAL_DELAY = 0.5;
const MAX_DELAY = 15;

// Close codes after which reconnecting would only repeat the problem: the user decides.
const FINAL_CODES = new Set([1002, 1003, 1007, 1008, 1009, 4001]);

const CODE_NAMES = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'connection lost',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'server error',
  4001: 'kicked',
};

const $ = (id) => document.getElementById(id);
const ui = {
  roomTitle: $('room-title'),
  me: $('me'),
  status: $('status'),
  banner: $('banner'),
  closeInfo: $('close-info'),
  reconnect: $('reconnect'),
  log: $('log'),
  members: $('members'),
  rooms: $('rooms'),
  roomForm: $('room-form'),
  roomInput: $('room-input'),
  transport: $('transport'),
  composer: $('composer'),
  text: $('text'),
  send: $('send'),
  rename: $('rename'),
  nameDialog: $('name-dialog'),
  nameForm: $('name-form'),
  nameInput: $('name'),
  stats: $('stats'),
  statOpen: $('stat-open'),
  statMessages: $('stat-messages'),
  statRate: $('stat-rate'),
  statSaved: $('stat-saved'),
};

const state = {
  name: localStorage.getItem(NAME_KEY) ?? '',
  room: DEFAULT_ROOM,
  /** @type {WebSocket | null} */
  ws: null,
  joined: false,
  attempt: 0,
  retryTimer: 0,
  /** Ids of the messages shown, so history replayed after a reconnect is not shown twice. */
  seen: new Set(),
};

// ---- connection ----

function chatUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/chat`;
}

function connect() {
  clearTimeout(state.retryTimer);
  if (state.ws && state.ws.readyState <= WebSocket.OPEN) return;
  setStatus('connecting', 'connecting…');
  const ws = new WebSocket(chatUrl());
  state.ws = ws;
  let opened = false;
  ws.addEventListener('open', () => {
    opened = true;
    state.attempt = 0;
    ui.banner.hidden = true;
    setStatus('open', 'connected');
    const code = document.createElement('code');
    code.textContent = ws.extensions || 'off';
    ui.transport.replaceChildren('compression: ', code);
    ui.transport.dataset.extensions = ws.extensions;
    join();
  });
  ws.addEventListener('message', (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return notice(`unreadable message from the server`, 'error');
    }
    receive(msg);
  });
  ws.addEventListener('close', (event) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.joined = false;
    updateComposer();
    ui.members.replaceChildren();
    // A failed attempt says nothing new: the banner keeps showing why the connection ended
    // (the server's code and reason), not the 1006 of every retry while the server is down.
    if (opened) showClose(event.code, event.reason);
    else if (ui.banner.hidden) showBanner('cannot reach the server', event.code, '');
    if (opened && FINAL_CODES.has(event.code)) {
      setStatus('closed', 'disconnected');
    } else {
      scheduleReconnect();
    }
  });
}

function scheduleReconnect() {
  state.attempt += 1;
  const bound = Math.min(MAX_DELAY, INITIAL_DELAY * 2 ** (state.attempt - 1));
  const delay = Math.random() * bound;
  setStatus('waiting', `reconnecting in ${delay.toFixed(1)} s (attempt ${state.attempt})`);
  state.retryTimer = setTimeout(connect, delay * 1000);
}

function reconnectNow() {
  state.attempt = 0;
  connect();
}

function send(msg) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(msg));
  return true;
}

function join() {
  if (!state.name) return;
  send({ type: 'join', room: state.room, name: state.name });
}

// ---- what the server says ----

function receive(msg) {
  switch (msg.type) {
    case 'joined':
      if (msg.room !== state.room) break; // an answer to a join made before the last room change
      state.joined = true;
      state.name = msg.name;
      ui.me.textContent = `you are ${msg.name}`;
      updateComposer();
      for (const m of msg.history) if (!state.seen.has(m.id)) addMessage(m);
      notice(`you joined #${msg.room} as ${msg.name}`);
      showMembers(msg.members);
      break;
    case 'message':
      if (msg.room === state.room && !state.seen.has(msg.id)) addMessage(msg);
      break;
    case 'presence':
      if (msg.room !== state.room) break;
      notice(`${msg.name} ${msg.event === 'join' ? 'joined' : 'left'}`);
      showMembers(msg.members);
      break;
    case 'error':
      notice(`the server refused a message: ${msg.message} (${msg.code})`, 'error');
      break;
  }
}

// ---- rendering ----

function setStatus(name, text) {
  ui.status.dataset.state = name;
  ui.status.textContent = text;
}

function showClose(code, reason) {
  const text = `connection closed: ${code} ${CODE_NAMES[code] ?? 'closed'}${reason ? ` — “${reason}”` : ''}`;
  showBanner(text, code, reason);
  notice(text, 'error');
}

function showBanner(text, code, reason) {
  ui.closeInfo.textContent = text;
  ui.closeInfo.dataset.code = String(code);
  ui.closeInfo.dataset.reason = reason;
  ui.banner.hidden = false;
}

function hue(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function append(li) {
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  ui.log.append(li);
  if (atBottom) li.scrollIntoView({ block: 'end' });
}

function addMessage(m) {
  state.seen.add(m.id);
  const li = document.createElement('li');
  li.className = m.name === state.name ? 'message mine' : 'message';
  li.dataset.id = m.id;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = m.name;
  who.style.color = `hsl(${hue(m.name)} 55% 38%)`;
  const when = document.createElement('time');
  when.dateTime = new Date(m.ts).toISOString();
  when.textContent = new Date(m.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const text = document.createElement('p');
  text.className = 'text';
  text.textContent = m.text;
  li.append(who, when, text);
  append(li);
}

function notice(text, kind = 'info') {
  const li = document.createElement('li');
  li.className = `notice ${kind}`;
  li.textContent = text;
  append(li);
}

function showMembers(names) {
  ui.members.replaceChildren(
    ...names.map((n) => {
      const li = document.createElement('li');
      li.textContent = n;
      return li;
    }),
  );
}

function updateComposer() {
  ui.send.disabled = !state.joined;
}

function savedRooms() {
  try {
    const saved = JSON.parse(localStorage.getItem(ROOMS_KEY) ?? '[]');
    return Array.isArray(saved) ? saved.filter((r) => typeof r === 'string' && ROOM_PATTERN.test(r)) : [];
  } catch {
    return [];
  }
}

/** Keeps the last rooms visited in the sidebar, the default room first. */
function rememberRoom(room) {
  const rooms = [room, ...savedRooms().filter((r) => r !== room)].filter((r) => r !== DEFAULT_ROOM).slice(0, 8);
  localStorage.setItem(ROOMS_KEY, JSON.stringify(rooms));
  ui.rooms.replaceChildren(
    ...[DEFAULT_ROOM, ...rooms].map((r) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `#${r}`;
      a.textContent = `#${r}`;
      if (r === state.room) a.className = 'current';
      li.append(a);
      return li;
    }),
  );
}

// ---- rooms, names, input ----

function roomFromHash() {
  let wanted;
  try {
    wanted = decodeURIComponent(location.hash.slice(1));
  } catch {
    wanted = location.hash.slice(1); // a malformed %-escape
  }
  if (wanted === '') return DEFAULT_ROOM;
  if (ROOM_PATTERN.test(wanted.toLowerCase())) return wanted.toLowerCase();
  notice(`“${wanted}” is not a room name (letters, digits, - and _); staying in #${state.room}`, 'error');
  return null;
}

function enterRoom(room) {
  state.room = room;
  state.seen.clear();
  state.joined = false;
  updateComposer();
  ui.log.replaceChildren();
  ui.members.replaceChildren();
  ui.roomTitle.textContent = `#${room}`;
  document.title = `#${room} · wsup chat`;
  rememberRoom(room);
  join();
}

window.addEventListener('hashchange', () => {
  const room = roomFromHash();
  if (room === null) return history.replaceState(null, '', `#${state.room}`);
  if (room !== state.room) enterRoom(room);
});

ui.roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = ui.roomInput.value.trim().toLowerCase();
  if (!ROOM_PATTERN.test(room)) return notice(`“${room}” is not a room name`, 'error');
  ui.roomInput.value = '';
  location.hash = room;
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (text === '' || !state.joined) return;
  if (send({ type: 'say', text })) ui.text.value = '';
});

ui.text.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.reconnect.addEventListener('click', reconnectNow);
window.addEventListener('online', reconnectNow);

function askName() {
  ui.nameInput.value = state.name;
  ui.nameDialog.showModal();
}

ui.rename.addEventListener('click', askName);
ui.nameDialog.addEventListener('cancel', (event) => {
  if (!state.name) event.preventDefault(); // a name is needed to chat
});
ui.nameForm.addEventListener('submit', () => {
  const name = ui.nameInput.value.trim();
  if (!name) return;
  state.name = name;
  localStorage.setItem(NAME_KEY, name);
  ui.me.textContent = `you are ${name}`;
  if (state.ws) join();
  else connect();
});

// ---- the server's live counters ----

// GET /stats is the server's WebSocket counters (its router's stats()), read once a second: open
// connections, messages in and out (their rate from one reading to the next), and the bytes
// permessage-deflate saved, uncompressed − wire, of all the messages in both directions.
const STATS_INTERVAL = 1000;
let lastStats = null;

async function pollStats() {
  if (!document.hidden) {
    try {
      const res = await fetch('/stats', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      showStats(await res.json(), performance.now());
    } catch {
      ui.stats.dataset.state = 'stale'; // the server is down: the figures stay, greyed
      lastStats = null;
    }
  }
  setTimeout(pollStats, STATS_INTERVAL);
}

function showStats(s, now) {
  const messages = s.messagesIn + s.messagesOut;
  const uncompressed = s.uncompressedBytesIn + s.uncompressedBytesOut;
  const saved = uncompressed - (s.bytesIn + s.bytesOut);
  ui.stats.dataset.state = 'live';
  ui.statOpen.textContent = s.open.toLocaleString('en');
  ui.statOpen.dataset.value = String(s.open);
  ui.statMessages.textContent = messages.toLocaleString('en');
  ui.statMessages.dataset.value = String(messages);
  if (lastStats) {
    const seconds = (now - lastStats.at) / 1000;
    const rate = Math.max(0, messages - lastStats.messages) / seconds;
    ui.statRate.textContent = rate.toFixed(1);
    ui.statRate.dataset.value = String(rate);
  }
  const percent = uncompressed > 0 ? Math.round((saved / uncompressed) * 100) : 0;
  ui.statSaved.textContent = `${(saved / 1024).toFixed(1)} KB (${percent}%)`;
  ui.statSaved.dataset.value = String(saved);
  ui.statSaved.title = `${saved.toLocaleString('en')} of ${uncompressed.toLocaleString('en')} bytes`;
  lastStats = { messages, at: now };
}

// ---- start ----

pollStats();

enterRoom(roomFromHash() ?? DEFAULT_ROOM);
if (location.hash === '') history.replaceState(null, '', `#${DEFAULT_ROOM}`);
if (state.name) {
  ui.me.textContent = `you are ${state.name}`;
  connect();
} else {
  askName();
}
