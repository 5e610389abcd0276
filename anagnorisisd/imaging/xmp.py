"""XMP packets read and edited with a real XML parser (lxml), never with patterns.

Sidecars and embedded packets are untrusted text: a pattern over them can be slow in
ways that only show on hostile input, and misses what is written differently but means
the same (another prefix for the same namespace, an element instead of an attribute).
libxml2 parses in linear time, keeps every prefix, comment and processing instruction
another tool wrote, and is set here to expand no entity, load no DTD and fetch nothing;
a packet with a DOCTYPE is not XMP and is refused.
"""

from __future__ import annotations

from lxml import etree

XMP_NS = "http://ns.adobe.com/xap/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RATING = f"{{{XMP_NS}}}Rating"
DESCRIPTION = f"{{{RDF_NS}}}Description"
ABOUT = f"{{{RDF_NS}}}about"


class XmpError(ValueError):
    """A packet that is not well-formed XMP, with the reason in one line."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_blank_text=False)


def parse(packet: bytes) -> etree._Element:
    """The packet's root element (its document keeps the xpacket instructions)."""
    try:
        root = etree.fromstring(packet, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmpError(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise XmpError("has a DOCTYPE, which XMP never has; not read")
    return root


def serialize(root: etree._Element, declaration: bool) -> str:
    """The whole document: instructions and comments around the root, each on its line."""
    before = list(root.itersiblings(preceding=True))[::-1]
    after = list(root.itersiblings())
    parts = [etree.tostring(node, encoding=str, with_tail=False)
             for node in (*before, root, *after)]
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return head + "\n".join(parts) + "\n"


def read_rating(packet: bytes) -> float | None:
    """xmp:Rating as a number (0-5 stars, 0 "not rated", -1 "rejected"), or None when the
    packet has none, has a malformed one, or is not XMP."""
    try:
        return rating_of(parse(packet))
    except XmpError:
        return None


def rating_of(root: etree._Element) -> float | None:
    """The first well-formed xmp:Rating of a parsed packet (attribute or element, any
    prefix), or None."""
    for value in values(root, RATING):
        try:
            number = float(value)
        except ValueError:
            continue
        if -1 <= number <= 5:
            return number
    return None


DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
DARKTABLE_NS = "http://darktable.sf.net/"
LABEL = f"{{{XMP_NS}}}Label"
PICK_LABEL = f"{{{DIGIKAM_NS}}}PickLabel"
COLOR_LABEL = f"{{{DIGIKAM_NS}}}ColorLabel"
DT_LABELS = f"{{{DARKTABLE_NS}}}colorlabels"
RDF_SEQ, RDF_BAG, RDF_LI = f"{{{RDF_NS}}}Seq", f"{{{RDF_NS}}}Bag", f"{{{RDF_NS}}}li"
DC_NS = "http://purl.org/dc/elements/1.1/"
LIGHTROOM_NS = "http://ns.adobe.com/lightroom/1.0/"
SUBJECT = f"{{{DC_NS}}}subject"
HIERARCHICAL = f"{{{LIGHTROOM_NS}}}hierarchicalSubject"
TAGS_LIST = f"{{{DIGIKAM_NS}}}TagsList"
PREFIXES = {XMP_NS: "xmp", DIGIKAM_NS: "digiKam", DARKTABLE_NS: "darktable", DC_NS: "dc",
            "http://ns.adobe.com/exif/1.0/": "exif"}

LABELS = ("red", "yellow", "green", "blue", "purple")
"""The colour labels every one of Lightroom, digiKam and darktable has."""
LIGHTROOM_LABEL = {name: name.capitalize() for name in LABELS}
"""xmp:Label as Lightroom and Bridge write it."""
DIGIKAM_LABEL = {"red": 1, "yellow": 3, "green": 4, "blue": 5, "purple": 6}
"""digiKam:ColorLabel's numbers (6 is its magenta)."""
DARKTABLE_LABEL = {"red": 0, "yellow": 1, "green": 2, "blue": 3, "purple": 4}
"""darktable:colorlabels' numbers."""
DIGIKAM_PICK = {"reject": 1, "pick": 3}
"""digiKam:PickLabel: 1 rejected, 2 pending, 3 accepted."""


def values(root: etree._Element, name: str) -> list[str]:
    """Every value of a simple property (attribute or element form)."""
    found: list[str] = []
    for description in root.iter(DESCRIPTION):
        if description.get(name) is not None:
            found.append(str(description.get(name)))
        found.extend((child.text or "").strip() for child in description.iter(name)
                     if not len(child))
    return found


def sequence(root: etree._Element, name: str) -> list[str]:
    return [(li.text or "").strip() for element in root.iter(name)
            for li in element.iter(RDF_LI)]


def read_pick(root: etree._Element) -> str | None:
    """A pick or reject as digiKam records it (PickLabel), else None."""
    for value in values(root, PICK_LABEL):
        for decision, number in DIGIKAM_PICK.items():
            if value == str(number):
                return decision
    return None


def read_label(root: etree._Element) -> str | None:
    """The colour label: Lightroom's xmp:Label, else digiKam's, else darktable's first."""
    for value in values(root, LABEL):
        if value.lower() in LIGHTROOM_LABEL:
            return value.lower()
    by_number = {str(n): name for name, n in DIGIKAM_LABEL.items()}
    for value in values(root, COLOR_LABEL):
        if value in by_number:
            return by_number[value]
    by_number = {str(n): name for name, n in DARKTABLE_LABEL.items()}
    for value in sequence(root, DT_LABELS):
        if value in by_number:
            return by_number[value]
    return None


def set_property(root: etree._Element, name: str, value: str | None) -> None:
    """Remove every `name` (attribute or element), then write `value` as an attribute, on
    the first rdf:Description that binds its namespace, else on a new one beside the
    first (RDF allows several for one resource), so no prefix is invented or taken."""
    descriptions = list(root.iter(DESCRIPTION))
    for description in descriptions:
        description.attrib.pop(name, None)
        for child in list(description.iter(name)):
            parent = child.getparent()
            if parent is not None:
                parent.remove(child)
    if value is None:
        return
    holder = _holder(descriptions, name)
    holder.set(name, value)


def set_sequence(root: etree._Element, name: str, values: list[str] | None,
                 container: str = RDF_SEQ) -> None:
    """As set_property, for a property whose value is an rdf:Seq (darktable's labels) or,
    with container=RDF_BAG, an rdf:Bag (dc:subject)."""
    set_property(root, name, None)
    if not values:
        return
    holder = _holder(list(root.iter(DESCRIPTION)), name)
    element = etree.SubElement(holder, name)
    seq = etree.SubElement(element, container)
    for value in values:
        etree.SubElement(seq, RDF_LI).text = value


def _holder(descriptions: list[etree._Element], name: str) -> etree._Element:
    if not descriptions:
        raise XmpError("has no rdf:Description to hold a property")
    namespace = name[1:].split("}", 1)[0]
    for description in descriptions:
        if namespace in description.nsmap.values():
            return description
    first = descriptions[0]
    parent = first.getparent()
    assert parent is not None  # an rdf:Description always sits in rdf:RDF
    holder = etree.Element(DESCRIPTION, nsmap={"rdf": RDF_NS,
                                               PREFIXES.get(namespace, "ns1"): namespace})
    holder.set(ABOUT, first.get(ABOUT, ""))
    holder.tail = first.tail
    first.addnext(holder)
    return holder


def read_flags(packet: bytes) -> dict[str, object]:
    """What another tool decided: xmp_rating (as read_rating), xmp_pick ("pick",
    "reject" or None) and xmp_label (one of LABELS or None); all None for a packet that
    is not XMP."""
    try:
        root = parse(packet)
    except XmpError:
        return {"xmp_rating": None, "xmp_pick": None, "xmp_label": None}
    return {"xmp_rating": rating_of(root), "xmp_pick": read_pick(root),
            "xmp_label": read_label(root)}
