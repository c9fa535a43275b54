"""CSV export of a range for Excel (UTF-8 with BOM, names and local time): the same columns as `qyb export`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from api.deps import CallerDep, StateDep, village_of
from api.errors import errors
from api.params import SLUG, AccessToken, VillageId, When
from api.timeparams import time_range
from qingyubiao.config import SITES_MAX
from qingyubiao.spreadsheet import ReadingTable, csv_chunks

router = APIRouter(tags=["export"])

log = logging.getLogger("qyb.api")


@router.get(
    "/villages/{village}/export.csv",
    summary="readings of a range as CSV for Excel: ids, value, then site and metric names, unit, local and UTC time",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **errors(400, 404)},
)
def export_csv(
    village: VillageId,
    caller: CallerDep,
    state: StateDep,
    start: When = None,  # default 24 h before the end
    end: When = None,  # default now
    site: Annotated[
        list[Annotated[str, StringConstraints(pattern=SLUG)]] | None,
        Query(max_length=SITES_MAX, description="only these sites (repeatable); default all visible"),
    ] = None,
    include_flagged: Annotated[bool, Query(description="also readings flagged out of physical range")] = False,
    bom: Annotated[bool, Query(description="start with the UTF-8 byte order mark, so Excel reads 3号棚")] = True,
    access_token: AccessToken = None,  # read by the caller dependency; listed so the document says so
) -> StreamingResponse:
    village_of(caller, village)
    tz = ZoneInfo(caller.village.tz)
    start_ms, end_ms = time_range(start, end, tz, state.now_ms())
    wanted = set(site) if site else set(caller.sites)
    missing = sorted(wanted - set(caller.sites))
    if missing:
        raise HTTPException(404, f"没有这个棚/果园 / no site {', '.join(missing)} in {village}")
    series = [i for s in sorted(wanted) for i in state.site_series.get((village, s), [])]
    table = ReadingTable([caller.village], include_flagged)

    def pieces() -> Iterator[str]:
        n = 0

        def counted() -> Iterator[list[object]]:
            nonlocal n
            for row in table.rows(state.reader.export(start_ms, end_ms, series)):
                n += 1
                yield row

        try:
            yield from csv_chunks(table.columns, counted(), bom)
        except Exception as e:
            # The 200 and the first rows are gone already: say so in the file, then break the transfer (no
            # closing chunk), so the browser reports a failed download instead of saving a short file.
            log.exception("CSV export of %s failed after %d rows", village, n)
            yield f"# 导出中断，文件不完整 / export failed, the file is incomplete: {e}\n"
            raise

    name = f"{village}-{datetime.fromtimestamp(start_ms / 1000, tz):%Y%m%d}.csv"
    return StreamingResponse(
        pieces(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
