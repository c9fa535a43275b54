"""CSV export of a range: the same columns as `qyb export`."""

from __future__ import annotations

import csv
import io
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

router = APIRouter(tags=["export"])

_CHUNK_ROWS = 2_000
log = logging.getLogger("qyb.api")


@router.get(
    "/villages/{village}/export.csv",
    summary="readings of a range as CSV (ts, village, site, device, metric, value)",
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
    columns = ["ts", "village", "site", "device", "metric", "value"] + (["flags"] if include_flagged else [])

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        n = 0
        try:
            for r in state.reader.export(start_ms, end_ms, series):
                if r.out_of_range and not include_flagged:
                    continue
                ts = datetime.fromtimestamp(r.ts_ms / 1000, tz).isoformat(timespec="milliseconds")
                values: list[object] = [ts, r.village, r.site, r.device, r.metric, r.value]
                writer.writerow([*values, r.flags] if include_flagged else values)
                n += 1
                if n % _CHUNK_ROWS == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        except Exception as e:
            # The 200 and the first rows are gone already: say so in the file, then break the transfer (no
            # closing chunk), so the browser reports a failed download instead of saving a short file.
            log.exception("CSV export of %s failed after %d rows", village, n)
            yield buf.getvalue() + f"# 导出中断，文件不完整 / export failed, the file is incomplete: {e}\n"
            raise
        yield buf.getvalue()

    name = f"{village}-{datetime.fromtimestamp(start_ms / 1000, tz):%Y%m%d}.csv"
    return StreamingResponse(
        rows(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
