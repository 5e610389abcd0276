// The Concepts page: words of the person's own ("Rex"), each taught from a few photos.
// The list shows each concept's held-out numbers; a concept's page asks "Is this Rex?"
// about the photos that would teach it most (Y, N, S from the keyboard) and lists its
// suggestions to confirm or reject in bulk (arrows move, space selects, Y or N answers).
import { api, el, quoted, thumb } from "./api.js";

const percent = (x) => (x == null ? "–" : `${Math.round(x * 100)} %`);

function numbers(c) {
  if (c.precision == null) return `${c.examples} example${c.examples === 1 ? "" : "s"}, not trained yet`;
  return `precision ${percent(c.precision)}, recall ${percent(c.recall)} on photos it did ` +
    `not learn from · ${c.examples} example${c.examples === 1 ? "" : "s"}`;
}

export class ConceptsPage {
  enter() {
    const match = location.pathname.match(/^\/concepts\/([0-9a-f]{12})$/);
    return match ? this.showConcept(match[1]) : this.showAll();
  }

  // A training in the background (after answers) changes the numbers and the suggestions:
  // the page shown is redrawn when one finishes, unless the person is choosing suggestions.
  onStatus(status) {
    const trainings = (status.concepts || {}).trainings;
    const before = this.trainings;
    this.trainings = trainings;
    if (before === undefined || trainings === before) return;
    if (document.getElementById("page-concepts").hidden || this.choosing) return;
    this.enter();
  }

  go(path) {
    history.pushState({}, "", path);
    this.enter();
  }

  root() { return document.getElementById("concepts"); }

  fail(err) {
    this.root().replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }

