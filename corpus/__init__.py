"""sectorbot's text side: loaders, canonical URLs, chunking and the SQLite store."""
