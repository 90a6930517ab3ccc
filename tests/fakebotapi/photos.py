"""The bot's pictures: ``sendPhoto`` with an uploaded PNG or JPEG and an HTML caption.

Owns what Telegram checks of a photo: that the upload is an image it can read (PNG or JPEG),
at most 10 MB, width plus height at most 10,000 pixels and a side ratio of at most 20, and a
caption of at most 1,024 UTF-16 units once its HTML is parsed. A photo sent by file id must
name one the fake handed out; a URL is refused (the fake reaches no network).
"""

from __future__ import annotations

import struct
from typing import Any

from tests.fakebotapi.entities import utf16_len
from tests.fakebotapi.messages import MessageMethods
from tests.fakebotapi.wire import MethodResult, Params, UploadedFile, bad_request

MAX_CAPTION_LENGTH = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
_PNG = b"\x89PNG\r\n\x1a\n"


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, None for anything else."""
    if data.startswith(_PNG) and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


class PhotoMethods(MessageMethods):
    """Sending pictures."""

    def _photo(self, params: Params) -> tuple[str, int, int, int]:
        """(file id, width, height, size) of the request's photo; 400 as Telegram answers."""
        raw = params.raw("photo")
        if isinstance(raw, UploadedFile):
            if not raw.content:
                raise bad_request("file must be non-empty")
            if len(raw.content) > MAX_PHOTO_BYTES:
                raise bad_request("PHOTO_SAVE_FILE_INVALID")
            size = image_size(raw.content)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
            if width + height > 10_000 or max(width, height) > 20 * max(1, min(width, height)):
                raise bad_request("PHOTO_INVALID_DIMENSIONS")
            file_id = f"photo-{len(self._photos) + 1}"
            self._photos[file_id] = (width, height, len(raw.content))
            return file_id, width, height, len(raw.content)
        if isinstance(raw, str) and raw in self._photos:
            return (raw, *self._photos[raw])
        if isinstance(raw, str) and raw.startswith(("http://", "https://")):
            raise bad_request("wrong HTTP URL specified")
        if not raw:
            raise bad_request("there is no photo in the request")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _caption(self, params: Params) -> tuple[str, list[dict[str, Any]]]:
        if params.get_str("caption") in (None, ""):
            return "", []
        plain, entities = self._formatted(Params({**params.data, "text": params.raw("caption")}))
        if utf16_len(plain) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return plain, entities

    def _api_send_photo(self, params: Params) -> MethodResult:
        caption, entities = self._caption(params)
        chat = self._resolve_chat(params)
        self._check_writable(chat)
        file_id, width, height, size = self._photo(params)
        reply_to = self._reply_target(chat, params)
        self._check_not_blocked(chat)
        message = self._new_message(chat, self._bot_user)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message["photo"] = [
            {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": width,
             "height": height, "file_size": size},
        ]  # fmt: skip
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        chat.messages[message["message_id"]] = message
        details = {
            "chat_id": chat.id, "message_id": message["message_id"], "plain_text": caption,
            "entities": entities,
        }  # fmt: skip
        return dict(message), details
