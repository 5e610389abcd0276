// The places feature's part of the panel: a Map page (Leaflet, with Natural Earth's
// country outlines shipped with anagnorisisd: no request leaves the machine unless
// [features.places] tile_url is set), clusters computed by the daemon for the window
// shown, a click opening the photos; it follows a search (/map?q=person:Ana). And an
// "On the map" link under the search box for the search shown.

const BASE = "/features/places/vendor/";
let panel = null;
let libraries = null;

function load(tag, attrs) {
  return new Promise((resolve, reject) => {
    const node = document.createElement(tag);
    Object.assign(node, attrs);
    node.onload = resolve;
    node.onerror = () => reject(new Error(`${attrs.src || attrs.href} did not load`));
    document.head.append(node);
  });
}

// Leaflet and topojson-client, once, from the feature's own files.
function libs() {
  libraries ||= Promise.all([
    load("link", { rel: "stylesheet", href: BASE + "leaflet.css" }),
    load("script", { src: BASE + "leaflet.js" }),
    load("script", { src: BASE + "topojson-client.min.js" }),
  ]);
  return libraries;
}

const STYLE = `
.map-page { display: grid; gap: .5rem; }
#places-map { height: min(70vh, 720px); border: 1px solid var(--line); border-radius: 8px;
  background: #a9c7e3; }
.map-cluster { display: grid; place-items: center; }
.map-cluster img { width: 44px; height: 44px; object-fit: cover; border-radius: 50%;
  border: 2px solid #fff; box-shadow: 0 1px 4px #0008; }
.map-cluster span { position: absolute; bottom: -6px; right: -8px; background: #1d2330;
  color: #fff; font: 600 11px/1 system-ui, sans-serif; padding: 3px 5px; border-radius: 9px; }
.map-note { color: var(--muted); font-size: .85rem; margin: 0; }
.map-lacking { display: flex; flex-wrap: wrap; gap: .3rem; align-items: center; }
.map-lacking .map-note { flex-basis: 100%; }
.map-unplaced { padding: 0; border: 2px solid transparent; background: none; cursor: grab; }
.map-unplaced[aria-pressed=true] { border-color: var(--accent-ink); }
.map-unplaced img { width: 64px; height: 48px; object-fit: cover; display: block; }
`;

function boxOf(map) {
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  let west = b.getWest();
  let east = b.getEast();
  if (east - west >= 360) [west, east] = [-180, 180];
  const wrap = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
  return [wrap(west), clamp(b.getSouth(), -90, 90), east - west >= 360 ? 180 : wrap(east),
    clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5));
}

class MapPage {
  async enter(root) {
    const q = new URLSearchParams(location.search).get("q") || "";
    this.q = q;
    const note = panel.el("p", { class: "map-note", "data-testid": "map-note" },
      "Loading the map…");
    const box = panel.el("div", { id: "places-map", "data-testid": "map",
      role: "region", "aria-label": "Map of where the photos were taken" });
    const proposed = panel.el("p", { class: "map-note", "data-testid": "proposals" });
    const lacking = panel.el("div", { class: "map-lacking", "data-testid": "map-lacking" });
    root.replaceChildren(panel.el("div", { class: "map-page" },
      panel.el("h2", {}, q ? `Where: ${q}` : "Where the photos were taken"), note, proposed,
      lacking, box));
    try {
      await libs();
    } catch (err) {
      note.textContent = err.message;
      return;
    }
    const L = window.L;
    if (this.map) this.map.remove();
    const map = L.map(box, { worldCopyJump: true, minZoom: 1, maxZoom: 18 })
      .setView([20, 0], 2);
    this.map = map;
    const world = await panel.api(BASE + "countries-110m.json");
    L.geoJSON(window.topojson.feature(world, world.objects.countries), {
      style: { color: "#6b7280", weight: 0.8, fillColor: "#f1efe8", fillOpacity: 1 },
      interactive: false,
    }).addTo(map);
    map.attributionControl.addAttribution("Natural Earth");
    this.layer = L.layerGroup().addTo(map);
    this.tiles = null;
    map.on("moveend", () => this.draw(note));
    this.placing = null;
    // A photo without a position goes where it is dropped, or where the map is clicked
    // after choosing it (the keyboard's way).
    box.addEventListener("dragover", (e) => e.preventDefault());
    box.addEventListener("drop", (e) => {
      e.preventDefault();
      const id = e.dataTransfer.getData("text/plain");
      if (/^[0-9a-f]{64}$/.test(id)) this.place(id, map.mouseEventToLatLng(e), note, lacking);
    });
    map.on("click", (e) => {
      if (this.placing) this.place(this.placing, e.latlng, note, lacking);
    });
    await this.draw(note);
    await this.offer(proposed, note);
    await this.unplaced(lacking);
  }

