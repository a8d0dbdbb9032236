// The chat page: joins a room over a WebSocket on the page's own origin,
// shows the room's history and what happens in it, and reconnects with
// exponential backoff (0.5 s doubling up to 10 s, with jitter) when the
// connection drops. The room is in the URL's fragment (#lobby); the name
// is remembered in localStorage.

const $ = (id) => document.getElementById(id);
const statusLine = $("status");
const list = $("messages");

let socket = null;
let attempts = 0;
let retryTimer = null;

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
}

/** Appends a line; text only (never HTML), so nothing a peer sends can run here. */
function show(event, notice) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  const at = new Date(event.at ?? Date.now());
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  item.append(time);
  if (notice === undefined) {
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = event.name;
    item.append(name, event.text);
  } else {
    item.className = "notice";
    item.append(notice);
  }
  list.append(item);
  item.scrollIntoView({ block: "end" });
}

function room() {
  return decodeURIComponent(location.hash.slice(1)) || "lobby";
}

function connect() {
  clearTimeout(retryTimer);
  // At most one connection: a new room or name replaces the current one.
  const previous = socket;
  socket = null;
  previous?.close(1000);
  const name = $("name").value.trim();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/rooms/${encodeURIComponent(room())}?name=${encodeURIComponent(name)}`;
  const ws = new WebSocket(url);
  socket = ws;
  setStatus("connecting", `connecting to ${room()}…`);
  ws.onopen = () => {
    attempts = 0;
  };
  ws.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "welcome") {
      list.replaceChildren();
      for (const past of event.history) show(past);
      show(event, `You joined ${event.room} as ${event.name} (${event.members} here).`);
      setStatus("open", `connected to ${event.room} as ${event.name}`);
    } else if (event.type === "message") {
      show(event);
    } else if (event.type === "join" || event.type === "leave") {
      const verb = event.type === "join" ? "joined" : "left";
      show(event, `${event.name} ${verb} (${event.members} here).`);
    }
  };
  ws.onclose = (close) => {
    if (socket !== ws) return; // Replaced by a newer connection on purpose.
    const delay = Math.min(10_000, 500 * 2 ** attempts) * (0.5 + Math.random() / 2);
    attempts += 1;
    setStatus(
      "reconnecting",
      `disconnected (${close.code}); reconnecting in ${(delay / 1000).toFixed(1)} s…`,
    );
    retryTimer = setTimeout(connect, delay);
  };
}

$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (socket?.readyState !== WebSocket.OPEN || text.trim() === "") return;
  socket.send(JSON.stringify({ type: "say", text }));
  $("text").value = "";
});

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("name", $("name").value.trim());
  const next = `#${encodeURIComponent($("room").value.trim())}`;
  if (location.hash !== next)
    location.hash = next; // hashchange reconnects
  else connect();
});

window.addEventListener("hashchange", () => {
  $("room").value = room();
  attempts = 0;
  connect();
});

$("room").value = room();
const saved = localStorage.getItem("name");
if (saved) {
  $("name").value = saved;
  connect();
} else {
  setStatus("closed", "choose a name, then join");
  $("name").focus();
}
