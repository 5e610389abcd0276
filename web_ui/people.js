// The People page: one face per person, the largest first, each name editable in place;
// a person's page shows their photos and their faces, each easy to move out (a button,
// reachable from the keyboard) when it is someone else.
import { api, el, quoted, thumb, withToken } from "./api.js";

function crop(faceId, label) {
  return el("img", { src: withToken(`/api/faces/${faceId}/crop`), alt: label,
    width: 96, height: 96, loading: "lazy" });
}

export class PeoplePage {
  enter() {
    const match = location.pathname.match(/^\/people\/([0-9a-f]{12})$/);
    return match ? this.showPerson(match[1]) : this.showAll();
  }

  onStatus() {}

  go(path) {
    history.pushState({}, "", path);
    this.enter();
  }

  async showAll() {
    const root = document.getElementById("people");
    root.setAttribute("aria-busy", "true");
    let result;
    try {
      result = await api("/api/people");
    } catch (err) {
      root.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    } finally {
      root.removeAttribute("aria-busy");
    }
    const s = result.summary;
    const summary = el("p", { class: "summary", "data-testid": "people-summary" },
      `${result.people.length} people · ${s.grouped} of ${s.faces} faces grouped` +
      (s.grouping.state === "running" ? " · grouping now…" : ""));
    const regroup = el("button", { type: "button", "data-testid": "regroup",
      onclick: async () => {
        try { await api("/api/people/regroup", { method: "POST" }); } catch { /* running */ }
        this.showAll();
      } }, "Group again");
    const cards = result.people.map((p) => this.card(p));
    root.replaceChildren(el("div", { class: "row" }, summary, regroup),
      cards.length ? el("ul", { class: "people-grid", "data-testid": "people-grid" }, ...cards)
        : el("p", {}, s.faces ? "No face is grouped yet." :
          "No faces yet: they appear here as the faces stage reads your photos."));
  }

  card(person) {
    const label = person.name || "Unnamed";
    const input = el("input", { value: person.name || "", placeholder: "Add a name",
      "aria-label": `Name of ${label}, ${person.photos} photos`, "data-testid": "person-name",
      maxlength: 200 });
    const save = async () => {
      if ((input.value.trim() || null) === (person.name || null)) return;
      try {
        const saved = await api(`/api/people/${person.id}`,
          { method: "PUT", body: { name: input.value.trim() || null } });
        person.name = saved.name;
        input.classList.add("saved");
      } catch (err) {
        input.setCustomValidity(err.message);
        input.reportValidity();
      }
    };
    input.addEventListener("change", save);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") save(); });
    return el("li", { class: "person", "data-testid": "person", "data-id": person.id },
      el("a", { href: `/people/${person.id}`, "data-testid": "person-link",
        onclick: (e) => { e.preventDefault(); this.go(`/people/${person.id}`); } },
      person.cover ? crop(person.cover, label) : el("span", { class: "noface" }, "?")),
      input,
      el("small", {}, `${person.photos} photo${person.photos === 1 ? "" : "s"}`));
  }

  async showPerson(id) {
    const root = document.getElementById("people");
    let person;
    try {
      person = await api(`/api/people/${id}`);
    } catch (err) {
      root.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    const name = person.name || "Unnamed person";
    const faces = person.face_list.map((face) => el("li", { class: "face",
      "data-testid": "person-face" }, crop(face.id, `a face of ${name}`),
    el("button", { type: "button", "data-testid": "not-this-person",
      "aria-label": `Not them: this face is not ${name}`,
      onclick: async (event) => {
        await api(`/api/faces/${face.id}`, { method: "PUT", body: { person: null } });
        event.target.closest("li").remove();
      } }, "Not them")));
    const photos = person.photo_ids.map((pid) => el("a", { href: `/?q=similar:${pid}`,
      class: "photo" }, el("img", { src: thumb(pid), alt: `a photo of ${name}`,
      loading: "lazy" })));
    root.replaceChildren(
      el("p", {}, el("a", { href: "/people", onclick: (e) => {
        e.preventDefault(); this.go("/people"); } }, "← All people")),
      el("h2", { "data-testid": "person-title" }, name),
      el("p", { class: "summary" }, `${person.faces} faces in ${person.photos} photos · `,
        el("a", { href: `/?q=${encodeURIComponent(`person:${quoted(person.name || person.id)}`)}` },
          "search their photos")),
      el("h3", {}, "Faces"),
      el("ul", { class: "faces", "data-testid": "person-faces" }, ...faces),
      el("h3", {}, "Photos"),
      el("div", { class: "person-photos" }, ...photos));
  }
}
