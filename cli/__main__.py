"""``python -m cli …``: the ``hoso`` command run by the tests and benchmarks with this Python."""

from cli import main

main()