  async showAll() {
    let listing;
    try {
      listing = await api("/api/concepts");
    } catch (err) {
      this.fail(err);
      return;
    }
    const name = el("input", { id: "concept-name", "data-testid": "concept-name",
      placeholder: "Our dog Rex", maxlength: 200, autocomplete: "off" });
    const message = el("p", { class: "message", role: "status", "data-testid": "concept-message" });
    const form = el("form", { class: "row", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const made = await api("/api/concepts", { method: "POST", body: { name: name.value } });
        this.go(`/concepts/${made.id}`);
      } catch (err) {
        message.textContent = err.message;
      }
    } }, el("label", { for: "concept-name", class: "sr-only" }, "A new concept's name"), name,
    el("button", { "data-testid": "concept-new" }, "New concept"));
    const notice = listing.concepts.find((c) => c.notice);
    const items = listing.concepts.map((c) => el("li", { class: "concept", "data-testid": "concept",
      "data-id": c.id },
    el("a", { href: `/concepts/${c.id}`, "data-testid": "concept-link", onclick: (e) => {
      e.preventDefault(); this.go(`/concepts/${c.id}`); } }, c.name),
    el("span", { class: "summary" }, ` · ${numbers(c)} · ${c.suggestions} suggested`),
    el("small", { class: "verdict" }, c.verdict)));
    this.root().replaceChildren(
      el("div", { class: "panel" }, el("h2", {}, "Teach it a word of your own"),
        el("p", { class: "summary" }, "Name a concept, mark a few photos as it (select them " +
          "in the grid, then “Mark as”), and it finds the rest."), form, message),
      notice ? el("p", { class: "warning", "data-testid": "notice" }, `${notice.notice}.`) : "",
      items.length ? el("ul", { class: "concepts", "data-testid": "concept-list" }, ...items)
        : el("p", {}, "No concepts yet."));
  }

  async showConcept(id) {
    let concept;
    try {
      concept = await api(`/api/concepts/${id}`);
    } catch (err) {
      this.fail(err);
      return;
    }
    const examples = (concept.example_ids || []).map((pid) => el("img", { src: thumb(pid),
      alt: `an example of ${concept.name}`, loading: "lazy", class: "example" }));
    const train = el("button", { type: "button", "data-testid": "concept-train", onclick: async () => {
      train.disabled = true;
      try { await api(`/api/concepts/${id}/train`, { method: "POST" }); } catch (err) { this.fail(err); return; }
      this.showConcept(id);
    } }, "Train now");
    this.root().replaceChildren(
      el("p", {}, el("a", { href: "/concepts", onclick: (e) => {
        e.preventDefault(); this.go("/concepts"); } }, "← All concepts")),
      el("h2", { "data-testid": "concept-title" }, concept.name),
      concept.notice ? el("p", { class: "warning", "data-testid": "notice" },
        `${concept.notice}.`) : "",
      el("p", { class: "summary", "data-testid": "concept-numbers" }, numbers(concept), " · ",
        el("a", { href: `/?q=${encodeURIComponent(`tag:${quoted(concept.name)}`)}` }, "its photos")),
      el("p", { class: "verdict", "data-testid": "concept-verdict" }, concept.verdict, " ", train),
      el("h3", {}, "Examples"),
      examples.length ? el("div", { class: "person-photos" }, ...examples)
        : el("p", {}, "None yet: select photos in the grid and use “Mark as”."),
      el("section", { class: "panel ask", "data-testid": "concept-ask", "aria-live": "polite" }),
      el("h3", {}, `Suggestions (${concept.suggestions.length})`),
      this.suggestionGrid(concept));
    this.ask(concept);
  }

  async answer(concept, ids, answer) {
    await api(`/api/concepts/${concept.id}/answers`, { method: "POST", body: { images: ids, answer } });
  }

  // "Is this Rex?": one photo at a time, the one that would teach it most.
  async ask(concept) {
    const box = this.root().querySelector("[data-testid=concept-ask]");
    let next;
    try {
      next = (await api(`/api/concepts/${concept.id}/next?count=1`)).items;
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, err.message));
      return;
    }
    if (!next.length) {
      box.replaceChildren(el("p", {}, "Nothing to ask yet: it asks once it has learned from two examples."));
      return;
    }
    const pid = next[0];
    const reply = async (answer) => {
      await this.answer(concept, [pid], answer);
      this.ask(concept);
    };
    const buttons = [["yes", "Yes (Y)"], ["no", "No (N)"], ["skip", "Skip (S)"]].map(([a, label]) =>
      el("button", { type: "button", "data-testid": `ask-${a}`, onclick: () => reply(a) }, label));
    box.replaceChildren(el("h3", { "data-testid": "ask-question" }, `Is this ${concept.name}?`),
      el("img", { src: thumb(pid), alt: `is this ${concept.name}?`, class: "asked",
        "data-testid": "ask-photo", "data-id": pid }),
      el("div", { class: "row", role: "group", "aria-label": "answer",
        onkeydown: (e) => {
          const a = { y: "yes", n: "no", s: "skip" }[e.key.toLowerCase()];
          if (a) { e.preventDefault(); reply(a); }
        } }, ...buttons));
    buttons[0].focus();
  }

  suggestionGrid(concept) {
    const chosen = new Set();
    const tiles = concept.suggestions.map((pid) => el("li", {},
      el("button", { type: "button", class: "suggestion", "data-testid": "suggestion",
        "data-id": pid, "aria-pressed": "false", "aria-label": `suggested photo, press space to select`,
        onclick: (e) => {
          const on = !chosen.has(pid);
          if (on) chosen.add(pid); else chosen.delete(pid);
          e.currentTarget.setAttribute("aria-pressed", String(on));
          this.choosing = chosen.size > 0;
        } }, el("img", { src: thumb(pid), alt: "", loading: "lazy" }))));
    const list = el("ul", { class: "suggestions", "data-testid": "suggestions" }, ...tiles);
    const act = (answer) => async () => {
      const ids = chosen.size ? [...chosen] : [];
      if (!ids.length) return;
      await this.answer(concept, ids, answer);
      this.choosing = false;
      this.showConcept(concept.id);
    };
    list.addEventListener("keydown", (e) => {
      const buttons = [...list.querySelectorAll("button")];
      const at = buttons.indexOf(document.activeElement);
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const next = buttons[Math.max(0, Math.min(buttons.length - 1, at + (e.key === "ArrowRight" ? 1 : -1)))];
        if (next) next.focus();
      } else if (e.key.toLowerCase() === "y") act("yes")();
      else if (e.key.toLowerCase() === "n") act("no")();
      else return;
      e.preventDefault();
    });
    const all = el("button", { type: "button", "data-testid": "suggestions-all", onclick: () => {
      list.querySelectorAll("button").forEach((b) => { chosen.add(b.dataset.id); b.setAttribute("aria-pressed", "true"); });
      this.choosing = chosen.size > 0;
    } }, "Select all");
    return el("div", {}, el("div", { class: "row" }, all,
      el("button", { type: "button", "data-testid": "suggestions-yes", onclick: act("yes") }, `Confirm selected (Y)`),
      el("button", { type: "button", "data-testid": "suggestions-no", onclick: act("no") }, "Not this (N)")),
    concept.suggestions.length ? list : el("p", {}, "No suggestions yet."));
  }
}
