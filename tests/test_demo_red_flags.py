"""The demo is made to contain a few of each pattern; the red flags must find them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.application import HosoApplication
from domain.demo import load_demo
from domain.working_days import HCMC
from projections.red_flags import Period, ReviewData, red_flags
from projections.runners import ReadModels
from projections.store import Dialect, Store
from projections.verify import verify

# Out-of-order business times cannot be made through the commands (they refuse them): that
# flag guards records from before the rule or from imports, and is tested on its own.
NOT_IN_THE_DEMO = {"out_of_order"}


def test_the_red_flags_find_each_pattern_in_the_demo(store: Store,
                                                     app: HosoApplication) -> None:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the demo is the same on both stores; once is enough")
    load_demo(app)
    models = ReadModels(store, app)
    try:
        models.catch_up()
        today = app.clock().astimezone(HCMC).date()
        data = ReviewData.load(models.review, Period(today - timedelta(days=90),
                                                     today + timedelta(days=1)), app.clock(),
                               None, models.readings)
        flags = red_flags(data)
        found = {f.key: len(f.dossiers) + len(f.officers) for f in flags}
        # Told in the order things were recorded (issue 17.5): no recording time goes back.
        report = verify(app, models.transparency_log)
        assert report.ok, [str(f) for f in report.findings[:5]]
    finally:
        models.close()
    missing = {k for k, n in found.items() if n == 0} - NOT_IN_THE_DEMO
    assert not missing, found
    # A flag is a reason to look at a few files, not at all of them.
    for flag in flags:
        assert len({d.dossier_id for d in flag.dossiers}) < 0.4 * len(data.dossiers), flag.key
