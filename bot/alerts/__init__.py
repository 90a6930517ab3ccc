"""Group-chat alerts: subscriptions, feed polling, matching, the outbox and sending.

* `store` — `AlertStore`, all SQL of the feature, over the corpus store's connection;
* `migrations` — the alert tables' own migrations, applied when an `AlertStore` opens;
* `subscriptions` — parsing items, who may change them, and the replies;
* `match` — keyword, place and topic matching, and draining the alert inbox;
* `outbox` — queueing alerts, quiet hours and digest timing, the queue's numbers;
* `render` — alert and digest messages as Telegram HTML;
* `send` — sending due alerts, sorting failures, deactivating or moving chats;
* `poller` — the feed list and polling it;
* `runtime` — `AlertsRuntime`, the one thing front ends call.

See docs/alerts.md.
"""

from sectorbot.bot.alerts.runtime import AlertsRuntime, AlertStatus
from sectorbot.bot.alerts.store import ChatRef

__all__ = ["AlertStatus", "AlertsRuntime", "ChatRef"]
