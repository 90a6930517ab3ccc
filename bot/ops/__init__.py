"""Operations on a deployment: `doctor` (health checks), `backup` (a consistent copy of the
database) and `transfer` (export and import as JSONL)."""
