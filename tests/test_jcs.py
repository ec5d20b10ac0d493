"""hoso's canonical JSON agrees byte for byte with ``rfc8785``, the maintained RFC 8785
implementation (Trail of Bits), on every value an event can hold.

hoso keeps its own encoder on the hot path (every log entry, every ``hoso verify``): it writes
strings with the standard library's C encoder, and measured about 1.6 times faster per entry
than ``rfc8785.dumps`` here, which over a million events is most of a minute of ``verify``.
This test is what lets it stay: any difference from the reference fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from domain.transparency.jcs import _plain, jcs

_SAFE = 2**53 - 1

scalars = (st.none() | st.booleans() | st.integers(min_value=-_SAFE, max_value=_SAFE)
           | st.text()
           | st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 2),
                          max_value=datetime(9998, 1, 1))
           | st.dates() | st.uuids())
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


@given(values)
def test_every_value_is_written_as_the_reference_writes_it(value: Any) -> None:
    try:
        plain = _plain(value)
    except ValueError:
        return  # two keys that become one once NFC-normalised: refused before encoding
    assert jcs(value) == rfc8785.dumps(plain)


def test_the_published_vector_and_a_log_entry_shaped_value() -> None:
    # RFC 8785 §3.2.3's sorting example: keys ordered by their UTF-16 code units.
    vector = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet "
              "With Dagesh", "1": "One", "\U0001f600": "Emoji: Grinning Face",
              "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
    # hoso writes text NFC-normalised (the Hebrew letter decomposes), then exactly as RFC 8785.
    assert jcs(vector) == rfc8785.dumps(_plain(vector))
    del vector["\ufb33"]
    assert jcs(vector) == rfc8785.dumps(vector)
    assert jcs(vector).decode().startswith('{"\\r":"Carriage Return","1":"One"')
    entry = {"event": "Dossier.Transferred", "version": 7, "off_route": False,
             "dossier": UUID("6f2b7e1c-1111-2222-3333-444455556666"),
             "recorded_at": datetime(2026, 12, 3, 9, 30, tzinfo=UTC) + timedelta(microseconds=5),
             "note": "Nguyễn Văn Ánh"}
    assert jcs(entry) == rfc8785.dumps(_plain(entry))


def test_names_beyond_the_basic_plane_sort_by_their_utf16_code_units() -> None:
    # U+1F600 is written D83D DE00 in UTF-16, before U+FB01: code point order says the reverse.
    value = {"\ufb01": 1, "\U0001f600": 2, "a": {"\ue000": 3, "\U00010000": 4}}
    assert jcs(value) == rfc8785.dumps(value)
    assert jcs(value).decode() == '{"a":{"\U00010000":4,"\ue000":3},"\U0001f600":2,"\ufb01":1}'
