// One fetch wrapper: JSON in and out, the token (asked for once) on every call.
const TOKEN_KEY = "anagnorisisd-token";

export function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function withToken(url) {
  const t = token();
  if (!t) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(t);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(path, { method = "GET", body, raw } = {}) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["Content-Type"] = raw.type || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  let response = await fetch(path, { method, headers, body: payload });
  // Just after a start the daemon says "still loading" (503 with Retry-After): wait and ask
  // again, a few times, rather than show an error for what is a matter of seconds.
  for (let tries = 0; response.status === 503 && response.headers.get("Retry-After")
       && tries < 30; tries++) {
    await new Promise((done) => setTimeout(done, 1000 * Number(response.headers.get("Retry-After"))));
    response = await fetch(path, { method, headers, body: payload });
  }
  if (response.status === 401) {
    const given = prompt("This anagnorisisd asks for its access token:");
    if (given) {
      localStorage.setItem(TOKEN_KEY, given.trim());
      return api(path, { method, body, raw });
    }
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A name as one query token, quoted and escaped the way the daemon's parser reads it back
// (search/query.py: quoted), so a name with a quote or a backslash still finds its photos.
export function quoted(text) {
  return `"${String(text).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export function thumb(id) { return withToken(`/api/images/${id}/thumbnail`); }
export function file(id) { return withToken(`/api/images/${id}/file`); }
// What a browser can show at `pixels` on the longest side: HEIC, TIFF and RAW come as JPEG.
export function preview(id, pixels) {
  const size = Math.max(1, Math.min(100000, Math.ceil(pixels * (window.devicePixelRatio || 1))));
  return withToken(`/api/images/${id}/preview?size=${size}`);
}

export function formatBytes(n) {
  if (n == null) return "?";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(s) {
  if (s == null || !isFinite(s)) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

// One line at the top of the page for what went wrong (or right) outside any form: a failed
// request never leaves a blank page or a silent button.
// With an `action` ({label, run}), the line carries one button (an Undo) and stays longer.
let toastTimer = null;
export function toast(message, kind = "error", action = null) {
  const box = document.getElementById("toast");
  box.replaceChildren(message);
  if (action) {
    box.append(" ", el("button", { type: "button", class: "link", "data-testid": "toast-action",
      onclick: async () => { box.hidden = true; await action.run(); } }, action.label));
  }
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; },
    kind === "error" || action ? 12000 : 5000);
}

export function report(err) {
  toast(err && err.message ? err.message : String(err));
}

// "3 files (1.2 MB)": what a destructive action is about to touch, said before it does.
export function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}