  // This search's photos with no position: drag one onto the map, or choose it and click.
  async unplaced(strip) {
    const q = ["-has:gps", this.q].filter(Boolean).join(" ");
    let answer;
    try {
      answer = await panel.api("/api/images?" + new URLSearchParams({ q, per_page: 24 }));
    } catch {
      strip.replaceChildren();
      return;
    }
    if (!answer.total) {
      strip.replaceChildren();
      return;
    }
    strip.replaceChildren(
      panel.el("p", { class: "map-note" }, `${panel.plural(answer.total, "photo")} without ` +
        "a position: drag one onto the map, or choose it and click where it was taken."),
      ...answer.items.map((item) => panel.el("button", { type: "button", draggable: "true",
        class: "map-unplaced", "data-testid": "map-unplaced", "data-id": item.id,
        "aria-pressed": String(this.placing === item.id),
        title: `${item.path}: choose, then click on the map`,
        ondragstart: (e) => e.dataTransfer.setData("text/plain", item.id),
        onclick: (e) => {
          this.placing = this.placing === item.id ? null : item.id;
          strip.querySelectorAll("button").forEach((b) =>
            b.setAttribute("aria-pressed", String(b.dataset.id === this.placing)));
          e.currentTarget.focus();
        } }, panel.el("img", { src: panel.thumb(item.id), alt: item.path.split("/").pop() }))));
  }

  async place(id, latlng, note, strip) {
    const at = latlng.wrap();
    try {
      await panel.api(`/api/images/${id}/place`,
        { method: "PUT", body: { lat: Number(at.lat.toFixed(6)), lon: Number(at.lng.toFixed(6)) } });
      panel.toast("Placed on the map, by hand", "info");
      this.placing = null;
      await this.draw(note);
      await this.unplaced(strip);
    } catch (err) {
      panel.report(err);
    }
  }

  // Photos without a position, taken minutes from the same camera's placed shots: their
  // positions proposed, accepted in one go by the person.
  async offer(line, note) {
    let answer;
    try {
      answer = await panel.api("/api/places/proposals");
    } catch (err) {
      line.textContent = err.message;
      return;
    }
    if (!answer.count) {
      line.replaceChildren();
      return;
    }
    const ids = answer.proposals.map((p) => p.id);
    line.replaceChildren(
      `${panel.plural(answer.count, "photo")} without a position ${answer.count === 1 ? "was" : "were"} ` +
      "taken within minutes of the same camera's placed shots. ",
      panel.el("button", { type: "button", "data-testid": "accept-proposals",
        onclick: async () => {
          try {
            const done = await panel.api("/api/places/proposals",
              { method: "POST", body: { ids } });
            panel.toast(`Placed ${panel.plural(done.filled, "photo")} where their neighbours ` +
              "were", "info");
            await this.draw(note);
            await this.offer(line, note);
          } catch (err) {
            panel.report(err);
          }
        } }, `Place ${answer.count === 1 ? "it" : `all ${answer.count}`} there`));
  }

  async draw(note) {
    const L = window.L;
    const map = this.map;
    const params = new URLSearchParams({ bbox: boxOf(map).join(","), zoom: map.getZoom() });
    if (this.q) params.set("q", this.q);
    let answer;
    try {
      answer = await panel.api("/api/places?" + params);
    } catch (err) {
      note.textContent = err.message;
      return;
    }
    if (answer.tiles && !this.tiles) {
      this.tiles = L.tileLayer(answer.tiles, { attribution: "tiles: " +
        new URL(answer.tiles.replace(/[{}]/g, "")).host }).addTo(map);
    }
    this.layer.clearLayers();
    for (const c of answer.clusters) {
      const icon = L.divIcon({ className: "map-cluster", iconSize: [44, 44],
        html: `<img src="${panel.thumb(c.cover)}" alt=""><span>${c.count}</span>` });
      const marker = L.marker([c.lat, c.lon], { icon, keyboard: true,
        title: `${panel.plural(c.count, "photo")} here`, alt: `${panel.plural(c.count, "photo")}` });
      marker.on("click", () => {
        const limit = [180, 90, 180, 90];
        const [w, s, e, n] = c.bbox.map((v, i) => Math.max(-limit[i], Math.min(limit[i],
          i < 2 ? v - 1e-5 : v + 1e-5)).toFixed(5));
        panel.search([`within:${w},${s},${e},${n}`, this.q].filter(Boolean).join(" "));
      });
      this.layer.addLayer(marker);
    }
    const shown = answer.clusters.reduce((n, c) => n + c.count, 0);
    note.textContent = answer.total
      ? `${panel.plural(shown, "photo")} here, in ${panel.plural(answer.clusters.length, "place")}` +
        (this.tiles ? "" : " · outlines only: no request leaves this machine")
      : "No photo with a position here" + (this.q ? " for this search" : "") +
        ": `anagnorisisd geotag TRACK.gpx` places photos from a GPS track.";
  }
}

export async function register(api) {
  panel = api;
  document.head.append(panel.el("style", {}, STYLE));
  panel.addPage("map", "Map", new MapPage());
  const link = panel.el("a", { href: "/map", "data-testid": "on-the-map",
    onclick: (e) => {
      e.preventDefault();
      const q = panel.query().trim();
      panel.go("/map" + (q ? "?" + new URLSearchParams({ q }) : ""));
    } }, "On the map");
  panel.addToSearchBar(link);
}
