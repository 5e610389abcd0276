// The compare and cull view: the photos of one group side by side (up to four at a time),
// zoomed and panned together, decided from the keyboard. Every decision and rating is saved
// as it is made, and U takes back the last one.
import { api, el, preview, report } from "./api.js";

const WINDOW = 4;
const MAX_ZOOM = 8;

export class Compare {
  constructor(page) {
    this.page = page;
    this.dialog = document.getElementById("compare");
    this.groups = [];
    this.g = 0;
    this.focus = 0;
    this.details = new Map();
    this.history = [];
    this.changes = 0;  // counts saved changes, so a refresh never overwrites a newer one
    this.zoom = { scale: 1, x: 50, y: 50 };
    document.getElementById("compare-close").onclick = () => this.dialog.close();
    document.getElementById("compare-prev").onclick = () => this.moveGroup(-1);
    document.getElementById("compare-next").onclick = () => this.moveGroup(1);
    document.getElementById("compare-undo").onclick = () => this.undo();
    this.dialog.addEventListener("keydown", (e) => this.key(e));
    this.dialog.addEventListener("close", () => page.load());
    const panes = document.getElementById("compare-panes");
    panes.addEventListener("wheel", (e) => {
      e.preventDefault();
      const img = e.target.closest(".pane")?.querySelector("img");
      if (img) {
        const box = img.getBoundingClientRect();
        this.zoom.x = Math.min(100, Math.max(0, (100 * (e.clientX - box.left)) / box.width));
        this.zoom.y = Math.min(100, Math.max(0, (100 * (e.clientY - box.top)) / box.height));
      }
      this.setZoom(this.zoom.scale * (e.deltaY < 0 ? 1.25 : 0.8));
    }, { passive: false });
  }

  get group() { return this.groups[this.g]; }

  async open(groups, index) {
    this.groups = groups;
    this.g = index;
    this.focus = 0;
    if (!this.dialog.open) this.dialog.showModal();
    await this.showGroup();
  }

  async showGroup() {
    const group = this.group;
    if (!group) return this.dialog.close();
    this.focus = Math.min(this.focus, group.members.length - 1);
    document.getElementById("compare-title").textContent =
      `Group ${this.g + 1} of ${this.groups.length} · ${group.members.length} photos (${group.kind})`;
    try {
      await Promise.all(group.members.filter((id) => !this.details.has(id)).map(async (id) => {
        this.details.set(id, await api(`/api/images/${id}`));
      }));
    } catch (err) {
      report(err);
    }
    this.render();
    this.prefetchAround(this.g);
    if (!group.reviewed && !group.whole) {  // looked at: it leaves the unreviewed queue
      api("/api/cull/seen", { method: "POST", body: { ids: group.members } })
        .then(() => { group.reviewed = true; }).catch(report);
    }
  }

  // The next two groups' (and the previous one's) previews and details are asked for
  // while this one is looked at, so a key press paints them from the browser's cache: a
  // 24 MP photo's preview takes the daemon a few hundred milliseconds to make.
  // One group at a time, after this group's own previews, so none of them waits behind
  // the others: the next, the one after, then the previous.
  async prefetchAround(at) {
    const own = [...document.querySelectorAll("#compare-panes img")];
    await Promise.all(own.map((img) => img.decode().catch(() => {})));
    for (const step of [1, 2, -1]) {
      if (this.g !== at) return;  // moved on: the new group starts its own
      await this.prefetch(at + step);
    }
  }

  async prefetch(index) {
    const group = this.groups[index];
    if (!group || group.prefetched) return;
    group.prefetched = true;
    const size = Math.max(innerWidth, innerHeight);
    await Promise.all(group.members.slice(0, WINDOW).map((id) => {
      const img = new Image();
      img.src = preview(id, size);
      if (!this.details.has(id)) {
        api(`/api/images/${id}`).then((d) => this.details.set(id, d)).catch(() => {});
      }
      return img.decode().catch(() => {});  // a failure shows when the group is opened
    }));
  }

  // What the open view shows at once, before the server's answer: picks, else the suggested
  // keeper unless it was just rejected. refreshGroups() then brings the server's choice.
  keep() {
    const group = this.group;
    const picks = group.members.filter((id) => group.decisions[id] === "pick");
    if (picks.length) return picks;
    return (group.keep || [group.keeper]).filter((id) => id && group.decisions[id] !== "reject");
  }

  // The server chooses keepers (a rating or a reject can change them): take its word for
  // every open group after each change.
  async refreshGroups() {
    const asked = this.changes;
    try {
      const queue = await api("/api/cull");
      if (asked !== this.changes) return;  // a newer change is on its way: its refresh wins
      const fresh = new Map(queue.groups.map((g) => [g.key, g]));
      for (const group of this.groups) {
        const now = fresh.get(group.key);
        if (!now) continue;
        Object.assign(group, { keeper: now.keeper, keep: now.keep, reason: now.reason,
          suggestedReason: now.suggested_reason, decisions: now.decisions });
      }
    } catch (err) {
      report(err);
    }
    this.render();
  }

