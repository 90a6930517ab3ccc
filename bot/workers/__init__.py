"""Several processes on one database: updates answered once, shared rate limits, one job worker.

* `store` — `WorkerStore`, all SQL of the feature, over the corpus store's connection;
* `migrations` — its tables' own migrations, applied when a `WorkerStore` opens;
* `lease` — the job lease: which process polls feeds and sends alerts, and the fence that
  keeps a process that lost it from sending;
* `heartbeat` — each process's row (role, index size), which `doctor` reads.

Webhook workers share the handled-update ids and the rate-limit events; exactly one process
(`sectorbot worker`, or the bot itself when it runs alone) holds the lease and runs the jobs.
"""
