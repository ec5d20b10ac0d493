"""Peak memory of the web process while ten 20 MB scans are uploaded at once.

    .venv/bin/python -m bench.upload_memory

A throwaway SQLite store and document folder; ``hoso serve`` in its own process; ten
clients each signed in as the reception clerk receive a dossier with one 20 MB PDF scan at
the same moment. Uploads are spooled to disk by python-multipart and checked and stored in
1 MiB chunks, so the server's peak resident memory should stay far below 10 × 20 MB.
Prints the server's resident memory before the uploads and its peak (VmHWM) after.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx

from bench.common import proc_status_mib
from domain.sample_pdf import simple_pdf

CLIENTS = 10
SIZE = 20_000_000
PASSWORD = "bench-upload-password"
CSRF = re.compile(r'"X-CSRF-Token": "([A-Za-z0-9_-]+)"')


def _client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=300)
    page = client.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                       follow_redirects=True)
    token = CSRF.search(page.text)
    assert token, page.status_code
    client.headers["X-CSRF-Token"] = token.group(1)
    return client


def main() -> None:
    hoso = str(Path(sys.executable).with_name("hoso"))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOSO_DATABASE_URL=f"sqlite:///{tmp}/hoso.sqlite3",
                   HOSO_DOCUMENTS_DIR=f"{tmp}/documents")
        subprocess.run([hoso, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([hoso, "set-password", "tiepnhan", "--stdin"], env=env, check=True,
                       input=PASSWORD + "\n", text=True, capture_output=True)
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen([hoso, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            clients = [_client(base) for _ in range(CLIENTS)]
            scans = [simple_pdf(1, text=f"{n} " + "A" * (SIZE - 600)) for n in range(CLIENTS)]
            before = proc_status_mib(server.pid, "VmRSS")
            start = threading.Barrier(CLIENTS)
            answers: list[int] = []

            def upload(n: int) -> None:
                start.wait()
                answer = clients[n].post("/dossiers", data={
                    "procedure_code": "2.000488", "channel": "counter",
                    "applicant_name": f"Người thử {n}", "applicant_phone": "0901234567",
                    "applicant_address": "1 Lê Lợi, Q1", "documents": ["Bản chụp CCCD"]},
                    files=[("scan_1", (f"cccd-{n}.pdf", scans[n], "application/pdf"))])
                answers.append(answer.status_code)

            threads = [threading.Thread(target=upload, args=(n,)) for n in range(CLIENTS)]
            began = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            took = time.monotonic() - began
            peak = proc_status_mib(server.pid, "VmHWM")
            kept = sum(1 for p in Path(tmp, "documents").rglob("*") if p.is_file()
                       and ".incoming" not in p.parts)
            with sqlite3.connect(f"{tmp}/hoso.sqlite3") as db:
                received = db.execute("SELECT COUNT(*) FROM stored_events WHERE topic LIKE "
                                      "'%Received'").fetchone()[0]
        finally:
            server.terminate()
            server.wait(30)

    print(f"{CLIENTS} concurrent uploads of {SIZE / 1e6:.0f} MB: answers {sorted(answers)}, "
          f"{kept} files kept, {received} dossiers received, {took:.1f} s")
    print(f"web process resident memory before: {before:.0f} MiB; peak (VmHWM): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
