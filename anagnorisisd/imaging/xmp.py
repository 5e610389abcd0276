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


def ratings(root: etree._Element) -> list[str]:
    """Every xmp:Rating in the packet, as written (attribute or element, any prefix)."""
    found: list[str] = []
    for description in root.iter(DESCRIPTION):
        if description.get(RATING) is not None:
            found.append(str(description.get(RATING)))
        found.extend((child.text or "").strip() for child in description.iter(RATING))
    return found


def read_rating(packet: bytes) -> float | None:
    """xmp:Rating as a number (0-5 stars, 0 "not rated", -1 "rejected"), or None when the
    packet has none, has a malformed one, or is not XMP."""
    try:
        values = ratings(parse(packet))
    except XmpError:
        return None
    for value in values:
        try:
            number = float(value)
        except ValueError:
            continue
        if -1 <= number <= 5:
            return number
    return None


def set_rating(root: etree._Element, value: int | None) -> None:
    """Remove every xmp:Rating, then (unless `value` is None) write one. Where the first
    rdf:Description does not bind the XMP namespace, a new rdf:Description beside it holds
    the rating (RDF allows several for one resource), so no prefix is invented."""
    descriptions = list(root.iter(DESCRIPTION))
    for description in descriptions:
        description.attrib.pop(RATING, None)
        for child in list(description.iter(RATING)):
            parent = child.getparent()
            if parent is not None:
                parent.remove(child)
    if value is None:
        return
    if not descriptions:
        raise XmpError("has no rdf:Description to hold a rating")
    first = descriptions[0]
    if XMP_NS in first.nsmap.values():
        first.set(RATING, str(value))
        return
    parent = first.getparent()
    assert parent is not None  # an rdf:Description always sits in rdf:RDF
    holder = etree.Element(DESCRIPTION, nsmap={"rdf": RDF_NS, "xmp": XMP_NS})
    holder.set(ABOUT, first.get(ABOUT, ""))
    holder.set(RATING, str(value))
    holder.tail = first.tail
    first.addnext(holder)
