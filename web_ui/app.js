// The panel's entry point: one page at a time, chosen by the URL path, live status over SSE.
import { api, el, plural, quoted, report, thumb, toast, withToken } from "./api.js";
import { follow, hooks } from "./hooks.js";
import { ImagesPage } from "./images.js";
import { TrainPage } from "./train.js";
import { PeoplePage } from "./people.js";
import { ConceptsPage } from "./concepts.js";
import { StatusPage } from "./status.js";

const pages = {
  images: new ImagesPage(),
  people: new PeoplePage(),
  concepts: new ConceptsPage(),
  train: new TrainPage(),
  status: new StatusPage(),
};

// Pages a feature's panel module added (panelApi.addPage): path prefix -> page name.
const featurePages = {};

function pageFor(path) {
  for (const [prefix, name] of Object.entries(featurePages)) {
    if (path === prefix || path.startsWith(prefix + "/")) return name;
  }
  if (path.startsWith("/people")) return "people";
  if (path.startsWith("/concepts")) return "concepts";
  if (path.startsWith("/train")) return "train";
  if (path.startsWith("/status")) return "status";
  return "images";
}

let current = null;

export function show(path = location.pathname) {
  const name = pageFor(path);
  for (const [key, page] of Object.entries(pages)) {
    document.getElementById(`page-${key}`).hidden = key !== name;
  }
  document.querySelectorAll("header nav a").forEach((a) => {
    a.classList.toggle("active", a.dataset.page === name);
  });
  current = pages[name];
  current.enter();
}

function wireLink(a) {
  a.addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState({}, "", a.getAttribute("href"));
    show();
  });
}
document.querySelectorAll("header nav a").forEach(wireLink);
window.addEventListener("popstate", () => show());

// One event stream for the whole panel; every page gets each status document.
function listen() {
  const source = new EventSource(withToken("/api/events"));
  source.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    for (const page of Object.values(pages)) page.onStatus(status);
  });
  source.onerror = () => {
    source.close();
    setTimeout(listen, 3000);
  };
}

// What each feature adds to the panel: its own ES module (Feature.panel), imported by name
// and handed what the panel offers. One that fails to load costs itself only.
const panelApi = {
  api, // JSON from the daemon, the token on it where one is set
  el, plural, quoted, report, thumb, toast, // the panel's own small helpers
  withToken, // a URL the browser fetches by itself (an img or video src), with the token
  // A row of the feature's own controls under the search box.
  addToSearchBar: (node) => document.getElementById("feature-controls").append(node),
  search(q) { // the Images page with this search, from whichever page asked
    history.pushState({}, "", "/?" + new URLSearchParams({ q }));
    show();
  },
  query: () => new URLSearchParams(location.search).get("q") || "",
  // A page of its own at /NAME, with a link in the header: `page` has enter(root, path)
  // and may have onStatus(status).
  addPage(name, title, page) {
    const section = el("section", { id: `page-${name}`, class: "page", hidden: "" },
      el("h1", { class: "sr-only" }, title), el("div", { id: `feature-page-${name}` }));
    document.querySelector("main").append(section);
    const link = el("a", { href: `/${name}`, "data-testid": `nav-${name}`, "data-page": name },
      title);
    document.querySelector("header nav a[data-page=status]").before(link);
    wireLink(link);
    featurePages[`/${name}`] = name;
    pages[name] = { enter: () => page.enter(document.getElementById(`feature-page-${name}`),
      location.pathname), onStatus: (status) => page.onStatus && page.onStatus(status) };
  },
  go(path) { history.pushState({}, "", path); show(); },
  // The grid's selection: controls beside its buttons, the ids chosen, clearing it.
  addToSelectionBar: (node) => document.getElementById("bulk-clear").before(node),
  selection: () => [...pages.images.selected],
  clearSelection() { pages.images.selected.clear(); pages.images.renderSelection(); },
  // The viewer: controls under the photo, and a call with each photo it shows.
  addToViewer: (node) => document.getElementById("viewer-lines").before(node),
  onViewerShown: (listener) => hooks.viewerShown.push(listener),
  // Above the results of the Images page, and a call with each page of results drawn.
  addAboveResults: (node) => document.getElementById("results-summary").before(node),
  onResultsShown: (listener) => follow("resultsShown", listener),
};

async function loadFeaturePanels() {
  let features = { panels: {} };
  try {
    const response = await fetch(withToken("/api/features"));
    features = await response.json();
  } catch {
    return;
  }
  for (const [name, file] of Object.entries(features.panels || {})) {
    try {
      const module = await import(withToken(`/features/${name}/${file}`));
      await module.register(panelApi);
    } catch (err) {
      console.warn(`the ${name} feature's panel did not load`, err);
    }
  }
}

// A feature's page (/albums) is known once its module has loaded: shown after it, so a
// reload or a link stays on it; the built-in pages do not wait.
if (pageFor(location.pathname) !== "images" || location.pathname === "/") {
  show();
  loadFeaturePanels();
} else {
  loadFeaturePanels().then(() => show());
}
listen();
