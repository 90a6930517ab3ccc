"""The command line: `main` holds the `sectorbot` group and the corpus commands; each other
module registers one command group (`feeds`, `feedback`, the operations in `ops`). The
terminal chat is `terminal`."""
