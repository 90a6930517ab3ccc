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

See docs/alerts.md. Nothing is imported here, so that importing one part (the CLI's doctor
reads `migrations`) does not load matching and with it the search stack.
"""
