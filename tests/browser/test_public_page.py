"""The citizen's status page in a real browser: on a phone, for a keyboard, and through axe-core,
the automated WCAG 2.1 AA checker.

axe-core runs in the page as served, under its strict Content-Security-Policy: Playwright's
``evaluate`` goes through the DevTools protocol, which the page's CSP does not govern, so
nothing about the page is loosened for the check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.axe import AXE_VERSION, axe_violations, describe
from tests.browser.support import Site, save_screenshot

UNKNOWN_TOKEN = "AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.parametrize("width", [320, 390])
def test_the_public_page_fits_a_phone_without_sideways_scrolling(
        site: Site, new_context: Callable[..., BrowserContext], width: int) -> None:
    # 320 CSS pixels is WCAG 2.1's reflow width (1.4.10); 390 a common phone today.
    phone = new_context(viewport={"width": width, "height": 844}, device_scale_factor=2,
                        is_mobile=True, has_touch=True).new_page()
    phone.goto(site.public(site.delivered_token))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Đã trả kết quả")
    expect(phone.get_by_role("group", name="Bạn hài lòng ở mức nào?")).to_be_visible()
    overflow = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{overflow} px of sideways scrolling at {width} px wide"
    if width == 390:
        # The first screen, as the citizen sees it after scanning the code.
        save_screenshot(phone, "public-status-phone.png", docs=True, full_page=False)


PAGES = {
    "received": lambda site: site.received_token,
    "delivered, rating form open": lambda site: site.delivered_token,
    "unknown token": lambda site: UNKNOWN_TOKEN,
}


@pytest.mark.parametrize("which", list(PAGES))
def test_the_public_page_meets_wcag_2_1_aa(site: Site, citizen: Page, which: str) -> None:
    citizen.goto(site.public(PAGES[which](site)))
    violations = axe_violations(citizen)
    assert violations == [], f"axe-core {AXE_VERSION}:\n{describe(violations)}"


def test_the_checker_does_find_a_fault(site: Site, citizen: Page) -> None:
    # The same page with two faults put in: the check above is not passing by running nothing.
    citizen.goto(site.public(site.received_token))
    citizen.evaluate("""() => {
        document.documentElement.removeAttribute('lang');
        document.querySelector('.stage').style.color = '#ddd';
    }""")
    found = {v["id"] for v in axe_violations(citizen)}
    assert {"html-has-lang", "color-contrast"} <= found


def focus_ring(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("""() => {
        const element = document.activeElement, style = getComputedStyle(element);
        return {name: element.getAttribute('name'), tag: element.tagName.toLowerCase(),
                focusVisible: element.matches(':focus-visible'),
                outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth)};
    }"""))


def test_a_keyboard_alone_reaches_the_rating_sees_its_focus_and_sends_it(
        site: Site, citizen: Page) -> None:
    citizen.goto(site.public(site.delivered_for_rating_token))
    for _ in range(30):
        citizen.keyboard.press("Tab")
        if focus_ring(citizen)["name"] == "satisfaction":
            break
    else:
        pytest.fail("30 presses of Tab never reached the rating's first choice")
    ring = focus_ring(citizen)
    assert ring["focusVisible"] and ring["outlineStyle"] != "none", ring
    assert ring["outlineWidth"] >= 2, ring
    # Visible means it shows: the choice looks different with and without the focus.
    choice = citizen.locator("label.choice").filter(
        has=citizen.locator("input[name=satisfaction]")).first
    expect(choice.locator("input")).to_be_focused()
    focused = choice.screenshot()
    citizen.evaluate("document.activeElement.blur()")
    assert choice.screenshot() != focused
    choice.locator("input").focus()

    citizen.keyboard.press("Space")
    for _ in range(3):
        citizen.keyboard.press("ArrowDown")
    expect(citizen.get_by_role("radio", name="Hài lòng", exact=True)).to_be_checked()
    for _ in range(10):
        citizen.keyboard.press("Tab")
        if focus_ring(citizen)["tag"] == "button":
            break
    expect(citizen.get_by_role("button", name="Gửi đánh giá")).to_be_focused()
    assert focus_ring(citizen)["focusVisible"]
    citizen.keyboard.press("Enter")
    expect(citizen.locator("#rating")).to_contain_text("Cảm ơn bạn đã đánh giá!")
    violations = axe_violations(citizen)
    assert violations == [], f"after the rating:\n{describe(violations)}"


def test_the_switch_to_english_returns_even_to_a_page_that_does_not_name_itself(
        site: Site, citizen: Page) -> None:
    # The not-found page leaves the switch's way back empty (it echoes no address); the
    # page's script fills it in the browser.
    citizen.goto(site.public(UNKNOWN_TOKEN))
    expect(citizen.locator("input[name=next]")).to_have_value("")
    citizen.get_by_role("button", name="English").click()
    citizen.wait_for_url(site.public(UNKNOWN_TOKEN))
    expect(citizen.locator("h1")).to_have_text("We could not find this dossier")
    expect(citizen.locator("html")).to_have_attribute("lang", "en")
    violations = axe_violations(citizen)
    assert violations == [], f"axe-core {AXE_VERSION} in English:\n{describe(violations)}"
