// The panel's entry point: one page at a time, chosen by the URL path, live status over SSE.
import { withToken } from "./api.js";
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

show();
listen();
