// The albums feature's part of the panel: an Albums page (covers, counts, smart ones
// marked), "Save this search as an album" under the search box, "Add to album" on the
// grid's selection and in the viewer, and a Memories strip above the Images page's
// results. Loaded by name (Feature.panel), handed the panel's API.

let panel = null;
let albums = [];

const STYLE = `
.albums-grid { list-style: none; padding: 0; display: grid; gap: .8rem;
  grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); }
.album-card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: .5rem; display: grid; gap: .25rem; }
.album-card img, .album-empty { width: 100%; aspect-ratio: 4 / 3; object-fit: cover;
  border-radius: 6px; display: grid; place-items: center; color: var(--muted); }
.album-card a { color: inherit; text-decoration: none; display: grid; gap: .25rem; }
.album-title { font-weight: 600; }
.album-count, .album-query { color: var(--muted); font-size: .85rem; overflow-wrap: anywhere; }
.album-new { display: flex; gap: .5rem; align-items: center; margin: .5rem 0 1rem; }
.memories { display: flex; gap: 1rem; overflow-x: auto; margin: .5rem 0; }
.memory h3 { font-size: .9rem; margin: 0 0 .3rem; }
.memory-items { display: flex; gap: .3rem; }
.memory-items img { width: 96px; height: 72px; object-fit: cover; border-radius: 5px; }
.album-add { display: inline-flex; gap: .3rem; }
`;

async function loadAlbums() {
  albums = (await panel.api("/api/albums")).albums;
  for (const select of document.querySelectorAll("select.album-choice")) fillChoice(select);
  return albums;
}

function fillChoice(select) {
  const manual = albums.filter((a) => !a.smart);
  select.replaceChildren(panel.el("option", { value: "" }, manual.length ? "Album…" : "No album yet"),
    ...manual.map((a) => panel.el("option", { value: a.id }, a.name)),
    panel.el("option", { value: "new" }, "New album…"));
}

// The manual album chosen, made first when the person asked for a new one.
async function chosenAlbum(select) {
  if (select.value !== "new") return albums.find((a) => a.id === select.value);
  const name = prompt("Name of the new album:");
  if (!name) return null;
  const album = await panel.api("/api/albums", { method: "POST", body: { name } });
  await loadAlbums();
  return album;
}

function addControl(testid, label, ids, after) {
  const select = panel.el("select", { class: "album-choice", "data-testid": `${testid}-album`,
    "aria-label": "Album to add to" });
  fillChoice(select);
  const button = panel.el("button", { type: "button", "data-testid": `${testid}-add`,
    onclick: async () => {
      try {
        const album = await chosenAlbum(select);
        const chosen = ids();
        if (!album || !chosen.length) return;
        const after_ = await panel.api(`/api/albums/${album.id}/photos`,
          { method: "POST", body: { add: chosen } });
        panel.toast(`Added ${panel.plural(chosen.length, "photo")} to ${album.name} ` +
          `(${panel.plural(after_.count, "photo")} in it)`, "info");
        select.value = "";
        await loadAlbums();
        if (after) after();
      } catch (err) {
        panel.report(err);
      }
    } }, label);
  return panel.el("span", { class: "album-add" }, select, button);
}

function cover(album) {
  return album.cover
    ? panel.el("img", { src: panel.thumb(album.cover), alt: "", loading: "lazy" })
    : panel.el("div", { class: "album-empty" }, "empty");
}

class AlbumsPage {
  async enter(root) {
    this.root = root;
    await this.draw();
  }

