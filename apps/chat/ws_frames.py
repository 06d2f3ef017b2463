"""What the chat websockets do with a frame before a consumer's receive_json sees it.

A bad frame (binary, not JSON, nested too deep, longer than MAX_FRAME_CHARS, not an object
with a string "type", or with a field of the wrong type) gets an error frame
`{"type": "error", "code", "message"}` and the socket stays open: Channels' own decoding
raised instead, and the consumer's exception closed the connection.

Customers' actions are counted against the same Redis rolling window as the REST API
(banksight.api.throttling.UserRateThrottle, one budget per user for both transports).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError as DjangoValidationError

from banksight.api.limits import JsonTooDeep, json_loads_limited
from banksight.api.throttling import UserRateThrottle

logger = logging.getLogger(__name__)

# A message's text is at most apps.chat.services.MAX_TEXT (4,000) characters; escaped in
# JSON that may take six characters each, plus the other fields.
MAX_FRAME_CHARS = 32 * 1024


def error_frame(code: str, message: str, **extra) -> dict:
    return {"type": "error", "code": code, "message": message, **extra}


class SafeJsonFramesMixin:
    """Put before AsyncJsonWebsocketConsumer in the bases."""

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self.send_json(error_frame("binary_frame", "Send JSON as text frames."))
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_json(
                error_frame(
                    "frame_too_large", f"A frame may be at most {MAX_FRAME_CHARS} characters."
                )
            )
            return
        try:
            content = json_loads_limited(text_data)
        except JsonTooDeep as error:
            await self.send_json(error_frame("json_too_deep", str(error)))
            return
        except ValueError:
            await self.send_json(error_frame("invalid_json", "Send one JSON object a frame."))
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json(
                error_frame("invalid_frame", 'Send a JSON object with a "type" string.')
            )
            return
        kind = content["type"]
        try:
            await self.receive_json(content, **kwargs)
        except (TypeError, ValueError, LookupError, DjangoValidationError):
            # A field of the wrong type that the command did not check itself.
            await self.send_json(
                error_frame("invalid", "A field of this message is not valid.", **{"for": kind})
            )
        except Exception:  # logged; the socket outlives one failed command
            logger.exception("Websocket command failed", extra={"for": kind})
            await self.send_json(
                error_frame(
                    "server_error",
                    "Something went wrong on our side. Please try again.",
                    **{"for": kind},
                )
            )


def _user_throttle_wait(user) -> float:
    throttle = UserRateThrottle()
    if throttle.allow_request(SimpleNamespace(user=user), None):
        return 0.0
    return throttle.wait()


async def user_throttle_wait(user) -> float:
    """0.0 when the user may act now, else the seconds until they may (the REST budget)."""
    return await sync_to_async(_user_throttle_wait, thread_sensitive=False)(user)


def throttled_frame(wait: float, **extra) -> dict:
    seconds = max(1, round(wait))
    return error_frame(
        "throttled",
        f"Too many requests. Try again in {seconds} seconds.",
        retry_after=seconds,
        **extra,
    )
