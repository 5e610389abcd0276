"""What a photo says about itself inside the file: its XMP packet and IPTC keywords.

Read from the header only (no pixels), within the decoder's file-size limit, for the one
reader that needs them outside the metadata stage: a new sidecar starts from them
(imaging.xmp_sidecar.embedded_start), so the keywords and rating the photo already carries
are not hidden by a sidecar that says less.
"""

from __future__ import annotations

from anagnorisisd.imaging.budget import Limits
from anagnorisisd.imaging.decoding import open_header
from anagnorisisd.imaging.exif import xmp_packet
from anagnorisisd.imaging.formats import is_raw
from anagnorisisd.imaging.keywords import read_iptc_keywords
from anagnorisisd.ingest.safe_io import open_regular


def embedded_metadata(photo: str, max_packet: int) -> tuple[bytes, list[str]]:
    """(the embedded XMP packet, or b"" when there is none or it is over `max_packet`
    bytes; the IPTC keywords). Nothing for a RAW or a file that cannot be read."""
    if is_raw(photo):
        return b"", []
    try:
        with open_regular(photo, Limits.max_file_bytes) as raw, open_header(raw) as img:
            packet = xmp_packet(img)
            keywords = [k for k in read_iptc_keywords(img) if k]
    except Exception:  # any reader's error: the new sidecar starts empty
        return b"", []
    return (packet if len(packet) <= max_packet else b""), keywords
