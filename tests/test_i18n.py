"""Vietnamese by default, English complete: the catalogs, one language per page, the switch
kept in a cookie, and dates, numbers and working days written as each language writes them."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from tests.conftest import PUBLIC_URL
from tests.test_web import PASSWORD, public_path, receive_via_web
from tests.web_helpers import sign_in_as
from web import figures, formatting, i18n, labels

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "web" / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)s|%%|<[^>]+>")


def _catalog(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


def _extracted() -> dict[tuple[str, str | None], tuple[str, ...]]:
    """Every msgid (with its context) in the templates and the Python sources, as
    `make messages` finds them."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[tuple[str, str | None], tuple[str, ...]] = {}
    for _filename, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map):
        ids = (message,) if isinstance(message, str) else tuple(message)
        found.setdefault((ids[0], context), ids)
    return found


def test_every_template_string_has_an_english_translation() -> None:
    extracted = _extracted()
    assert len(extracted) > 300  # the whole UI, not an extraction that silently found nothing
    english = _catalog("en")
    untranslated = []
    for (msgid, context), ids in extracted.items():
        message = english.get(msgid, context=context)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,))
        if message is None or not strings or not all(s.strip() for s in strings):
            untranslated.append(msgid)
        elif len(ids) > 1:
            assert isinstance(message.id, tuple), f"{msgid!r} is a plural in the templates"
    assert untranslated == [], "run `make messages` and translate these in web/locale/en"


def test_placeholders_survive_translation() -> None:
    for message in _catalog("en"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)s", ids[-1]))
        for text in strings:
            # A singular may say "once" instead of "%(num)s times"; nothing else goes missing.
            assert set(re.findall(r"%\(\w+\)s", text)) <= wanted, (ids[0], text)
            assert set(re.findall(r"%\(\w+\)s", text)) >= wanted - {"%(num)s"}, (ids[0], text)


def _translations(catalog: Catalog) -> dict[tuple[object, str | None], tuple[str, ...]]:
    """What a catalog tells the app: each message (with its context) and its translation.
    Left out: the header (tool versions, dates), which gettext never shows, and messages
    that translate to nothing or to their own msgid — the app shows the msgid for both."""
    found: dict[tuple[object, str | None], tuple[str, ...]] = {}
    for message in catalog:
        ids = tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)
        strings = (tuple(message.string) if isinstance(message.string, list | tuple)
                   else (message.string,))
        if not ids[0] or message.fuzzy or all(not s or s in ids for s in strings):
            continue
        found[(ids, message.context)] = strings
    return found


def test_the_compiled_catalogs_are_those_of_the_po_files() -> None:
    """The .mo files are committed (a fresh checkout runs without Babel's compile step):
    they must say what the .po files say — every message and translation, and the plural
    rule — whichever Babel compiled them (its version is in the header, and does not count)."""
    for locale in i18n.LOCALES:
        source = _catalog(locale)
        with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            compiled = read_mo(f)
        assert _translations(compiled) == _translations(source), f"run `make messages` ({locale})"
        assert compiled.plural_forms == source.plural_forms, f"run `make messages` ({locale})"


