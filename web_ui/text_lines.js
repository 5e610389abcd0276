// The text read in the viewer's photo, on request (the Text button or T): each line's box
// drawn over the photo, holding the line itself as selectable text (transparent, so the
// photo shows through, but a drag selects it and Ctrl+C copies it), and the lines listed
// under the photo, to read and copy at once.
import { api, el, report } from "./api.js";

export class TextLines {
  constructor(image, button, list) {
    this.image = image;
    this.button = button;
    this.list = list;
    this.on = false;
    this.item = null;
    this.lines = [];
    this.layer = el("div", { class: "face-layer", "data-testid": "text-layer" });
    image.after(this.layer);
    button.onclick = () => this.toggle();
    image.addEventListener("load", () => this.place());
    new ResizeObserver(() => this.place()).observe(image);
  }

  toggle() {
    this.on = !this.on;
    this.button.setAttribute("aria-pressed", String(this.on));
    this.show(this.item);
  }

  async show(item) {
    this.item = item;
    this.lines = [];
    this.layer.replaceChildren();
    this.list.replaceChildren();
    this.list.hidden = !this.on;
    if (!this.on || !item) return;
    let read;
    try {
      read = await api(`/api/images/${item.id}/text`);
    } catch (err) {
      this.list.replaceChildren(el("p", {}, err.message));
      return report(err);
    }
    if (this.item !== item) return;  // moved on meanwhile
    this.lines = read.lines;
    this.layer.replaceChildren(...read.lines.map((line) => el("span", {
      class: "text-box", "data-testid": "text-box", title: line.text }, line.text)));
    const said = {
      pending: "Not read yet: text is read after everything else, when the daemon is idle.",
      failed: `Could not be read: ${read.error}`,
    }[read.state] || (read.lines.length ? null : "No text found in this photo.");
    this.list.replaceChildren(said ? el("p", { role: "status" }, said)
      : el("ol", {}, ...read.lines.map((line) => el("li", {}, line.text))));
    this.place();
  }

  // Boxes are in pixels of the upright photo at full size; the image shows it whole.
  place() {
    const { item, image } = this;
    if (!item || !item.width || !item.height) return;
    const sx = image.clientWidth / item.width, sy = image.clientHeight / item.height;
    [...this.layer.children].forEach((node, i) => {
      const [x1, y1, x2, y2] = this.lines[i].box;
      Object.assign(node.style, { left: `${image.offsetLeft + x1 * sx}px`,
        top: `${image.offsetTop + y1 * sy}px`, width: `${(x2 - x1) * sx}px`,
        height: `${(y2 - y1) * sy}px`, fontSize: `${Math.max(6, (y2 - y1) * sy * 0.8)}px` });
    });
  }
}
