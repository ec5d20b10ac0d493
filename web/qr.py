"""QR codes as inline SVG (no Pillow needed)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
        border=4,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    svg: bytes | str = code.make_image().to_string(encoding="unicode")
    text = svg.decode() if isinstance(svg, bytes) else svg
    # Drop the XML declaration so the SVG can sit inside HTML.
    return text.split("?>", 1)[-1].strip()