  render() {
    const group = this.group;
    const start = Math.max(0, Math.min(this.focus - 1, group.members.length - WINDOW));
    const shown = group.members.slice(start, start + WINDOW);
    const keep = this.keep();
    const panes = document.getElementById("compare-panes");
    panes.style.setProperty("--count", shown.length);
    panes.replaceChildren(...shown.map((id, i) => {
      const d = this.details.get(id) || { path: id };
      const decision = group.decisions[id];
      const index = start + i;
      const state = decision === "reject" ? "rejected" : keep.includes(id)
        ? (decision === "pick" ? "picked" : "suggested keeper") : "";
      return el("figure", { class: `pane ${index === this.focus ? "focus" : ""} ${decision || ""}`
          + (keep.includes(id) ? " keep" : ""), "data-testid": "compare-pane", "data-id": id,
          "data-decision": decision || "", onclick: () => { this.focus = index; this.render(); } },
        el("div", { class: "frame" }, el("img", { src: preview(id, Math.max(innerWidth,
          innerHeight)), alt: d.path || id, draggable: "false" })),
        el("figcaption", {},
          el("strong", {}, (d.path || "").split("/").pop()),
          state ? el("span", { class: "badge", "data-testid": "pane-state" }, state) : null,
          el("span", { "data-testid": "pane-rating" }, `you: ${d.user_rating ?? "–"}`),
          el("span", {}, `model: ${d.model_rating == null ? "–" : d.model_rating.toFixed(1)}`),
          el("span", {}, `sharpness ${d.sharpness == null ? "–" : Math.round(d.sharpness)}`),
          el("span", {}, `${d.width}×${d.height}`),
          (group.faults?.[id] || []).length ? el("span", { class: "faults",
            "data-testid": "pane-faults" }, group.faults[id].join("; ")) : null));
    }));
    const names = keep.map((id) => (this.details.get(id)?.path || id).split("/").pop());
    document.getElementById("compare-reason").textContent = group.whole
      ? `Every shot is kept: ${group.reason}` : names.length
        ? `Keep ${names.join(", ")}: ${group.reason}` : `Nothing kept: ${group.reason}`;
    this.applyZoom();
  }

  setZoom(scale) {
    this.zoom.scale = Math.min(MAX_ZOOM, Math.max(1, scale));
    this.applyZoom();
  }

  applyZoom() {  // one transform for every pane: the same spot of each photo, side by side
    const { scale, x, y } = this.zoom;
    const panes = document.getElementById("compare-panes");
    panes.dataset.zoom = scale.toFixed(2);
    panes.querySelectorAll("img").forEach((img) => {
      img.style.transformOrigin = `${x}% ${y}%`;
      img.style.transform = `scale(${scale})`;
    });
  }

  key(e) {
    const k = e.key;
    if (k === "ArrowRight" || k === "ArrowLeft") {
      const next = this.focus + (k === "ArrowRight" ? 1 : -1);
      if (next >= 0 && next < this.group.members.length) { this.focus = next; this.render(); }
    } else if (k === "ArrowDown" || k === "ArrowUp") this.moveGroup(k === "ArrowDown" ? 1 : -1);
    else if (k === "p" || k === "P") this.decide("pick");
    else if (k === "x" || k === "X") this.decide("reject");
    else if (k === "u" || k === "U") this.undo();
    else if (k === "z" || k === "Z") this.setZoom(this.zoom.scale > 1 ? 1 : 3);
    else if (/^[0-9]$/.test(k)) this.rate(Number(k));
    else if (k === "+" || k === "=") this.rate(10);
    else return;
    e.preventDefault();
  }

  moveGroup(step) {
    const next = this.g + step;
    if (next < 0 || next >= this.groups.length) return;
    this.g = next;
    this.focus = 0;
    this.showGroup();
  }

  // P on a picked photo (or X on a rejected one) takes the decision back.
  // The decision shows and joins the undo history as soon as the daemon saved it; the
  // server's keeper and reason follow (refreshGroups), without holding up the next key.
  async decide(decision) {
    const id = this.group.members[this.focus];
    const before = this.group.decisions[id] || null;
    const after = before === decision ? null : decision;
    if (await this.saveDecision(id, after)) {
      this.history.push({ kind: "decision", id, before });
      this.refreshGroups();
    }
  }

  async saveDecision(id, decision) {
    try {
      await api(`/api/images/${id}/decision`, decision === null ? { method: "DELETE" }
        : { method: "PUT", body: { decision } });
    } catch (err) {
      report(err);
      return false;
    }
    for (const group of this.groups) {
      if (!group.members.includes(id)) continue;
      if (decision) group.decisions[id] = decision;
      else delete group.decisions[id];
      const picks = group.members.filter((m) => group.decisions[m] === "pick");
      group.reason = picks.length ? (picks.length === 1 ? "you picked it"
        : `you picked these ${picks.length}`) : group.suggestedReason;
    }
    this.changes += 1;
    this.render();
    return true;
  }

  async rate(value) {
    const id = this.group.members[this.focus];
    const before = this.details.get(id)?.user_rating ?? null;
    if (await this.saveRating(id, value)) {
      this.history.push({ kind: "rating", id, before });
      this.refreshGroups();
    }
  }

  async saveRating(id, value) {
    try {
      const updated = value === null
        ? await api(`/api/images/${id}/rating`, { method: "DELETE" })
        : await api(`/api/images/${id}/rating`, { method: "PUT", body: { rating: value } });
      this.details.set(id, updated);
    } catch (err) {
      report(err);
      return false;
    }
    this.changes += 1;
    this.render();
    return true;
  }

  async undo() {
    const last = this.history.pop();
    if (!last) return;
    const groupIndex = this.groups.findIndex((g) => g.members.includes(last.id));
    if (groupIndex >= 0 && groupIndex !== this.g) {
      this.g = groupIndex;
      await this.showGroup();
    }
    this.focus = Math.max(0, this.group.members.indexOf(last.id));
    const ok = last.kind === "decision" ? await this.saveDecision(last.id, last.before)
      : await this.saveRating(last.id, last.before);
    if (!ok) this.history.push(last);
    else this.refreshGroups();
  }
}
