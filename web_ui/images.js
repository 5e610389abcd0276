// The Images page: library setup, live progress, search, grid, selection, duplicates.
import { tell } from "./hooks.js";
import { api, el, formatBytes, plural, quoted, report, thumb, toast } from "./api.js";
import { Compare } from "./compare.js";
import { CullView, restoreUndo, reviewQueue, trashWithUndo } from "./cull.js";
import { renderProgress } from "./progress.js";
import { Viewer } from "./viewer.js";

// The sort words come from the daemon's vocabulary (GET /api/vocabulary: every feature's
// words); the views are the panel's own and each replaces the whole query.
const VIEWS = ["duplicates", "stacks", "cull", "rate-next"];
const GROUPED = ["duplicates", "stacks", "cull"];  // these show groups instead of the grid
let KEYWORDS = [...VIEWS];
const WHOLE = ["bracket", "panorama"];  // stacks kept whole: shown as a set, never culled
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
    this.compare = new Compare(this);
    this.cull = new CullView(this);
    this.libraryFilled = false;
    this.wired = false;
    this.stackOf = null;  // image id -> its stack, when the grid groups stacks
    this.seenLibrary = null;  // what the last status said the library holds
    this.refreshWanted = false;  // reload when the library next changes (after a trash)
    this.lastResult = { total: 0, items: [] };
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
    this.loadVocabulary();
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
    const stacks = document.getElementById("group-stacks");
    stacks.checked = localStorage.getItem("anagnorisisd-stacks") === "1";
    stacks.addEventListener("change", () => {
      localStorage.setItem("anagnorisisd-stacks", stacks.checked ? "1" : "0");
      this.load();
    });
    restoreUndo();
    document.getElementById("bulk-trash").addEventListener("click", () => this.bulkTrash());
    document.getElementById("bulk-move").addEventListener("click", () => this.bulkMove());
    document.getElementById("bulk-mark").addEventListener("click", () => this.bulkMark());
    document.getElementById("tag-filter").addEventListener("change", (e) => {
      const name = e.target.value;
      e.target.value = "";
      if (!name) return;
      const q = document.getElementById("search-input").value.trim();
      this.navigate({ q: [q, `tag:${quoted(name)}`].filter(Boolean).join(" "), page: 1 });
    });
    document.getElementById("bulk-clear").addEventListener("click", () => {
      this.selected.clear();
      this.renderSelection();
    });
  }

  enter() {
    this.wire();
    this.load();
    this.loadTags();
  }

  // The tag list beside the search box and the concepts the selection can be marked as.
  async loadTags() {
    let tags, concepts;
    try {
      [tags, concepts] = await Promise.all([api("/api/tags"), api("/api/concepts")]);
    } catch {
      return;  // the search still works without the lists
    }
    const filter = document.getElementById("tag-filter");
    filter.replaceChildren(el("option", { value: "" }, tags.tags.length ? "Tags…" : "No tags yet"),
      ...tags.tags.slice(0, 500).map((t) => el("option", { value: t.name },
        `${t.name.split("|").join(" › ")} (${t.count}${t.source === "concept" ? ", yours" : ""})`)));
    // With no concept yet there is nothing to pick: the pickers make way for a way to make one.
    const none = !concepts.concepts.length;
    for (const [select, button] of [["mark-concept", "bulk-mark"], ["viewer-concept", "viewer-mark"]]) {
      document.getElementById(select).replaceChildren(
        ...concepts.concepts.map((c) => el("option", { value: c.id }, c.name)));
      document.getElementById(select).hidden = none;
      document.getElementById(button).hidden = none;
    }
    document.getElementById("viewer-concept-new").hidden = !none;
  }

  async bulkMark() {
    const concept = document.getElementById("mark-concept").value;
    const ids = [...this.selected];
    if (!concept || !ids.length) return;
    try {
      const done = await api(`/api/concepts/${concept}/answers`,
        { method: "POST", body: { images: ids, answer: "yes" } });
      toast(`${plural(done.recorded, "photo")} marked as ` +
        document.getElementById("mark-concept").selectedOptions[0].text, "info");
      this.selected.clear();
      this.renderSelection();
      this.loadTags();
    } catch (err) {
      report(err);
    }
  }

  // The words of every feature: a button for each sort word (and each view), the search
  // box's suggestions, and a table of every word with its help line.
  async loadVocabulary() {
    let words = [];
    try {
      words = (await api("/api/vocabulary")).words;
    } catch (err) {
      report(err);
    }
    const sorts = words.filter((w) => w.kind === "sort").map((w) => w.word);
    KEYWORDS = [...sorts, ...VIEWS];
    document.getElementById("keywords").replaceChildren(...KEYWORDS.map((word) =>
      el("button", { type: "button", "data-testid": `keyword-${word}`,
        onclick: () => this.pressKeyword(word) }, word.replace("-", " "))));
    document.getElementById("query-words").replaceChildren(...words
      .filter((w) => w.kind !== "sort").map((w) => el("option", { value: w.word }, w.help)));
    document.getElementById("query-help-body").replaceChildren(...words.map((w) =>
      el("tr", {}, el("td", {}, el("code", {}, w.word)), el("td", {}, w.help),
        el("td", {}, w.feature))));
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
    this.scrollToYear = null;
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
    const grouped = GROUPED.includes(q);
    document.getElementById("duplicates").hidden = !grouped;  // groups replace the grid
    document.getElementById("grid").hidden = grouped;
    document.getElementById("years").hidden = true;
    document.getElementById("grid").setAttribute("aria-busy", "true");
    try {
      if (q === "duplicates") return await this.showDuplicates();
      if (q === "stacks") return await this.showStacks();
      if (q === "cull") return await this.cull.show();
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
      this.stackOf = document.getElementById("group-stacks").checked && q !== "rate-next"
        ? await this.stackIndex() : null;
      this.render(result, state);
      tell("resultsShown", state.q, result);
    } catch (err) {
      error.textContent = err.body && err.body.token
        ? `${err.message} (at "${err.body.token}")` : err.message;
      if (grouped) document.getElementById("duplicates").replaceChildren();
      else this.render({ total: 0, items: [], page: 1, per_page: PER_PAGE }, state);
    } finally {
      document.getElementById("grid").removeAttribute("aria-busy");
    }
  }

  // Which stack each image belongs to, for showing a stack as one tile.
  async stackIndex() {
    const result = await api("/api/stacks");
    const index = new Map();
    for (const stack of result.stacks) for (const id of stack.members) index.set(id, stack);
    return index;
  }

  render(result, state) {
    this.lastResult = result;
    this.items = result.items;
    const grid = document.getElementById("grid");
    const byDate = state.q.split(/\s+/).includes("date");
    const cells = [];
    let month = null;
    const shownStacks = new Set();
    result.items.forEach((item, index) => {
      const stack = this.stackOf && this.stackOf.get(item.id);
      if (stack && shownStacks.has(stack)) return;  // the stack's tile stands for it
      const heading = byDate ? monthOf(item.taken_at) : null;
      if (byDate && heading !== month) {
        month = heading;
        cells.push(el("h3", { class: "month", "data-testid": "month-header",
          "data-year": (item.taken_at || "").slice(0, 4) }, heading));
      }
      if (stack) shownStacks.add(stack);
      // words searched by meaning: a line after the strong matches, before the rest
      const first = (state.page - 1) * (result.per_page || PER_PAGE) + index;
      if (result.strong != null && first === result.strong && first > 0) {
        cells.push(el("p", { class: "strong-end", "data-testid": "strong-end" },
          `Above: ${plural(result.strong, "strong match", "strong matches")}. Below: the ` +
          "nearest of the rest, " +
          "less and less likely."));
      }
      cells.push(this.tile(item, index, stack));
    });
    grid.replaceChildren(...cells);
    this.renderYears(result.years, state);
    // A year chosen in the bar: its first heading in view, on this render and on the live
    // refreshes after it, until the person scrolls or goes elsewhere.
    this.keepYearInView();
    // What the grid shows now, so a test (or an extension) can wait for this very render.
    grid.dataset.query = state.q;
    grid.dataset.page = String(state.page);
    grid.dataset.order = state.order;
    this.renderSummary(result, state);
    this.renderPager(result, state);
    this.renderSelection();
  }

  renderSummary(result, state) {
    const summary = document.getElementById("results-summary");
    const indexing = this.seenLibrary && this.seenLibrary.pending;
    summary.textContent = result.total ? plural(result.total, "image") +
      (state.q ? ` for “${state.q}”` : "") : result.notice ? "" : state.q ? "No matches."
      : indexing ? "Indexing: images appear here as they are read." : "No images yet.";
    if (result.total && result.strong != null) {  // a search by meaning ranks everything
      summary.replaceChildren(el("strong", { "data-testid": "strong-count" },
        result.strong ? `${plural(result.strong, "strong match", "strong matches")}`
          : "No strong match"), ` for “${state.q}”, first; then the ` +
        `${plural(result.total - result.strong, "other image")} by likeness`);
    }
    if (result.notice) summary.append(el("span", { "data-testid": "notice" },
      (result.total ? " · " : "") + result.notice));
    clearTimeout(this.laterTimer);
    if (result.later) {  // an order still being worked out: asked again until it is given
      this.laterTimer = setTimeout(() => this.load(), 2000);
    }
    if (result.unreadable) {  // failed files are not tiles: they are counted, and listed
      summary.append(" · ", el("a", { href: "/status", "data-testid": "unreadable-link" },
        `${result.unreadable} could not be read`));
    }
  }

  renderPager(result, state) {
    const pages = Math.max(1, Math.ceil(result.total / (result.per_page || PER_PAGE)));
    const pager = document.getElementById("pager");
    pager.replaceChildren(
      el("button", { disabled: state.page <= 1, "data-testid": "page-prev",
        onclick: () => this.navigate({ page: state.page - 1 }) }, "‹ Previous"),
      el("span", {}, `page ${state.page} of ${pages}`),
      el("button", { disabled: state.page >= pages, "data-testid": "page-next",
        onclick: () => this.navigate({ page: state.page + 1 }) }, "Next ›"),
    );
  }

  // A date-sorted grid gets a bar of years, each a jump to the page where it begins.
  renderYears(years, state) {
    const bar = document.getElementById("years");
    bar.hidden = !years || years.length < 2;
    bar.replaceChildren(...(years || []).map((y) => el("button", { type: "button",
      "data-testid": `year-${y.year}`, title: `${y.count} images`,
      class: y.page === state.page ? "on" : "",
      onclick: () => {
        this.navigate({ page: y.page });
        this.scrollToYear = { year: String(y.year), page: y.page };
        const forget = () => { this.scrollToYear = null; };
        for (const event of ["wheel", "touchmove", "keydown"]) {
          addEventListener(event, forget, { once: true });
        }
      } }, String(y.year))));
  }

  // The chosen year's first heading sits just below the sticky header, not under it, and
  // stays there while the progress line above the grid grows or shrinks (a layout shift
  // that no render follows), until the person scrolls, types or goes elsewhere.
  keepYearInView() {
    const pin = this.scrollToYear;
    if (!pin || pin.page !== urlState().page) return;
    const heading = document.querySelector(`#grid h3.month[data-year="${pin.year}"]`);
    if (!heading) return;
    const below = document.querySelector("header.top").getBoundingClientRect().bottom;
    scrollBy(0, heading.getBoundingClientRect().top - below - 8);
    if (!this.yearObserver) {
      this.yearObserver = new ResizeObserver(() => this.keepYearInView());
      this.yearObserver.observe(document.getElementById("main"));
    }
  }

  // A tile is a button (Enter or Space opens it) beside a labelled checkbox; a stack's tile
  // carries the count and opens the compare view instead.
  tile(item, index, stack) {
    const model = item.model_rating == null ? "–" : item.model_rating.toFixed(1);
    const name = (item.path || "").split("/").pop();
    const open = (e) => {
      if (e.shiftKey || e.ctrlKey || e.metaKey) this.toggle(index, e.shiftKey);
      else if (stack) this.openStack(stack);
      else this.viewer.open(index);
    };
    const node = el("div", { class: "tile" + (stack ? " stack" : ""), "data-testid": stack
      ? "stack-tile" : "result-tile", "data-id": item.id, title: item.path },
      el("input", { type: "checkbox", class: "select", "aria-label": `Select ${name}`,
        onclick: (e) => { e.stopPropagation(); this.toggle(index, e.shiftKey); } }),
      stack ? el("span", { class: "count", "data-testid": "stack-count" },
        `${stack.members.length} shots`) : null,
      el("button", { type: "button", class: "open", onclick: open,
        title: stack ? `Compare the ${stack.members.length} shots` : `Open ${name}` },
      el("img", { src: thumb(item.id), loading: "lazy", alt: "" }),
      el("div", { class: "meta" },
        el("span", { class: "name" }, name),
        el("span", { "data-testid": "tile-ratings" },
          `you: ${item.user_rating ?? "–"} · model: `,
          el("span", { class: item.model_rating_stale ? "stale" : "",
            title: item.model_rating_stale ? "from an older model: retrain to refresh" : "" },
            model + (item.model_rating_stale ? " (stale)" : ""))),
        el("span", {}, `${formatBytes(item.file_size)} · ${item.width}×${item.height}`),
        item.score == null ? null : el("span", { class: "score", "data-testid": "tile-score" },
          `score ${item.score.toFixed(3)}`),
        item.matched_text ? el("span", { class: "said", "data-testid": "tile-text",
          title: "found by the words in it" }, `“${item.matched_text.join(" / ")}”`) : null,
        item.asked ? el("span", { class: "asked" }, `asked: ${item.asked}`) : null)));
    if (this.selected.has(item.id)) node.classList.add("selected");
    return node;
  }

  async openStack(stack) {
    try {
      const queue = await reviewQueue();
      const at = queue.groups.findIndex((g) => g.members.includes(stack.members[0]));
      if (at < 0) return report(new Error("that stack has changed since; reload to see it"));
      this.compare.open(queue.groups, at);
    } catch (err) {
      report(err);
    }
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
    if (!files.length || !confirm(`Move ${plural(files.length, "file")} to the system trash? You can undo this.`)) return;
    try {
      const result = await trashWithUndo(files, "the selection");
      this.selected.clear();
      this.dropFromGrid(result.trashed);
    } catch (err) {
      report(err);
    }
  }

  // Files just moved leave the grid at once; the next change the daemon reports reloads it.
  dropFromGrid(paths) {
    const gone = new Set(paths);
    const before = this.items.length;
    this.items = this.items.filter((i) => !(i.paths || [i.path]).every((p) => gone.has(p)));
    this.render({ ...this.lastResult, items: this.items,
      total: Math.max(0, this.lastResult.total - (before - this.items.length)) }, urlState());
    this.refreshWanted = true;
  }

  async bulkMove() {
    const files = this.selectedFiles();
    const folder = files.length && prompt("Move to which folder inside the library?");
    if (!folder) return;
    try {
      const result = await api("/api/files/move", { method: "POST",
        body: { files, destination: folder } });
      this.flash(`Moved ${plural(result.moved.length, "file")}` + (result.failed.length
        ? `; ${result.failed.length} not: ${result.failed[0].error}` : ""));
      this.selected.clear();
      this.refreshWanted = true;
      this.load();
    } catch (err) {
      report(err);
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
    box.replaceChildren(el("p", { role: "status" }, "Looking for duplicates…"));
    const result = await api("/api/duplicates");
    document.getElementById("results-summary").textContent =
      `${plural(result.total, "group")} of duplicates (similarity ≥ ${result.threshold})`;
    document.getElementById("pager").replaceChildren();
    box.replaceChildren(...result.groups.map((group) => {
      const keeper = group.keeper;
      const rest = group.files.filter((f) => !(f.id === keeper.id && f.path === keeper.path));
      return el("div", { class: "panel", "data-testid": "duplicate-group" },
        el("p", {}, `${group.kind === "exact" ? "Exact copies" : "Near-duplicates"} · keep ${keeper.path.split("/").pop()}: ${group.reason}`),
        el("div", { class: "group" }, ...group.files.map((f) => el("div", {
          class: "tile" + (f.id === keeper.id && f.path === keeper.path ? " keeper" : ""),
          title: f.path },
          el("img", { src: thumb(f.id), alt: "" }),
          el("div", { class: "meta" }, el("span", { class: "name" }, f.path.split("/").pop()),
            el("span", {}, `${f.width}×${f.height} · ${formatBytes(f.file_size)}`))))),
        el("button", { "data-testid": "dup-keep", onclick: async (e) => {
          const bytes = rest.reduce((sum, f) => sum + (f.file_size || 0), 0);
          if (!confirm(`Keep ${keeper.path.split("/").pop()} and move ${plural(rest.length, "other file")} (${formatBytes(bytes)}) to the system trash? You can undo this.`)) return;
          e.target.disabled = true;
          try {
            await trashWithUndo(rest, "duplicates");
            e.target.closest("[data-testid=duplicate-group]").remove();
            this.refreshWanted = true;
          } catch (err) {
            e.target.disabled = false;
            report(err);
          }
        } }, "Keep the suggested one, trash the rest"));
    }));
  }

  async showStacks() {
    const box = document.getElementById("duplicates");
    box.replaceChildren(el("p", { role: "status" }, "Looking for stacks…"));
    const result = await api("/api/stacks");
    const summary = document.getElementById("results-summary");
    summary.textContent = result.total ? `${plural(result.total, "stack")} of shots taken moments apart`
      : (result.notice || "No stacks: no shots taken moments apart look alike.");
    if (result.total && result.notice) {  // the model in use is not fit for this: said here
      summary.append(" · ", el("span", { class: "warning", "data-testid": "notice" }, result.notice));
    }
    document.getElementById("pager").replaceChildren();
    const details = await Promise.all(result.stacks.map((s) =>
      Promise.all(s.members.map((id) => api(`/api/images/${id}`)))));
    box.replaceChildren(...result.stacks.map((stack, n) => {
      const whole = WHOLE.includes(stack.kind);
      const front = details[n].find((d) => d.id === stack.keeper).path.split("/").pop();
      return el("div", { class: "panel", "data-testid": "stack", "data-kind": stack.kind },
        el("p", { "data-testid": "stack-reason" }, `${stack.members.length} shots · ${stack.kind}` +
          ` · ${whole ? "every shot kept" : `keep ${front}`}: ${stack.reason}`),
        el("div", { class: "group" }, ...details[n].map((d) => el("div", {
          class: "tile" + (d.id === stack.keeper ? " keeper" : ""), title: d.path },
          el("img", { src: thumb(d.id), alt: "" }),
          el("div", { class: "meta" }, el("span", { class: "name" }, d.path.split("/").pop()),
            el("span", {}, `you: ${d.user_rating ?? "–"} · sharpness ${d.sharpness == null ? "–" : Math.round(d.sharpness)}`),
            (stack.faults?.[d.id] || []).length ? el("span", { class: "faults",
              "data-testid": "tile-faults" }, stack.faults[d.id].join("; ")) : null)))),
        el("button", { type: "button", "data-testid": "stack-compare",
          onclick: () => (whole ? this.compare.open([{ key: stack.members[0], kind: stack.kind,
            members: stack.members, keep: stack.members, keeper: stack.keeper, whole: true,
            reason: stack.reason, reviewed: true, decisions: {}, faults: stack.faults }], 0)
            : this.openStack(stack)) }, whole ? "Compare" : "Compare and cull"));
    }));
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
    document.getElementById("progress").replaceChildren(...renderProgress(status));
    this.refreshIfChanged(status);
  }

  // The grid fills in as images are indexed, and catches up after a trash or move, without
  // yanking a full page from under the person: only a page with room, or one that asked.
  refreshIfChanged(status) {
    const index = status.index || {};
    const library = { files: status.files.total, done: status.files.done,
      searchable: (index.items ?? 0) + (index.fresh ?? 0), pending: status.files.pending,
      groupings: (status.culling || {}).groupings };
    const before = this.seenLibrary;
    this.seenLibrary = library;
    const q = urlState().q.trim().toLowerCase();
    // a group list also follows the groups themselves, which are made again a moment
    // after the library changes (a photo put back by an undo joins its burst then)
    const regrouped = before && GROUPED.includes(q) && before.groupings !== library.groupings;
    const changed = before && (before.files !== library.files || before.done !== library.done ||
      before.searchable !== library.searchable || regrouped);
    if (!changed || document.getElementById("page-images").hidden) return;
    const dialogs = this.viewer.dialog.open || this.compare.dialog.open;
    const roomOnPage = !GROUPED.includes(q) && q !== "rate-next" &&
      this.items.length < PER_PAGE && !dialogs;
    // A group list (cull, stacks, duplicates) is short and is redrawn whole whenever the
    // library changes: a trash, an undo, a photo indexed into a group.
    const groups = GROUPED.includes(q) && !dialogs;
    if (this.refreshing) {  // one at a time; a change meanwhile is looked at after it
      if (groups) this.refreshWanted = true;
      return;
    }
    if (roomOnPage || groups || this.refreshWanted) {
      this.refreshWanted = false;
      this.refreshing = this.load().finally(() => {
        this.refreshing = null;
        if (this.refreshWanted && groups) {
          this.refreshWanted = false;
          this.refreshing = this.load().finally(() => { this.refreshing = null; });
        }
      });
    } else if (!GROUPED.includes(q) && q !== "rate-next") {
      this.refreshing = this.refreshFullPage().finally(() => { this.refreshing = null; });
    }
  }

  // A full page is not redrawn under the person while photos arrive; what changed is said.
  // The same tiles in the same order are redrawn with their current data; otherwise the
  // count and the pager are brought up to date and a button offers the new page.
  async refreshFullPage() {
    const state = urlState();
    const params = new URLSearchParams({ q: state.q, page: state.page, per_page: PER_PAGE,
      order: state.order });
    if (state.seed) params.set("seed", state.seed);
    let result;
    try {
      result = await api("/api/images?" + params);
    } catch {
      return;  // the next status change tries again
    }
    if (JSON.stringify(urlState()) !== JSON.stringify(state)) return;  // navigated meanwhile
    const same = result.items.length === this.items.length &&
      result.items.every((item, i) => item.id === this.items[i].id);
    const busy = this.viewer.dialog.open || this.compare.dialog.open || this.selected.size;
    if (same && !busy) return this.render(result, state);
    if (same) return;
    this.lastResult = { ...this.lastResult, total: result.total, years: result.years };
    this.renderSummary(this.lastResult, state);
    this.renderPager(this.lastResult, state);
    document.getElementById("results-summary").append(" · ", el("button", {
      type: "button", class: "link", "data-testid": "show-new",
      onclick: () => this.load() }, "show the latest"));
  }
}
