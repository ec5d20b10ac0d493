"""What the browser tests share besides fixtures: finding Chromium and zbarimg, decoding QR
codes, keeping screenshots, and the served site's description."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from uuid import UUID

import pytest
from playwright.sync_api import Page

from domain.application import Attachment, HosoApplication
from tests.helpers import PROCEDURE, hand_over, receive

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "mat-khau-thu-nghiem"
STAFF = ("tiepnhan", "hctp", "gd.stp", "buudien", "thanhtra")
# From the machine notes: without the networking flags Chromium keeps trying to reach Google's
# hosts, which this closed network refuses; --no-sandbox because the tests run as root.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; `make test` installs it)")
    pytest.skip(reason)


def chromium_path() -> str:
    candidates = [os.environ.get("HOSO_CHROMIUM", ""), "/usr/bin/chromium",
                  shutil.which("chromium") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("no Chromium: install Debian's chromium (`make test` does, as root) "
             "or set HOSO_CHROMIUM")


def zbarimg_path() -> str:
    found = shutil.which("zbarimg")
    if found is None:
        _missing("no zbarimg to decode the QR code: install Debian's zbar-tools")
    return found


def decode_qr(png: Path) -> list[str]:
    """Every QR code zbarimg finds in the picture, as text."""
    result = subprocess.run(
        [zbarimg_path(), "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
        capture_output=True, text=True, timeout=30)
    # zbarimg exits 4 when it finds no code: an empty list, for the test to say so.
    assert result.returncode in (0, 4), result.stderr
    return [line for line in result.stdout.splitlines() if line]


def save_screenshot(page: Page, name: str, *, docs: bool = False, full_page: bool = True) -> Path:
    """A PNG in the artefacts (the whole page, or what the screen shows); copied to
    docs/screenshots/ when regenerating."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("HOSO_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / name)
    return path


@dataclass(frozen=True)
class Site:
    """A served hoso with the seed staff's passwords set and a few dossiers made beforehand."""

    base: str
    # One dossier received today, two delivered by post (open for a rating).
    received_code: str
    received_token: str
    delivered_token: str
    delivered_for_rating_token: str
    # The path of each official form (Circular 03/2025/TT-VPCP), by form number.
    forms: tuple[tuple[str, str], ...] = ()

    def public(self, token: str) -> str:
        return f"{self.base}/t/{token}"


def official_forms(app: HosoApplication, received_id: UUID) -> tuple[tuple[str, str], ...]:
    """Dossiers whose steps hand the citizen each official form, and each form's path."""
    from domain.documents import check_upload
    from domain.sample_pdf import simple_pdf

    asked = receive(app).dossier_id
    hand_over(app, asked, "tiepnhan", "STP-HCTP", "hctp")
    app.request_supplement(asked, expected_version=None, actor_id="hctp",
                           missing_items=["Bản chụp CCCD"], reason="Bản chụp bị mờ.")
    extended = receive(app).dossier_id
    hand_over(app, extended, "tiepnhan", "STP-HCTP", "hctp")
    due = app.dossier(extended).due_date
    app.extend(extended, expected_version=None, actor_id="hctp",
               new_due_date=app.calendar.add_working_days(due, 3), reason="Chờ xác minh.",
               apology="Cơ quan chúng tôi thành thật xin lỗi ông/bà.")
    stopped = receive(app).dossier_id
    hand_over(app, stopped, "tiepnhan", "STP-HCTP", "hctp")
    app.reject(stopped, expected_version=None, actor_id="hctp", reasons="Không đủ điều kiện.")
    procedure = app.directory.procedure(PROCEDURE)
    online = app.submit_online(
        procedure_code=PROCEDURE, applicant_name="Lâm Văn Phúc", applicant_phone="0971234561",
        applicant_address="TP.HCM", applicant_email="phuc@example.vn", result_delivery="online",
        attachments=[Attachment(d.name_vi, check_upload(
            io.BytesIO(simple_pdf(1, text=f"Online {n}")), f"{n}.pdf"))
            for n, d in enumerate(procedure.document_list) if d.required],
        confirm_contact=lambda _: None, idempotency_key="browser-online-refused")
    app.refuse_to_receive(online.dossier_id, expected_version=None, actor_id="tiepnhan",
                          reasons="Ảnh chụp CCCD bị mờ.")
    return (("01", f"/dossiers/{received_id}/receipt"),
            ("02", f"/dossiers/{asked}/supplement/1"),
            ("03", f"/dossiers/{online.dossier_id}/refusal"),
            ("04", f"/dossiers/{extended}/apology/1"),
            ("05", f"/dossiers/{stopped}/stop-notice"),
            ("06", f"/dossiers/{extended}/control-slip"),
            ("07", "/tracking-book"))
