"""Tests of the fake Bot API server itself, through PTB's ``Bot``/``Application`` and httpx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebotapi import TOKEN, FakeBotAPI, loopback_request, utf16_len

ALICE = 42
BOB = 43
GROUP = -1001234567890
OTHER_TOKEN = "987654321:AAUnknownTokenForTheFakeServer_000000"

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx honours proxy variables; the fake server must be reached directly on loopback.
    for name in (*_PROXY_VARIABLES, "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        server.add_private_chat(ALICE, "Alice", "alice")
        server.add_user(BOB, "Bob", "bob")
        server.add_group(GROUP, "Sector crew", {ALICE: "creator", BOB: "administrator"})
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, verify=False, timeout=10) as http:
        yield http


def method_url(api: FakeBotAPI, method: str, token: str = TOKEN) -> str:
    return f"{api.base_url}{token}/{method}"


def make_bot(api: FakeBotAPI, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=loopback_request(),
        get_updates_request=loopback_request(1),
    )


def make_app(api: FakeBotAPI) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )


# ------------------------------------------------------------------------------ basics


@pytest.mark.asyncio
async def test_get_me_through_ptb(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        me = await bot.get_me()
    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "sectorbot_test_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert api.calls("getMe")


def test_base_url_shape(api: FakeBotAPI) -> None:
    assert api.base_url == f"http://127.0.0.1:{api.port}/bot"
    assert make_bot(api).base_url == f"http://127.0.0.1:{api.port}/bot{TOKEN}"


def test_unknown_token_is_401(api: FakeBotAPI, client: httpx.Client) -> None:
    response = client.post(method_url(api, "getMe", OTHER_TOKEN))
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert api.rejected[-1].error_code == 401


@pytest.mark.asyncio
async def test_unknown_token_raises_invalid_token(api: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(api, OTHER_TOKEN):
            pass


def test_malformed_token_and_unknown_method_are_404(api: FakeBotAPI, client: httpx.Client) -> None:
    not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
    assert client.post(method_url(api, "getMe", "garbage")).json() == not_found
    response = client.post(method_url(api, "sendSticker"))
    assert response.status_code == 404
    assert response.json() == not_found


def test_method_names_are_case_insensitive(api: FakeBotAPI, client: httpx.Client) -> None:
    body = client.get(method_url(api, "getme")).json()
    assert body["ok"] is True
    assert body["result"]["username"] == "sectorbot_test_bot"


def test_form_json_query_and_multipart_parameters(api: FakeBotAPI, client: httpx.Client) -> None:
    url = method_url(api, "sendMessage")
    by_form = client.post(url, data={"chat_id": str(ALICE), "text": "form"}).json()
    by_json = client.post(url, json={"chat_id": ALICE, "text": "json"}).json()
    by_query = client.get(url, params={"chat_id": ALICE, "text": "query"}).json()
    by_multipart = client.post(
        url, data={"chat_id": str(ALICE), "text": "multi"}, files={"doc": ("a.txt", b"abc")}
    ).json()
    texts = [body["result"]["text"] for body in (by_form, by_json, by_query, by_multipart)]
    assert texts == ["form", "json", "query", "multi"]
    ids = [body["result"]["message_id"] for body in (by_form, by_json, by_query, by_multipart)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [c.text for c in api.messages_to(ALICE)] == texts


def test_error_format_is_telegrams(api: FakeBotAPI, client: httpx.Client) -> None:
    response = client.post(method_url(api, "sendMessage"), data={"chat_id": "7", "text": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat not found",
    }
    assert api.rejected[-1].reason == "Bad Request: chat not found"
    assert api.rejected[-1].chat_id == 7


# ------------------------------------------------------------------------------ sendMessage


@pytest.mark.asyncio
async def test_send_to_unknown_chat_is_bad_request(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(999, "hello")


@pytest.mark.asyncio
async def test_blocked_chat_is_forbidden(api: FakeBotAPI) -> None:
    api.block_chat(ALICE)
    async with make_bot(api) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(ALICE, "hello")
        api.block_chat(GROUP)
        with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
            await bot.send_message(GROUP, "hello")


@pytest.mark.parametrize(
    ("html", "plain", "entities"),
    [
        (
            "<b>bold <i>nested</i></b> end",
            "bold nested end",
            [("bold", 0, 11), ("italic", 5, 6)],
        ),
        (
            '<a href="https://example.com/?a=1&amp;b=2">site</a>',
            "site",
            [("text_link", 0, 4)],
        ),
        ("&lt;tag&gt; &amp; &quot;q&quot; &#39;&#x1F44D;", '<tag> & "q" \'\U0001f44d', []),
        ("\U0001f44d <b>after emoji</b>", "\U0001f44d after emoji", [("bold", 3, 11)]),
        ("<b>שלום</b> مرحبا <i>עולם</i>", "שלום مرحبا עולם", [("bold", 0, 4), ("italic", 11, 4)]),
        (
            '<pre><code class="language-python">print(1)</code></pre>',
            "print(1)",
            [("pre", 0, 8)],
        ),
        (
            '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>'
            "<blockquote expandable>c</blockquote><blockquote>d</blockquote>",
            "abcd",
            [
                ("spoiler", 0, 1),
                ("spoiler", 1, 1),
                ("expandable_blockquote", 2, 1),
                ("blockquote", 3, 1),
            ],
        ),
        (
            "<u>1</u><ins>2</ins><s>3</s><strike>4</strike><del>5</del><em>6</em>"
            "<strong>7</strong><code>8</code>",
            "12345678",
            [
                ("underline", 0, 1),
                ("underline", 1, 1),
                ("strikethrough", 2, 1),
                ("strikethrough", 3, 1),
                ("strikethrough", 4, 1),
                ("italic", 5, 1),
                ("bold", 6, 1),
                ("code", 7, 1),
            ],
        ),
        (
            '<tg-emoji emoji-id="5368324170671202286">\U0001f44d</tg-emoji>',
            "\U0001f44d",
            [("custom_emoji", 0, 2)],
        ),
        ('<a href="tg://user?id=42">Alice</a> &amp; co', "Alice & co", [("text_mention", 0, 5)]),
        ("  <b> padded </b>  ", "padded", [("bold", 0, 6)]),
    ],
)
@pytest.mark.asyncio
async def test_valid_html_is_accepted(
    api: FakeBotAPI, html: str, plain: str, entities: list[tuple[str, int, int]]
) -> None:
    async with make_bot(api) as bot:
        message = await bot.send_message(ALICE, html, parse_mode=ParseMode.HTML)
    assert message.text == plain
    assert [(e.type, e.offset, e.length) for e in message.entities] == entities
    call = api.messages_to(ALICE)[-1]
    assert call.text == html
    assert call.parse_mode == "HTML"
    assert call.plain_text == plain
    assert api.message(ALICE, message.message_id)["text"] == plain  # type: ignore[index]


@pytest.mark.asyncio
async def test_html_link_and_mention_details(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        link = await bot.send_message(
            ALICE, '<a href="https://example.com/?a=1&amp;b=2">x</a>', parse_mode="HTML"
        )
        mention = await bot.send_message(
            ALICE, '<a href="tg://user?id=42">Alice</a>', parse_mode="HTML"
        )
        code = await bot.send_message(
            ALICE, '<pre><code class="language-python">x</code></pre>', parse_mode="HTML"
        )
    assert link.entities[0].url == "https://example.com/?a=1&b=2"
    assert mention.entities[0].user is not None and mention.entities[0].user.id == ALICE
    assert code.entities[0].language == "python"


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<b>unclosed", 'can\'t find end tag corresponding to start tag "b"'),
        ("<script>alert(1)</script>", 'unsupported start tag "script" at byte offset 0'),
        ("a&nbsp;b", 'unsupported html entity "&nbsp;" at byte offset 1'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("x <3", "unclosed start tag at byte offset 2"),
        ("<b><i>x</b></i>", 'unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("done</b>", "unexpected end tag at byte offset 4"),
        ("line<br>break", 'unsupported start tag "br" at byte offset 4'),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=https://x.io>x</a>", "unexpected end of name token at byte offset 8"),
        ("\U0001f44d<p>x</p>", 'unsupported start tag "p" at byte offset 4'),
    ],
)
@pytest.mark.asyncio
async def test_invalid_html_is_rejected(api: FakeBotAPI, html: str, detail: str) -> None:
    async with make_bot(api) as bot:
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(ALICE, html, parse_mode=ParseMode.HTML)
    assert caught.value.message.lower() == f"can't parse entities: {detail}".lower()
    assert api.messages_to(ALICE) == []
    assert api.rejected[-1].description.startswith("Bad Request: can't parse entities: ")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 4096, True),
        ("a" * 4097, False),
        ("\U0001f44d" * 2048, True),  # 4096 UTF-16 code units
        ("\U0001f44d" * 2049, False),  # 2049 characters but 4098 code units
        ("a" * 4096 + "   \n", True),  # surrounding whitespace is trimmed first
    ],
)
@pytest.mark.asyncio
async def test_length_limit_in_utf16_units(api: FakeBotAPI, text: str, ok: bool) -> None:
    async with make_bot(api) as bot:
        if ok:
            message = await bot.send_message(ALICE, text)
            assert message.text == text.strip()
        else:
            with pytest.raises(BadRequest, match="Message is too long"):
                await bot.send_message(ALICE, text)


@pytest.mark.asyncio
async def test_length_counts_parsed_text_not_markup(api: FakeBotAPI) -> None:
    tagged = "<b>" + "a" * 4000 + "</b>" + "&lt;" * 96
    assert len(tagged) > 4096
    escaped = "&amp;" * 4096
    async with make_bot(api) as bot:
        message = await bot.send_message(ALICE, tagged, parse_mode=ParseMode.HTML)
        assert utf16_len(message.text) == 4096
        message = await bot.send_message(ALICE, escaped, parse_mode=ParseMode.HTML)
        assert message.text == "&" * 4096
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(ALICE, "<i>" + "b" * 4097 + "</i>", parse_mode="HTML")


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "<b> </b>"])
@pytest.mark.asyncio
async def test_empty_text_is_rejected(api: FakeBotAPI, text: str) -> None:
    async with make_bot(api) as bot:
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(ALICE, text, parse_mode=ParseMode.HTML)


@pytest.mark.parametrize("parse_mode", ["Markdown", "MarkdownV2"])
@pytest.mark.asyncio
async def test_markdown_is_refused(api: FakeBotAPI, parse_mode: str) -> None:
    # sectorbot sends only HTML, so the fake parses nothing else: Markdown must fail loudly.
    async with make_bot(api) as bot:
        with pytest.raises(BadRequest, match=r"(?i)supports only HTML"):
            await bot.send_message(ALICE, "*bold*", parse_mode=parse_mode)
        sent = await bot.send_message(ALICE, "v1")
        with pytest.raises(BadRequest, match=r"(?i)supports only HTML"):
            await bot.edit_message_text("*v2*", ALICE, sent.message_id, parse_mode=parse_mode)
    assert api.rejected[-1].error_code == 400
    assert api.rejected[-1].description == (
        f"Bad Request: unsupported parse_mode {parse_mode!r}: "
        "the fake Bot API server supports only HTML"
    )
    assert [c.text for c in api.messages_to(ALICE, include_edits=True)] == ["v1"]


@pytest.mark.asyncio
async def test_reply_markup_validation(api: FakeBotAPI) -> None:
    fits = "é" * 32  # 64 bytes in UTF-8
    too_long = "x" * 65
    async with make_bot(api) as bot:
        message = await bot.send_message(
            ALICE,
            "pick",
            reply_markup=InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton("ok", callback_data=fits)],
                    [InlineKeyboardButton("web", url="https://example.com")],
                ]
            ),
        )
        assert message.reply_markup is not None
        assert message.reply_markup.inline_keyboard[0][0].callback_data == fits
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(
                ALICE,
                "pick",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("long", callback_data=too_long)]]
                ),
            )
    assert caught.value.message.upper() == "BUTTON_DATA_INVALID"
    assert api.rejected[-1].description == "Bad Request: BUTTON_DATA_INVALID"
    assert api.messages_to(ALICE)[-1].reply_markup == message.reply_markup.to_dict()


def test_reply_markup_must_be_json(api: FakeBotAPI, client: httpx.Client) -> None:
    body = client.post(
        method_url(api, "sendMessage"),
        data={"chat_id": str(ALICE), "text": "x", "reply_markup": "{not json"},
    ).json()
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    body = client.post(
        method_url(api, "sendMessage"),
        json={
            "chat_id": ALICE,
            "text": "x",
            "reply_markup": {"inline_keyboard": [[{"text": "t"}]]},
        },
    ).json()
    assert "Text buttons are unallowed in the inline keyboard" in body["description"]


@pytest.mark.asyncio
async def test_edit_delete_and_not_modified(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        sent = await bot.send_message(ALICE, "v1")
        edited = await bot.edit_message_text("<b>v2</b>", ALICE, sent.message_id, parse_mode="HTML")
        assert isinstance(edited, type(sent))
        assert edited.text == "v2"
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("<b>v2</b>", ALICE, sent.message_id, parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("v3", ALICE, 999)
        assert await bot.delete_message(ALICE, sent.message_id) is True
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(ALICE, sent.message_id)
    assert api.message(ALICE, sent.message_id) is None
    assert [c.plain_text for c in api.messages_to(ALICE, include_edits=True)] == ["v1", "v2"]


@pytest.mark.asyncio
async def test_chat_action_chat_and_members(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        assert await bot.send_chat_action(ALICE, "typing") is True
        with pytest.raises(BadRequest, match="Wrong parameter action"):
            await bot.send_chat_action(ALICE, "dancing")
        chat = await bot.get_chat(GROUP)
        assert chat.type == "supergroup" and chat.title == "Sector crew"
        private = await bot.get_chat(ALICE)
        assert private.type == "private" and private.username == "alice"
        assert isinstance(await bot.get_chat_member(GROUP, ALICE), ChatMemberOwner)
        assert isinstance(await bot.get_chat_member(GROUP, BOB), ChatMemberAdministrator)
        assert isinstance(await bot.get_chat_member(GROUP, api.bot_id), ChatMemberMember)
        api.add_user(44, "Carol")
        assert isinstance(await bot.get_chat_member(GROUP, 44), ChatMemberLeft)
        with pytest.raises(BadRequest, match="User not found"):
            await bot.get_chat_member(GROUP, 777)


@pytest.mark.asyncio
async def test_commands_recorded_per_scope_and_language(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
        await bot.set_my_commands(
            [BotCommand("admin", "Admin tools")],
            scope=BotCommandScopeChat(GROUP),
            language_code="de",
        )
        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        assert await bot.get_my_commands(scope=BotCommandScopeChat(GROUP)) == ()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        await bot.delete_my_commands()
    assert api.commands_for() is None
    assert api.commands_for({"type": "chat", "chat_id": GROUP}, "de") == [
        {"command": "admin", "description": "Admin tools"}
    ]
    assert (f'{{"chat_id":{GROUP},"type":"chat"}}', "de") in api.commands


# ------------------------------------------------------------------------------ failure injection


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
@pytest.mark.asyncio
async def test_fail_next_429_surfaces_as_retry_after(api: FakeBotAPI) -> None:
    api.fail_next("sendMessage", 1, code=429, retry_after=3)
    async with make_bot(api) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ALICE, "first")
        retry_after = caught.value.retry_after
        seconds = retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after
        assert seconds == 3
        assert (await bot.send_message(ALICE, "second")).text == "second"
    rejection = api.rejected[-1]
    assert rejection.injected and rejection.error_code == 429
    assert rejection.description == "Too Many Requests: retry after 3"
    assert [c.text for c in api.messages_to(ALICE)] == ["second"]


def test_fail_next_wire_format_and_count(api: FakeBotAPI, client: httpx.Client) -> None:
    api.fail_next("sendMessage", 2, code=500)
    url = method_url(api, "sendMessage")
    payload = {"chat_id": str(ALICE), "text": "x"}
    first, second, third = (client.post(url, data=payload) for _ in range(3))
    assert first.status_code == second.status_code == 500
    assert first.json() == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    assert third.json()["ok"] is True
    api.fail_next("sendMessage", code=429, retry_after=5)
    assert client.post(url, data=payload).json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5},
    }


@pytest.mark.asyncio
async def test_fail_next_500_and_403_map_to_ptb_errors(api: FakeBotAPI) -> None:
    api.fail_next("sendMessage", code=500)
    api.fail_next("sendMessage", code=403)
    async with make_bot(api) as bot:
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(ALICE, "x")
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(ALICE, "x")


# ------------------------------------------------------------------------------ getUpdates


def test_long_poll_returns_promptly_when_update_arrives(
    api: FakeBotAPI, client: httpx.Client
) -> None:
    outcome: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        response = client.post(method_url(api, "getUpdates"), data={"timeout": "5"})
        outcome["elapsed"] = time.monotonic() - started
        outcome["body"] = response.json()

    poller = threading.Thread(target=poll)
    poller.start()
    deadline = time.monotonic() + 5
    while api.get_updates_calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the request is now parked in the server's long poll
    assert "body" not in outcome
    update_id = api.send_text(ALICE, ALICE, "hello")
    poller.join(timeout=5)
    assert outcome["body"]["ok"] is True
    assert [u["update_id"] for u in outcome["body"]["result"]] == [update_id]
    assert outcome["elapsed"] < 2  # far below the 5 s poll timeout
    api.wait_delivered(update_id, timeout=0.1)


def test_long_poll_times_out_with_empty_list(api: FakeBotAPI, client: httpx.Client) -> None:
    started = time.monotonic()
    body = client.post(method_url(api, "getUpdates"), data={"timeout": "0.5"}).json()
    elapsed = time.monotonic() - started
    assert body == {"ok": True, "result": []}
    assert 0.45 < elapsed < 1.5
    assert api.get_updates_calls == 1


def test_offsets_confirm_updates(api: FakeBotAPI, client: httpx.Client) -> None:
    url = method_url(api, "getUpdates")
    ids = [api.send_text(ALICE, ALICE, f"m{n}") for n in range(3)]
    assert api.updates_pending() == 3
    first = client.post(url, data={"timeout": "0"}).json()["result"]
    again = client.post(url, data={"timeout": "0", "limit": "2"}).json()["result"]
    assert [u["update_id"] for u in first] == ids
    assert [u["update_id"] for u in again] == ids[:2]  # not confirmed yet, limit honoured
    confirmed = client.post(url, data={"offset": str(ids[1]), "timeout": "0"}).json()
    assert confirmed["result"] == [again[1], first[2]]
    assert api.updates_pending() == 2
    assert client.post(url, json={"offset": ids[-1] + 1, "timeout": 0}).json()["result"] == []
    assert api.updates_pending() == 0
    assert api.updates_offset == ids[-1] + 1
    newer = [api.send_text(ALICE, ALICE, f"n{n}") for n in range(3)]
    latest = client.post(url, data={"offset": "-1", "timeout": "0"}).json()["result"]
    assert [u["update_id"] for u in latest] == newer[-1:]
    assert api.updates_pending() == 1
    assert api.get_updates_calls == 5


def test_webhook_blocks_get_updates(api: FakeBotAPI, client: httpx.Client) -> None:
    ok = client.post(method_url(api, "setWebhook"), data={"url": "https://hook.invalid/x"})
    assert ok.json() == {"ok": True, "result": True}
    info = client.post(method_url(api, "getWebhookInfo")).json()["result"]
    assert info["url"] == "https://hook.invalid/x"
    conflict = client.post(method_url(api, "getUpdates"))
    assert conflict.status_code == 409
    assert conflict.json()["description"].startswith("Conflict: can't use getUpdates method")
    client.post(method_url(api, "deleteWebhook"), data={"drop_pending_updates": "true"})
    assert client.post(method_url(api, "getUpdates")).json() == {"ok": True, "result": []}


@pytest.mark.asyncio
async def test_webhook_conflict_maps_to_ptb_conflict(api: FakeBotAPI) -> None:
    async with make_bot(api) as bot:
        await bot.set_webhook("https://hook.invalid/x")
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)


def test_send_text_builds_telegram_like_entities(api: FakeBotAPI, client: httpx.Client) -> None:
    text = "\U0001f44d /start@sectorbot_test_bot hi @someone_else, a/b"
    api.send_text(GROUP, BOB, text)
    update = client.post(method_url(api, "getUpdates")).json()["result"][0]
    message = update["message"]
    assert message["chat"] == {"id": GROUP, "title": "Sector crew", "type": "supergroup"}
    assert message["from"]["username"] == "bob"
    assert message["entities"] == [
        {"offset": 3, "length": 25, "type": "bot_command"},
        {"offset": 32, "length": 13, "type": "mention"},
    ]
    parsed = Update.de_json(update, None)
    assert parsed is not None and parsed.effective_message is not None
    assert parsed.effective_message.parse_entities() == {
        parsed.effective_message.entities[0]: "/start@sectorbot_test_bot",
        parsed.effective_message.entities[1]: "@someone_else",
    }


def test_wait_for_times_out_quickly(api: FakeBotAPI) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no matching call"):
        api.wait_for(lambda call: call.method == "sendMessage", timeout=0.2)
    assert time.monotonic() - started < 1


def test_stop_releases_pending_long_poll(client: httpx.Client) -> None:
    server = FakeBotAPI().start()
    outcome: dict[str, Any] = {}

    def poll() -> None:
        try:
            outcome["body"] = client.post(
                method_url(server, "getUpdates"), data={"timeout": "20"}
            ).json()
        except httpx.HTTPError as error:  # connection dropped by stop() is fine too
            outcome["error"] = error

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    poller.join(timeout=5)
    assert not poller.is_alive()
    assert time.monotonic() - started < 2
    assert outcome.get("body", {"ok": True, "result": []}) == {"ok": True, "result": []}


# ------------------------------------------------------------------------------ real Application


@pytest.mark.asyncio
async def test_application_echo_over_long_polling(api: FakeBotAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text)

    app = make_app(api)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            update_id = api.send_text(ALICE, ALICE, "ping \U0001f44d")
            call = await api.wait_for_async(
                lambda c: c.method == "sendMessage" and c.chat_id == ALICE, timeout=5
            )
            await api.wait_delivered_async(update_id, timeout=1)
        finally:
            await app.updater.stop()
            await app.stop()
    assert call.text == "ping \U0001f44d"
    assert api.updates_pending() == 0  # PTB's final getUpdates confirmed the update
    assert api.updates_offset == update_id + 1
    assert api.get_updates_calls >= 2
    assert api.calls("deleteWebhook")
    assert api.rejected == []


@pytest.mark.asyncio
async def test_application_commands_and_buttons_in_group(api: FakeBotAPI) -> None:
    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go:1")]])
        await update.effective_message.reply_text("<b>Menu</b>", "HTML", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("done")
        await query.edit_message_text(f"chose {query.data}")

    app = make_app(api)
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            api.send_text(GROUP, BOB, "/menu@sectorbot_test_bot")
            shown = await api.wait_for_async(lambda c: c.method == "sendMessage", timeout=5)
            assert shown.chat_id == GROUP and shown.plain_text == "Menu"
            assert shown.message_id is not None
            api.press_button(GROUP, BOB, shown.message_id, "go:1")
            edit = await api.wait_for_async(lambda c: c.method == "editMessageText", timeout=5)
        finally:
            await app.updater.stop()
            await app.stop()
    answer = api.calls("answerCallbackQuery")[0]
    assert answer.params["text"] == "done"
    assert edit.plain_text == "chose go:1"
    current = api.message(GROUP, shown.message_id)
    assert current is not None
    assert current["text"] == "chose go:1" and "reply_markup" not in current
    assert api.rejected == []
