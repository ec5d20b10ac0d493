"""The post office's own work list: what it holds, in five piles with their counts, the
overdue first (domain/postal.py says what is due when). Made for a phone in the agent's hand."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from starlette.requests import Request
from starlette.responses import Response

from domain.errors import AccessDenied
from domain.organisation import Staff
from domain.postal import (
    POSTAL_STAGES,
    PostalTask,
    is_overdue,
    leg_due,
    overdue_before,
    postal_task,
)
from domain.working_days import WorkingCalendar
from projections.desk_queue import QueueRow
from web.clerk import refuse_access, services_of, staff_only
from web.labels import POSTAL_TASKS, Label
from web.templating import render

# Rows shown in each pile; the counts above are always complete.
SHOWN = 100

NOT_THE_POST = AccessDenied("Chỉ nhân viên bưu điện mới xem danh sách việc của bưu điện.",
                            "Only post office agents see the post's work list.")


@dataclass(frozen=True)
class PostalLine:
    row: QueueRow
    procedure_name: Label
    since: datetime
    due: date
    overdue: bool


@dataclass(frozen=True)
class Pile:
    task: PostalTask
    name: Label
    count: int
    overdue: int
    lines: list[PostalLine]

    @property
    def more(self) -> int:
        return self.count - len(self.lines)


def _line(row: QueueRow, name: Label, today: date, calendar: WorkingCalendar) -> PostalLine:
    since = row.postal_since or row.arrived_at
    return PostalLine(row=row, procedure_name=name, since=since,
                      due=leg_due(since, calendar),
                      overdue=is_overdue(since, today, calendar))


@staff_only
def work_list(request: Request, staff: Staff) -> Response:
    if not staff.carries_the_post:
        return refuse_access(request, staff, NOT_THE_POST)
    services = services_of(request)
    today, calendar = services.today(), services.app.calendar
    queue = services.read_models.desk_queue
    counts: Counter[PostalTask] = Counter()
    overdue: Counter[PostalTask] = Counter()
    for group in queue.postal_counts(staff.unit_code, overdue_before(today, calendar)):
        task = postal_task(group.stage, group.failed_attempts, group.counter_chosen)
        if task is not None:
            counts[task] += group.count
            overdue[task] += group.count if group.overdue else 0
    lines: dict[PostalTask, list[PostalLine]] = {task: [] for task in PostalTask}
    procedures = services.directory.procedures
    rows = [row for stage in POSTAL_STAGES
            # A stage holds up to three piles (to deliver, failed, to return).
            for row in queue.postal_rows(staff.unit_code, stage, limit=SHOWN * 3)]
    for row in rows:
        task = postal_task(row.stage, row.failed_attempts, row.counter_chosen)
        if task is None or len(lines[task]) >= SHOWN:
            continue
        procedure = procedures.get(row.procedure_code)
        name = (Label(procedure.name_vi, procedure.name_en) if procedure
                else Label(row.procedure_code, row.procedure_code))
        lines[task].append(_line(row, name, today, calendar))
    piles = [Pile(task, POSTAL_TASKS[task.value], counts[task], overdue[task],
                  # Overdue first, then the longest waiting (the rows come oldest first).
                  sorted(lines[task], key=lambda line: not line.overdue))
             for task in PostalTask]
    return render(request, "post.html", {"piles": piles, "today": today,
                                         "total": sum(counts.values()),
                                         "overdue_total": sum(overdue.values())})