def test_a_stale_compiled_catalog_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above can fail: a .mo missing one translation, or holding an old one,
    differs from its .po — while one compiled by another Babel version does not."""
    source = _catalog("en")
    message = next(m for m in source if m.id == "Đăng nhập")

    def compiled(catalog: Catalog, babel_version: str) -> Catalog:
        # The header's "Generated-By: Babel x.y" is what another `pybabel compile` changes.
        monkeypatch.setattr("babel.messages.catalog.VERSION", babel_version)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return read_mo(buffer)

    other_babel = compiled(_catalog("en"), "9.99")
    assert "Babel 9.99" in dict(other_babel.mime_headers)["Generated-By"]
    assert _translations(other_babel) == _translations(source)
    edited = _catalog("en")
    edited[message.id].string = "Log in"
    assert _translations(compiled(edited, "2.18.0")) != _translations(source)
    dropped = _catalog("en")
    del dropped[message.id]
    assert _translations(compiled(dropped, "2.18.0")) != _translations(source)


def test_vietnamese_is_the_msgid_and_needs_no_translation() -> None:
    vietnamese = _catalog("vi")
    assert vietnamese.num_plurals == 1  # Vietnamese has one plural form
    with i18n.using("vi"):
        assert i18n.gettext("Đăng nhập") == "Đăng nhập"
        assert i18n.ngettext("%(num)s ngày làm việc", "%(num)s ngày làm việc", 5) == (
            "%(num)s ngày làm việc")
    with i18n.using("en"):
        assert i18n.gettext("Đăng nhập") == "Sign in"
        assert i18n.ngettext("%(num)s ngày làm việc", "%(num)s ngày làm việc", 1) == (
            "%(num)s working day")
        assert i18n.ngettext("%(num)s ngày làm việc", "%(num)s ngày làm việc", 5) == (
            "%(num)s working days")
    assert i18n.current_locale() == "vi"  # the choice ends with the page


def test_concurrent_requests_keep_their_own_language() -> None:
    """The locale is per request (a context variable), not a process-wide install: two
    threads rendering at the same moment in different languages each get their own."""
    barrier = threading.Barrier(2)
    seen: dict[str, list[str]] = {}

    def render_in(locale: str) -> None:
        with i18n.using(locale):
            barrier.wait()  # both have chosen before either translates
            seen[locale] = [i18n.gettext("Đăng nhập") for _ in range(200)]

    threads = [threading.Thread(target=render_in, args=(lang,)) for lang in ("vi", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["vi"]) == {"Đăng nhập"} and set(seen["en"]) == {"Sign in"}


def test_labels_and_errors_show_the_current_language() -> None:
    stage = labels.STAGES["in_progress"]
    with i18n.using("vi"):
        assert i18n.pick(stage) == "Đang giải quyết"
    with i18n.using("en"):
        assert i18n.pick(stage) == "Being processed"
        assert i18n.in_locale("Cấp Phiếu lý lịch tư pháp", "") == "Cấp Phiếu lý lịch tư pháp"


def test_dates_times_and_numbers_per_locale() -> None:
    moment = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)  # 14:30 in Ho Chi Minh City
    with i18n.using("vi"):
        assert formatting.local_time(moment) == "14:30 04/03/2026"
        assert formatting.local_date(date(2026, 3, 4)) == "04/03/2026"
        assert formatting.number(12345) == "12.345"
        assert figures.decimal(1234.56) == "1.234,6" and figures.share(0.8333) == "83,3 %"
    with i18n.using("en"):
        assert formatting.local_time(moment) == "4 Mar 2026, 14:30"
        assert formatting.local_date(date(2026, 3, 4)) == "4 Mar 2026"
        assert formatting.number(12345) == "12,345"
        assert figures.decimal(1234.56) == "1,234.6" and figures.share(0.8333) == "83.3%"


# Pages


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", **PUBLIC_URL)


class _Visible(HTMLParser):
    """What a reader sees or hears: text outside script and style, and the attributes that
    screen readers and forms show."""

    SHOWN_ATTRIBUTES = frozenset({"placeholder", "aria-label", "title", "data-label", "alt"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts.extend(v for k, v in attrs if k in self.SHOWN_ATTRIBUTES and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def _fragments(texts: list[str]) -> set[str]:
    """The literal runs of UI text, placeholders and markup cut out (matched as whole words,
    so that "Received" is not found inside "Receiver")."""
    runs = set()
    for text in texts:
        for run in PLACEHOLDER.split(text):
            run = " ".join(run.split()).strip(" .,:;()—·")
            if len(run) >= 5:
                runs.add(run)
    return runs


def _ui_text(locale: str) -> set[str]:
    catalog = _catalog("en")
    texts: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        if locale == "vi":
            texts.extend(message.id if isinstance(message.id, tuple) else [message.id])
        else:
            texts.extend(message.string if isinstance(message.string, tuple)
                         else [message.string])
    for table in (labels.STAGES, labels.EVENTS, labels.PUBLIC_EVENTS, labels.ACTIONS,
                  labels.CHANNELS, labels.DISPATCH_METHODS, labels.SATISFACTION):
        texts.extend(getattr(label, locale) for label in table.values())
    # A run both languages write alike says nothing about the language.
    return _fragments(texts) - _shared()


def _shared() -> set[str]:
    catalog = _catalog("en")
    ids, strings = [], []
    for message in catalog:
        if message.id:
            ids.extend(message.id if isinstance(message.id, tuple) else [message.id])
            strings.extend(message.string if isinstance(message.string, tuple)
                           else [message.string])
    return _fragments(ids) & _fragments(strings)


def _says(text: str, run: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(run)}(?!\w)", text) is not None


def assert_only(locale: str, html: str) -> None:
    assert f'<html lang="{locale}">' in html
    assert 'class="en"' not in html
    text = visible(html)
    other = "en" if locale == "vi" else "vi"
    leaked = sorted(run for run in _ui_text(other) if _says(text, run))
    assert leaked == [], f"{other} UI text on a {locale} page"
    shown = [run for run in _ui_text(locale) if _says(text, run)]
    assert len(shown) >= 3, f"the page shows its own {locale} text"


def choose(client: TestClient, locale: str, back_to: str) -> None:
    response = client.post("/language", data={"lang": locale, "next": back_to},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == back_to
    assert f"hoso_lang={locale}" in response.headers["set-cookie"]


def test_a_citizen_switches_the_public_page_to_english_and_back(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    _, link = receive_via_web(web)
    path = public_path(link)
    citizen = TestClient(web.app)  # no session: a phone that scanned the receipt
    page = citizen.get(path).text
    assert_only("vi", page)
    assert "Đã tiếp nhận" in page and "Vì sao hẹn ngày này?" in page
    assert re.search(r"ngày làm việc, không kể ngày tiếp nhận", page)
    due_vi = re.search(r"Hẹn trả kết quả</dt><dd>(\d\d/\d\d/\d{4})", page)
    assert due_vi, "the due date as Vietnamese readers write it"
    assert 'action="/language"' in page

    choose(citizen, "en", path)
    english = citizen.get(path).text
    assert_only("en", english)
    assert "Received" in english and "Why this date?" in english
    assert re.search(r"\d+ working days, not counting the day of receipt", english)
    # The days off recorded with the due date (in Vietnamese) are named in English too.
    assert "Saturday" in english and "Thứ Bảy" not in english
    assert "Ngày Văn hóa Việt Nam" in page and "Ngày Văn hóa Việt Nam" not in english
    due_en = re.search(r"Result due</dt><dd>(\d{1,2} [A-Z][a-z]{2} \d{4})", english)
    assert due_en, "the due date with the month spelled out"
    assert datetime.strptime(due_en.group(1), "%d %b %Y").date() == (
        datetime.strptime(due_vi.group(1), "%d/%m/%Y").date())

    choose(citizen, "vi", path)
    assert_only("vi", citizen.get(path).text)


def test_public_statistics_kept_by_caches_vary_with_the_language(web: TestClient) -> None:
    response = web.get("/stats")
    assert "public" in response.headers["cache-control"]
    assert "Cookie" in response.headers["vary"]
    choose(web, "en", "/stats")
    assert_only("en", web.get("/stats").text)


def test_the_sign_in_page_in_both_languages(web: TestClient) -> None:
    assert_only("vi", web.get("/signin").text)
    choose(web, "en", "/signin")
    page = web.get("/signin").text
    assert_only("en", page)
    assert "Sign in" in page


def test_a_signed_in_clerk_switches_with_the_sessions_token(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    dossier_id, _ = receive_via_web(web)
    queue = web.get("/queue").text
    assert_only("vi", queue)
    assert 'name="next" value="/queue"' in queue
    # The switch is a state change: in a session, without the session's token it is refused.
    token = web.headers.pop("X-CSRF-Token")
    refused = web.post("/language", data={"lang": "en", "next": "/queue"},
                       follow_redirects=False)
    assert refused.status_code == 403
    assert "hoso_lang" not in refused.headers.get("set-cookie", "")
    web.headers["X-CSRF-Token"] = token
    choose(web, "en", "/queue?scope=unit")
    page = web.get("/queue?scope=unit").text
    assert_only("en", page)
    assert "My work" in page and "Sign out" in page
    assert "HCMC Public Administrative Service Centre" in visible(page)  # the clerk's unit
    # What handlers word in Python (the history's summaries) follows the choice too.
    dossier = web.get(f"/dossiers/{dossier_id}").text
    assert_only("en", dossier)
    assert re.search(r"Dossier \S+, due \d{1,2} [A-Z][a-z]{2} \d{4}", visible(dossier))
    # Another visitor with no cookie still gets Vietnamese: the choice is per browser.
    assert '<html lang="vi">' in TestClient(web.app).get("/signin").text


def test_the_switch_refuses_other_sites_and_goes_back_only_to_this_one(
        web: TestClient) -> None:
    forged = web.post("/language", data={"lang": "en", "next": "/signin"},
                      headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "", "signin"):
        response = web.post("/language", data={"lang": "en", "next": target},
                            follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/", target
    unknown = web.post("/language", data={"lang": "fr", "next": "/signin"},
                       follow_redirects=False)
    assert "hoso_lang=vi" in unknown.headers["set-cookie"]
    web.cookies.set("hoso_lang", "fr")  # a cookie we never set: Vietnamese
    assert '<html lang="vi">' in web.get("/signin").text