  async draw() {
    const root = this.root;
    try {
      await loadAlbums();
    } catch (err) {
      root.replaceChildren(panel.el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    const form = panel.el("form", { class: "album-new", onsubmit: async (e) => {
      e.preventDefault();
      const name = form.querySelector("input").value.trim();
      if (!name) return;
      try {
        await panel.api("/api/albums", { method: "POST", body: { name } });
        await this.draw();
      } catch (err) {
        panel.report(err);
      }
    } },
    panel.el("label", { for: "album-name" }, "New album "),
    panel.el("input", { id: "album-name", "data-testid": "album-name", maxlength: "200" }),
    panel.el("button", { "data-testid": "album-create" }, "Create"));
    const grid = panel.el("ul", { class: "albums-grid", "data-testid": "albums" },
      ...albums.map((a) => panel.el("li", { class: "album-card", "data-testid": "album-card",
        "data-id": a.id },
      panel.el("a", { href: "/?q=" + encodeURIComponent(`album:${panel.quoted(a.name)}`),
        onclick: (e) => { e.preventDefault(); panel.search(`album:${panel.quoted(a.name)}`); } },
      cover(a), panel.el("span", { class: "album-title" }, a.name)),
      panel.el("span", { class: "album-count", "data-testid": "album-count" },
        panel.plural(a.count, "photo"), a.smart ? " · smart" : ""),
      a.smart ? panel.el("code", { class: "album-query", title: "what it holds, live" },
        a.query) : null,
      a.problem ? panel.el("p", { class: "error" }, a.problem) : null,
      panel.el("button", { type: "button", class: "link", "data-testid": "album-delete",
        "aria-label": `Delete the album ${a.name}`, onclick: async () => {
          if (!confirm(`Delete the album "${a.name}"? Its photos stay where they are.`)) return;
          try {
            await panel.api(`/api/albums/${a.id}`, { method: "DELETE" });
            await this.draw();
          } catch (err) {
            panel.report(err);
          }
        } }, "Delete"))));
    root.replaceChildren(panel.el("h2", {}, "Albums"), form,
      albums.length ? grid : panel.el("p", { class: "hint" },
        "No album yet: create one here, add photos from the grid's selection or the " +
        "viewer, or save a search as a smart album from the Images page."));
  }

  onStatus(status) {
    const refreshes = (status.albums || {}).refreshes;
    if (refreshes === undefined || refreshes === this.refreshes) return;
    this.refreshes = refreshes;
    if (!this.root || document.getElementById("page-albums").hidden) return;
    // not under the person's hands: a name being typed or a button being used stays
    if (this.root.contains(document.activeElement)) return;
    this.draw();
  }
}

// This day in the years before, above the Images page's first page of the whole library.
async function memories(strip) {
  try {
    const { memories: groups } = await panel.api("/api/memories");
    strip.replaceChildren(...groups.slice(0, 5).map((g) => panel.el("section",
      { class: "memory", "data-testid": "memory" },
      panel.el("h3", {}, g.title),
      panel.el("div", { class: "memory-items" }, ...g.items.slice(0, 6).map((item) =>
        panel.el("img", { src: panel.thumb(item.id), alt: `a photo from ${g.year}`,
          loading: "lazy", title: item.stands_for > 1
            ? `stands for ${item.stands_for} near-identical shots` : "" }))))));
    strip.hidden = !groups.length;
  } catch {
    strip.hidden = true;
  }
}

export async function register(api) {
  panel = api;
  document.head.append(panel.el("style", {}, STYLE));
  await loadAlbums().catch(() => []);
  panel.addPage("albums", "Albums", new AlbumsPage());
  const save = panel.el("button", { type: "button", "data-testid": "save-search",
    title: "A smart album holds what this search finds, now and later",
    onclick: async () => {
      const query = panel.query().trim();
      if (!query) {
        panel.toast("Search for something first: the album will hold what it finds.");
        return;
      }
      const name = prompt("Name of the smart album:", query);
      if (!name) return;
      try {
        const album = await panel.api("/api/albums", { method: "POST", body: { name, query } });
        panel.toast(`Saved: ${album.name} holds ${panel.plural(album.count, "photo")} and ` +
          "follows the search from now on", "info");
        await loadAlbums();
      } catch (err) {
        panel.report(err);
      }
    } }, "Save this search as an album");
  panel.addToSearchBar(save);
  panel.addToSelectionBar(addControl("selection", "Add to album", () => panel.selection(),
    () => panel.clearSelection()));
  let shown = null;
  panel.addToViewer(panel.el("p", { class: "viewer-albums" },
    addControl("viewer", "Add to album", () => (shown ? [shown.id] : []))));
  panel.onViewerShown((item) => { shown = item; });
  const strip = panel.el("div", { class: "memories", "data-testid": "memories", hidden: "" });
  panel.addAboveResults(strip);
  panel.onResultsShown((q, result) => {
    if (!q.trim() && result.page === 1) memories(strip);
    else strip.hidden = true;
  });
}
