"""Readers' votes on answers: 👍 or 👎, one per user per answer, and what 👎 teaches.

* `store` — `FeedbackStore`, all SQL of the feature, over the corpus store's connection;
* `migrations` — the feedback tables' own migrations, applied when a `FeedbackStore` opens.

Front ends reach it through `Service` (record an answer, vote, count, export).
"""
