"""Reading the QR code in a photo or screenshot a clerk uploads (zxing-cpp decodes it).

The image comes from a stranger: Pillow refuses decompression bombs, and images are
shrunk before decoding, so a large photo costs a bounded amount of work.
"""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 50_000_000
"""A 50-megapixel photo is the largest taken; anything larger is refused unread."""
DECODE_SIDE = 2400
"""Images are decoded at most this many pixels on a side (a phone photo of a QR code on a
screen or on paper keeps enough detail)."""


class UnreadableImage(ValueError):
    """The upload is not an image, or no QR code was found in it; says why in Vietnamese."""


def qr_text(data: bytes) -> str:
    """The text of the QR code in the image `data`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UnreadableImage("Ảnh quá lớn. Hãy chụp lại hoặc gửi ảnh nhỏ hơn.")
            image.draft("L", (DECODE_SIDE, DECODE_SIDE))  # JPEG: decode at a smaller size
            gray = image.convert("L")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        if isinstance(exc, UnreadableImage):
            raise
        raise UnreadableImage("Tệp đã chọn không phải là ảnh (PNG, JPEG...).") from exc
    gray.thumbnail((DECODE_SIDE, DECODE_SIDE))
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    texts = [code.text for code in found if code.text]
    if not texts:
        raise UnreadableImage("Không tìm thấy mã QR trong ảnh. Hãy chụp rõ, thẳng và đủ "
                              "cả mã.")
    return texts[0]
