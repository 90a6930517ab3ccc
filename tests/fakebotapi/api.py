"""``FakeBotAPI``: the fake Bot API server tests start, made of the method families.

Owns: starting and stopping the HTTP server, the table of implemented methods, answering one
request (route and token checks, parameters, dispatch to a method, the record of the call or
its refusal), ``getMe``, and failure injection (``fail_next``).
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakebotapi.callbacks import CallbackMethods
from tests.fakebotapi.chats import ChatMethods
from tests.fakebotapi.commands import CommandMethods
from tests.fakebotapi.inline import InlineMethods
from tests.fakebotapi.photos import PhotoMethods
from tests.fakebotapi.posts import PostMethods
from tests.fakebotapi.records import Records
from tests.fakebotapi.server import LoopbackServer
from tests.fakebotapi.updates import UpdateMethods
from tests.fakebotapi.wire import (
    CONFLICT_OTHER_POLL,
    TOKEN_SHAPE,
    ApiError,
    ApiMethod,
    Call,
    HttpAnswer,
    MethodResult,
    Params,
    Rejection,
    normalize_chat_id,
    parse_body,
)
from tests.fakebotapi.world import BOT_FIRST_NAME, BOT_USERNAME, TOKEN, InjectedFailure

_METHOD_PATH = re.compile(r"/bot([^/]*)/([^/]+)/?")
# What getMe adds to the bot's User object.
_BOT_CAPABILITIES = {
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}
# Descriptions fail_next gives an injected error when none is passed (429 and 400 are built).
_INJECTED_TEXTS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    403: "Forbidden: bot was blocked by the user",
    401: "Unauthorized",
    409: CONFLICT_OTHER_POLL,
}


def _injected_error(code: int, retry_after: int, description: str | None) -> ApiError:
    if code == 400:
        return ApiError(400, f"Bad Request: {description or 'chat not found'}")
    parameters = {"retry_after": retry_after} if code == 429 else None
    if description is None:
        description = _default_text(code, retry_after)
    return ApiError(code, description, parameters)


def _default_text(code: int, retry_after: int) -> str:
    if code == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if code in _INJECTED_TEXTS:
        return _INJECTED_TEXTS[code]
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown Error"


class FakeBotAPI(
    UpdateMethods,
    PostMethods,
    InlineMethods,
    PhotoMethods,
    CallbackMethods,
    CommandMethods,
    ChatMethods,
    Records,
):
    """A Telegram Bot API look-alike on ``127.0.0.1`` for driving a real PTB application.

    All state is guarded by one condition variable, so the helpers may be used from the test
    thread while PTB calls the server from its own connections.
    """

    def __init__(
        self,
        token: str = TOKEN,
        *,
        extra_tokens: Iterable[str] = (),
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        first_update_id: int = 1,
        strict_html_entities: bool = True,
    ) -> None:
        if not TOKEN_SHAPE.fullmatch(token):
            raise ValueError(f"token {token!r} does not look like a Bot API token")
        bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        super().__init__(token, bot_user, first_update_id, strict_html_entities)
        self._init_inline()
        self._tokens = frozenset({token, *extra_tokens})
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers = self._method_table()
        # Bot API method names are case-insensitive.
        self._method_names = {name.lower(): name for name in [*self._handlers, "getUpdates"]}

    def _method_table(self) -> dict[str, ApiMethod]:
        """Every method the fake implements except ``getUpdates``, which long-polls."""
        return {
            "getMe": self._api_get_me,
            "logOut": self._api_ok,
            "close": self._api_ok,
            "deleteWebhook": self._api_delete_webhook,
            "setWebhook": self._api_set_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "sendMessage": self._api_send_message,
            "sendPhoto": self._api_send_photo,
            "editMessageText": self._api_edit_message_text,
            "answerCallbackQuery": self._api_answer_callback_query,
            "answerInlineQuery": self._api_answer_inline_query,
            "sendChatAction": self._api_send_chat_action,
            "getChatMember": self._api_get_chat_member,
            "getChat": self._api_get_chat,
            "deleteMessage": self._api_delete_message,
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeBotAPI:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        with self._cond:
            if self._server is not None:
                return self
            self._stopping = False
            server = LoopbackServer(self._handle_http)
            self._server = server
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeBotAPI:{server.server_address[1]}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending long polls are released and open connections dropped."""
        with self._cond:
            server = self._server
            if server is None:
                return
            self._stopping = True
            self._cond.notify_all()
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._cond:
            self._server = None
            self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise RuntimeError("FakeBotAPI is not running; call start() first")
        return int(server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` - PTB appends the token and ``/method``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---------------------------------------------------------------- failure injection

    def fail_next(
        self,
        method: str,
        n: int = 1,
        code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next ``n`` calls of ``method`` fail the way Telegram would.

        ``code`` 429 answers ``Too Many Requests: retry after N`` with
        ``parameters.retry_after``; 500 ``Internal Server Error``; 502 ``Bad Gateway``; 403
        ``Forbidden: bot was blocked by the user``; 400 ``Bad Request: <description>``; 409 the
        concurrent-getUpdates conflict.  ``description`` overrides the text.
        """
        canonical = self._method_names.get(method.lower())
        if canonical is None:
            raise ValueError(f"the fake does not implement {method!r}")
        failure = InjectedFailure(n, _injected_error(code, retry_after, description))
        with self._cond:
            self._failures.setdefault(canonical, []).append(failure)

    def _take_failure(self, method: str) -> ApiError | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure.error

    # ---------------------------------------------------------------- request handling

    def _handle_http(
        self, path: str, content_type: str, body: bytes, client_gone: Callable[[], bool]
    ) -> HttpAnswer:
        split = urlsplit(path)
        match = _METHOD_PATH.fullmatch(split.path)
        if match is None:
            return 404, ApiError(404, "Not Found").payload()
        token, method_raw = match.groups()
        method = self._method_names.get(method_raw.lower(), method_raw)
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            self._check_route(token, method)
            params.update(parse_body(content_type, body))
        except ApiError as error:
            return self._refuse(method, params, error, injected=False)
        except Exception:  # malformed body the parsers did not foresee
            with self._cond:
                self._internal_errors.append(traceback.format_exc())
            error = ApiError(400, "Bad Request: can't parse request")
            return self._refuse(method, params, error, injected=False)
        return self._dispatch(method, Params(params), client_gone)

    def _check_route(self, token: str, method: str) -> None:
        if not TOKEN_SHAPE.fullmatch(token):
            raise ApiError(404, "Not Found")
        if token not in self._tokens:
            raise ApiError(401, "Unauthorized")
        if method not in self._handlers and method != "getUpdates":
            raise ApiError(404, "Not Found")

    def _dispatch(self, method: str, params: Params, client_gone: Callable[[], bool]) -> HttpAnswer:
        with self._cond:
            injected = self._take_failure(method)
            if injected is not None:
                if method == "getUpdates":
                    self._get_updates_calls += 1  # the bot did poll, even if it got an error
                return self._refuse(method, params.data, injected, injected=True)
            try:
                return self._call(method, params, client_gone)
            except ApiError as error:
                return self._refuse(method, params.data, error, injected=False)
            except Exception:  # a bug in the fake: make it loud but keep serving
                self._internal_errors.append(traceback.format_exc())
                error = ApiError(500, "Internal Server Error")
                return self._refuse(method, params.data, error, injected=False)

    def _call(self, method: str, params: Params, client_gone: Callable[[], bool]) -> HttpAnswer:
        if method == "getUpdates":
            updates = self._get_updates(params, client_gone)
            return None if updates is None else (200, {"ok": True, "result": updates})
        result, details = self._handlers[method](params)
        self._record(method, params, result, details)
        return 200, {"ok": True, "result": result}

    def _api_ok(self, params: Params) -> MethodResult:
        return True, {}

    def _api_get_me(self, params: Params) -> MethodResult:
        modes = {
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": self.inline_mode,
        }
        return {**self._bot_user, **_BOT_CAPABILITIES, **modes}, {}

    def _record(self, method: str, params: Params, result: Any, details: dict[str, Any]) -> None:
        self._sent.append(
            Call(
                method=method,
                chat_id=details.get("chat_id", normalize_chat_id(params.raw("chat_id"))),
                text=params.get_str("text"),
                parse_mode=params.get_str("parse_mode"),
                reply_markup=details.get("reply_markup"),
                message_id=details.get("message_id"),
                time=time.monotonic(),
                params=dict(params.data),
                plain_text=details.get("plain_text"),
                entities=list(details.get("entities", [])),
                result=result,
            )
        )
        self._cond.notify_all()

    def _refuse(
        self, method: str, params: Mapping[str, Any], error: ApiError, *, injected: bool
    ) -> HttpAnswer:
        """Record the refusal and return Telegram's error answer for it."""
        with self._cond:
            self._rejected.append(
                Rejection(
                    method=method,
                    chat_id=normalize_chat_id(params.get("chat_id")),
                    error_code=error.code,
                    description=error.description,
                    time=time.monotonic(),
                    params=dict(params),
                    injected=injected,
                )
            )
            self._cond.notify_all()
        return error.code, error.payload()
