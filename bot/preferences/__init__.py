"""Per-chat preferences of the Telegram bot (for now: the language a chat chose with /language).

* `store` — `PreferencesStore`, all SQL of the feature, over the corpus store's connection;
* `migrations` — its tables' own migrations, applied when a `PreferencesStore` opens.
"""
