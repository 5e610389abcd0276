// The Images page: library setup, live progress, search, grid, selection, duplicates.
import { api, el, formatBytes, formatDuration, thumb } from "./api.js";
import { Viewer } from "./viewer.js";

const KEYWORDS = ["rating", "random", "file-size", "proportion", "resolution", "similarity", "date",
  "duplicates", "stacks", "rate-next"];
const VIEWS = ["duplicates", "stacks", "rate-next"];  // each replaces the whole query
const SORTS = KEYWORDS.slice(0, 7);
const PER_PAGE = 60;

function urlState() {
  const p = new URLSearchParams(location.search);
  return {
    q: p.get("q") || "",
    page: Math.max(1, parseInt(p.get("page") || "1", 10) || 1),
    seed: p.get("seed") || "",
    order: p.get("order") === "asc" ? "asc" : "desc",
  };
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

// "July 2023" from the capture time as the camera's clock showed it; "No date" when unknown.
function monthOf(takenAt) {
  const match = /^(\d{4})-(\d{2})/.exec(takenAt || "");
  return match ? `${MONTHS[parseInt(match[2], 10) - 1]} ${match[1]}` : "No date";
}

export class ImagesPage {
  constructor() {
    this.items = [];
    this.selected = new Set();
    this.lastClicked = null;
    this.viewer = new Viewer(this);
    this.libraryFilled = false;
    this.wired = false;
  }

  wire() {
    if (this.wired) return;
    this.wired = true;
    document.getElementById("library-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.saveLibrary();
    });
    document.getElementById("search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.navigate({ q: document.getElementById("search-input").value.trim(), page: 1 });
    });
    document.getElementById("order-toggle").addEventListener("click", () => {
      const state = urlState();
      this.navigate({ ...state, order: state.order === "asc" ? "desc" : "asc", page: 1 });
    });
    const bar = document.getElementById("keywords");
    for (const word of KEYWORDS) {
      bar.append(el("button", { type: "button", "data-testid": `keyword-${word}`,
        onclick: () => this.pressKeyword(word) }, word.replace("-", " ")));
    }
    const zone = document.getElementById("search-bar");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      const dropped = e.dataTransfer.files[0];
      if (dropped) this.searchByImage(dropped);
    });
    const scores = document.getElementById("show-scores");
    scores.checked = localStorage.getItem("anagnorisisd-scores") === "1";
    document.body.classList.toggle("show-scores", scores.checked);
    scores.addEventListener("change", () => {
      localStorage.setItem("anagnorisisd-scores", scores.checked ? "1" : "0");
      document.body.classList.toggle("show-scores", scores.checked);
    });
    document.getElementById("bulk-trash").addEventListener("click", () => this.bulkTrash());
    document.getElementById("bulk-move").addEventListener("click", () => this.bulkMove());
    document.getElementById("bulk-clear").addEventListener("click", () => {
      this.selected.clear();
      this.renderSelection();
    });
  }

  enter() {
    this.wire();
    this.load();
  }

  // A keyword button fills in its keyword; any other sort keyword in the box makes way.
  pressKeyword(word) {
    const input = document.getElementById("search-input");
    const words = input.value.split(/\s+/).filter((w) => w && !KEYWORDS.includes(w.toLowerCase()));
    const q = VIEWS.includes(word) ? word : [...words, word].join(" ");
    input.value = q;
    this.navigate({ q, page: 1, seed: word === "random" ? String(Date.now() % 100000) : "" });
  }

  navigate(change) {
    const state = { ...urlState(), ...change };
    const params = new URLSearchParams();
    if (state.q) params.set("q", state.q);
    if (state.page > 1) params.set("page", state.page);
    if (state.seed) params.set("seed", state.seed);
    if (state.order === "asc") params.set("order", "asc");
    history.pushState({}, "", "/" + (params.toString() ? "?" + params : ""));
    this.load();
  }

  async load() {
    const state = urlState();
    document.getElementById("search-input").value = state.q;
    document.getElementById("order-toggle").textContent = state.order === "asc" ? "↑ asc" : "↓ desc";
    document.querySelectorAll("#keywords button").forEach((b) => {
      b.classList.toggle("on", state.q.split(/\s+/).includes(b.dataset.testid.slice(8)));
    });
    const error = document.getElementById("search-error");
    error.textContent = "";
    const q = state.q.trim().toLowerCase();
    const grouped = q === "duplicates" || q === "stacks";
    document.getElementById("duplicates").hidden = !grouped;  // groups replace the grid
    document.getElementById("grid").hidden = grouped;
    document.getElementById("years").hidden = true;
    try {
      if (q === "duplicates") return await this.showDuplicates();
      if (q === "stacks") return await this.showStacks();
      let result;
      if (q === "rate-next") {
        result = await api("/api/rate-next?count=24");
        result.page = 1;
        result.per_page = 24;
      } else {
        const params = new URLSearchParams({ q: state.q, page: state.page, per_page: PER_PAGE,
          order: state.order });
        if (state.seed) params.set("seed", state.seed);
        result = await api("/api/images?" + params);
      }
      this.render(result, state);
    } catch (err) {
      error.textContent = err.body && err.body.token
        ? `${err.message} (at "${err.body.token}")` : err.message;
      this.render({ total: 0, items: [], page: 1, per_page: PER_PAGE }, state);
    }
  }

  render(result, state) {
    this.items = result.items;
    const grid = document.getElementById("grid");
    const byDate = state.q.split(/\s+/).includes("date");
    const cells = [];
    let month = null;
    result.items.forEach((item, index) => {
      const heading = byDate ? monthOf(item.taken_at) : null;
      if (byDate && heading !== month) {
        month = heading;
        cells.push(el("h3", { class: "month", "data-testid": "month-header" }, heading));
      }
      cells.push(this.tile(item, index));
    });
    grid.replaceChildren(...cells);
    this.renderYears(result.years, state);
    // What the grid shows now, so a test (or an extension) can wait for this very render.
    grid.dataset.query = state.q;
    grid.dataset.page = String(state.page);
    grid.dataset.order = state.order;
    const summary = document.getElementById("results-summary");
    summary.textContent = result.total ? `${result.total} images` +
      (state.q ? ` for “${state.q}”` : "") : (state.q ? "No matches." : "No images yet.");
    if (result.unreadable) {  // failed files are not tiles: they are counted, and listed
      summary.append(" · ", el("a", { href: "/status", "data-testid": "unreadable-link" },
        `${result.unreadable} could not be read`));
    }
    const pages = Math.max(1, Math.ceil(result.total / (result.per_page || PER_PAGE)));
    const pager = document.getElementById("pager");
    pager.replaceChildren(
      el("button", { disabled: state.page <= 1, "data-testid": "page-prev",
        onclick: () => this.navigate({ page: state.page - 1 }) }, "‹ Previous"),
      el("span", {}, `page ${state.page} of ${pages}`),
      el("button", { disabled: state.page >= pages, "data-testid": "page-next",
        onclick: () => this.navigate({ page: state.page + 1 }) }, "Next ›"),
    );
    this.renderSelection();
  }

  // A date-sorted grid gets a bar of years, each a jump to the page where it begins.
  renderYears(years, state) {
    const bar = document.getElementById("years");
    bar.hidden = !years || years.length < 2;
    bar.replaceChildren(...(years || []).map((y) => el("button", { type: "button",
      "data-testid": `year-${y.year}`, title: `${y.count} images`,
      class: y.page === state.page ? "on" : "",
      onclick: () => this.navigate({ page: y.page }) }, String(y.year))));
  }

  tile(item, index) {
    const model = item.model_rating == null ? "–" : item.model_rating.toFixed(1);
    const node = el("div", { class: "tile", "data-testid": "result-tile", "data-id": item.id,
      title: item.path },
      el("input", { type: "checkbox", class: "select", "aria-label": "select",
        onclick: (e) => { e.stopPropagation(); this.toggle(index, e.shiftKey); } }),
      el("img", { src: thumb(item.id), loading: "lazy", alt: item.path || "" }),
      el("div", { class: "meta" },
        el("span", { class: "name" }, (item.path || "").split("/").pop()),
        el("span", { "data-testid": "tile-ratings" },
          `you: ${item.user_rating ?? "–"} · model: `,
          el("span", { class: item.model_rating_stale ? "stale" : "",
            title: item.model_rating_stale ? "from an older model: retrain to refresh" : "" },
            model + (item.model_rating_stale ? " (stale)" : ""))),
        el("span", {}, `${formatBytes(item.file_size)} · ${item.width}×${item.height}`),
        item.score == null ? null : el("span", { class: "score", "data-testid": "tile-score" },
          `score ${item.score.toFixed(3)}`)));
    node.addEventListener("click", (e) => {
      if (e.shiftKey || e.ctrlKey || e.metaKey) this.toggle(index, e.shiftKey);
      else this.viewer.open(index);
    });
    if (this.selected.has(item.id)) node.classList.add("selected");
    return node;
  }

  // Click selects one; shift-click selects the range from the last one clicked.
  toggle(index, range) {
    const ids = this.items.map((i) => i.id);
    if (range && this.lastClicked !== null) {
      const [a, b] = [this.lastClicked, index].sort((x, y) => x - y);
      ids.slice(a, b + 1).forEach((id) => this.selected.add(id));
    } else if (this.selected.has(ids[index])) {
      this.selected.delete(ids[index]);
    } else {
      this.selected.add(ids[index]);
    }
    this.lastClicked = index;
    this.renderSelection();
  }

  renderSelection() {
    document.querySelectorAll("#grid .tile").forEach((tile) => {
      const on = this.selected.has(tile.dataset.id);
      tile.classList.toggle("selected", on);
      tile.querySelector(".select").checked = on;
    });
    document.getElementById("selection-bar").hidden = this.selected.size === 0;
    document.getElementById("selection-count").textContent = `${this.selected.size} selected`;
  }

  selectedFiles() {
    return this.items.filter((i) => this.selected.has(i.id))
      .flatMap((i) => (i.paths || [i.path]).map((path) => ({ id: i.id, path })));
  }

  async bulkTrash() {
    const files = this.selectedFiles();
    if (!files.length || !confirm(`Move ${files.length} file(s) to the trash?`)) return;
    const result = await api("/api/files/trash", { method: "POST", body: { files } });
    this.flash(`Moved ${result.trashed.length} file(s) to ${result.trash}` +
      (result.failed.length ? `; ${result.failed.length} failed` : ""));
    this.selected.clear();
    setTimeout(() => this.load(), 800);
  }

  async bulkMove() {
    const files = this.selectedFiles();
    const folder = files.length && prompt("Move to which folder inside the library?");
    if (!folder) return;
    try {
      const result = await api("/api/files/move", { method: "POST",
        body: { files, destination: folder } });
      this.flash(`Moved ${result.moved.length} file(s)`);
      this.selected.clear();
      setTimeout(() => this.load(), 800);
    } catch (err) {
      this.flash(err.message);
    }
  }

  flash(text) {
    document.getElementById("library-message").textContent = text;
  }

  async searchByImage(blob) {
    const error = document.getElementById("search-error");
    try {
      const result = await api(`/api/search/by-image?per_page=${PER_PAGE}`, { method: "POST",
        raw: blob });
      this.render(result, { ...urlState(), q: "" });
      document.getElementById("results-summary").textContent =
        `Images like ${blob.name || "the dropped image"}`;
    } catch (err) {
      error.textContent = err.message;
    }
  }

  async showDuplicates() {
    const box = document.getElementById("duplicates");
    box.replaceChildren(el("p", {}, "Looking for duplicates…"));
    const result = await api("/api/duplicates");
    document.getElementById("results-summary").textContent =
      `${result.total} groups of duplicates (similarity ≥ ${result.threshold})`;
    document.getElementById("pager").replaceChildren();
    box.replaceChildren(...result.groups.map((group) => {
      const keeper = group.keeper;
      const rest = group.files.filter((f) => !(f.id === keeper.id && f.path === keeper.path));
      return el("div", { class: "panel", "data-testid": "duplicate-group" },
        el("p", {}, `${group.kind === "exact" ? "Exact copies" : "Near-duplicates"} · keep ${keeper.path.split("/").pop()}: ${group.reason}`),
        el("div", { class: "group" }, ...group.files.map((f) => el("div", {
          class: "tile" + (f.id === keeper.id && f.path === keeper.path ? " keeper" : ""),
          title: f.path },
          el("img", { src: thumb(f.id), alt: f.path }),
          el("div", { class: "meta" }, el("span", { class: "name" }, f.path.split("/").pop()),
            el("span", {}, `${f.width}×${f.height} · ${formatBytes(f.file_size)}`))))),
        el("button", { "data-testid": "dup-keep", onclick: async (e) => {
          if (!confirm(`Keep ${keeper.path.split("/").pop()} and move ${rest.length} other file(s) to the trash?`)) return;
          e.target.disabled = true;
          const done = await api("/api/files/trash", { method: "POST", body: { files: rest } });
          this.flash(`Moved ${done.trashed.length} file(s) to ${done.trash}`);
          setTimeout(() => this.load(), 1500);
        } }, "Keep the suggested one, trash the rest"));
    }));
  }

  async showStacks() {
    const box = document.getElementById("duplicates");
    box.replaceChildren(el("p", {}, "Looking for stacks…"));
    const result = await api("/api/stacks");
    const summary = document.getElementById("results-summary");
    summary.textContent = result.total ? `${result.total} stacks of shots taken moments apart`
      : (result.needs_model ? "Stacks need a CLIP model: run “anagnorisisd model pull” to install one."
        : "No stacks: no shots taken moments apart look alike.");
    document.getElementById("pager").replaceChildren();
    const details = await Promise.all(result.stacks.map((s) =>
      Promise.all(s.members.map((id) => api(`/api/images/${id}`)))));
    box.replaceChildren(...result.stacks.map((stack, n) => el("div", { class: "panel",
      "data-testid": "stack" },
      el("p", { "data-testid": "stack-reason" }, `${stack.members.length} shots · keep ` +
        `${details[n].find((d) => d.id === stack.keeper).path.split("/").pop()}: ${stack.reason}`),
      el("div", { class: "group" }, ...details[n].map((d) => el("div", {
        class: "tile" + (d.id === stack.keeper ? " keeper" : ""), title: d.path },
        el("img", { src: thumb(d.id), alt: d.path }),
        el("div", { class: "meta" }, el("span", { class: "name" }, d.path.split("/").pop()),
          el("span", {}, `you: ${d.user_rating ?? "–"} · sharpness ${d.sharpness == null ? "–" : Math.round(d.sharpness)}`))))))));
  }

  async saveLibrary() {
    const paths = document.getElementById("library-path").value.split(";")
      .map((p) => p.trim()).filter(Boolean);
    const message = document.getElementById("library-message");
    try {
      const result = await api("/api/library", { method: "PUT", body: { paths } });
      message.textContent = `Saved. Watching ${result.paths.join(", ")}; indexing starts now.`;
      message.className = "message";
    } catch (err) {
      message.textContent = err.message;
      message.className = "error";
    }
  }

  onStatus(status) {
    if (!this.libraryFilled) {
      this.libraryFilled = true;
      document.getElementById("library-path").value = status.library.paths.join("; ");
    }
    const box = document.getElementById("progress");
    const rows = Object.entries(status.stages).map(([name, s]) => {
      const total = s.done + s.pending + s.failed;
      const pct = total ? (100 * (s.done + s.failed)) / total : 100;
      return el("div", { class: "stage", "data-testid": `progress-${name}` },
        el("span", {}, name),
        el("div", { class: "bar" }, el("div", { style: `width:${pct.toFixed(1)}%` })),
        el("span", { class: "numbers" }, `${s.done + s.failed}/${total}` +
          (s.pending && s.rate_per_s ? ` · ${s.rate_per_s}/s · ETA ${formatDuration(s.eta_s)}` : "")));
    });
    const pending = status.files.pending;
    const index = status.index || {};
    const model = status.model || {};
    box.replaceChildren(...[
      el("div", { "data-testid": "progress-summary", "data-state": pending ? "working" : "done" },
        pending ? `Indexing: ${status.files.done + status.files.failed} of ${status.files.total} files`
          : `All ${status.files.total} files processed` +
            (status.files.failed ? ` (${status.files.failed} failed)` : "")),
      ...rows,
      el("div", { class: "stage" }, el("span", {}, "index"),
        el("span", {}, `${index.items ?? 0} indexed + ${index.fresh ?? 0} new`),
        el("span", { class: "numbers" }, index.age_s != null ? `built ${formatDuration(index.age_s)} ago` : "")),
      model.problem ? el("p", { class: "error" }, `Model: ${model.problem}`) : null,
      status.library.missing.length ? el("p", { class: "error" },
        `Not found (watching for it): ${status.library.missing.join(", ")}`) : null,
    ].filter(Boolean));
  }
}
