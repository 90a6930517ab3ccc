"""Chats, users and memberships: setting them up from a test, and the API methods about them.

Owns: ``add_user``, ``add_private_chat``, ``add_group``, ``set_member_status``,
``block_chat``/``unblock_chat``, and the methods ``getChat``, ``getChatMember`` and
``sendChatAction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakebotapi.entities import placeholder_user
from tests.fakebotapi.wire import MethodResult, Params, bad_request
from tests.fakebotapi.world import ChatState, World

_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# What a ChatMember object carries beside user and status, per status: the fields PTB needs to
# build the matching ChatMember subclass.
_MEMBER_FIELDS: dict[str, dict[str, Any]] = {
    "creator": {"is_anonymous": False},
    "administrator": {
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
        "can_pin_messages": True,
    },
    "restricted": {
        "is_member": True,
        "can_send_messages": False,
        "can_send_audios": False,
        "can_send_documents": False,
        "can_send_photos": False,
        "can_send_videos": False,
        "can_send_video_notes": False,
        "can_send_voice_notes": False,
        "can_send_polls": False,
        "can_send_other_messages": False,
        "can_add_web_page_previews": False,
        "can_change_info": False,
        "can_invite_users": False,
        "can_pin_messages": False,
        "can_manage_topics": False,
        "can_edit_tag": False,
        "until_date": 0,
    },
    "kicked": {"until_date": 0},
}


def _check_status(status: str) -> None:
    if status not in _MEMBER_STATUSES:
        raise ValueError(f"unknown chat member status {status!r}")


def _chat_member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    return {"user": user, "status": status, **_MEMBER_FIELDS.get(status, {})}


class ChatMethods(World):
    """Setting up the world's chats and users, and the API methods that read them."""

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Register (or replace) a Telegram user; returns the ``User`` JSON object."""
        user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._cond:
            self._users[user_id] = user
        return dict(user)

    def add_private_chat(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        """Register a user and their private chat with the bot (chat id == user id)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        self.add_user(
            user_id, first_name, username, last_name=last_name, language_code=language_code
        )
        with self._cond:
            self._chats[user_id] = ChatState(
                id=user_id,
                type="private",
                first_name=first_name,
                last_name=last_name,
                username=username,
                members={user_id: "member", self.bot_id: "member"},
            )
        return user_id

    def add_group(
        self,
        chat_id: int,
        title: str,
        members: Mapping[int, str] | None = None,
        *,
        supergroup: bool | None = None,
        username: str | None = None,
        bot_status: str = "member",
    ) -> int:
        """Register a group. ``members`` maps user id to a ChatMember status.

        Ids below ``-1000000000000`` (the ``-100...`` form) become supergroups unless
        ``supergroup`` says otherwise.  Unknown member ids get a placeholder user.
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        is_super = chat_id <= -1_000_000_000_000 if supergroup is None else supergroup
        statuses = dict(members or {})
        for status in [*statuses.values(), bot_status]:
            _check_status(status)
        with self._cond:
            for user_id in statuses:
                self._users.setdefault(user_id, placeholder_user(user_id))
            statuses[self.bot_id] = bot_status
            self._chats[chat_id] = ChatState(
                id=chat_id,
                type="supergroup" if is_super else "group",
                title=title,
                username=username,
                members=statuses,
                bot_status=bot_status,
            )
        return chat_id

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        _check_status(status)
        with self._cond:
            chat = self._require_chat(chat_id)
            self._users.setdefault(user_id, placeholder_user(user_id))
            chat.members[user_id] = status
            if user_id == self.bot_id:
                chat.bot_status = status

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot (private) or the bot was kicked (group)."""
        with self._cond:
            self._require_chat(chat_id).blocked = True

    def unblock_chat(self, chat_id: int) -> None:
        with self._cond:
            self._require_chat(chat_id).blocked = False

    # ---------------------------------------------------------------- API methods

    def _api_send_chat_action(self, params: Params) -> MethodResult:
        action = params.get_str("action")
        if not action:
            raise bad_request("action is empty")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat = self._resolve_chat(params)
        self._check_writable(chat)
        self._check_not_blocked(chat)
        return True, {"chat_id": chat.id}

    def _api_get_chat(self, params: Params) -> MethodResult:
        chat = self._resolve_chat(params)
        info = chat.to_json()
        info["accent_color_id"] = 0
        info["max_reaction_count"] = 11
        return info, {"chat_id": chat.id}

    def _api_get_chat_member(self, params: Params) -> MethodResult:
        chat = self._resolve_chat(params)
        user_id = params.get_int("user_id", missing="user not found")
        assert user_id is not None
        if user_id != self.bot_id and user_id not in self._users:
            raise bad_request("user not found")
        status = chat.members.get(user_id, "left")
        if chat.type == "private":
            status = "member" if user_id in (chat.id, self.bot_id) else "left"
        return _chat_member(status, self._user_json(user_id)), {"chat_id": chat.id}
