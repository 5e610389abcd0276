// The panel's entry point: one page at a time, chosen by the URL path, live status over SSE.
import { api, withToken } from "./api.js";
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

function pageFor(path) {
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

document.querySelectorAll("header nav a").forEach((a) => {
  a.addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState({}, "", a.getAttribute("href"));
    show();
  });
});
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
  // A row of the feature's own controls under the search box.
  addToSearchBar: (node) => document.getElementById("feature-controls").append(node),
  search: (q) => pages.images.navigate({ q, page: 1 }),
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
      module.register(panelApi);
    } catch (err) {
      console.warn(`the ${name} feature's panel did not load`, err);
    }
  }
}

show();
listen();
loadFeaturePanels();
