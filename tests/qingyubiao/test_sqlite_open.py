"""One way to open the database (qingyubiao/sqlite.py), so a path with '#', '%' or '?' works everywhere:
before, the read-only URI was escaped in the readings store only, and the phone page's notices (the
outbox) and the alerts read by the API opened another, empty file."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.notify.outbox import Outbox
from ingest.store.sqlite import SqliteStore
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.alerting import Silence
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from qingyubiao.sqlite import open_sqlite
from tests.notify.conftest import transition
from tests.notify.test_text_routing import route


@pytest.mark.parametrize("folder", ["plain", "村#2 100%?x=1"])
def test_every_store_reads_the_same_file_read_only(tmp_path: Path, folder: str, village: Config) -> None:
    db = tmp_path / folder / "qyb.sqlite"
    SqliteStore(db, SeriesIndex(village)).close()
    writer = Outbox(db)
    t = transition()
    queued = route(t)
    writer.enqueue(t, queued, t.ts_ms)
    feed = [q.notice for q in queued if q.notice.channel == "feed"]
    writer.add_feed(feed, [("中文", "English")] * len(feed))
    alerts = SqliteAlertStore(db)
    alerts.save_silence(Silence("s1", "secretary", "修棚膜", 0, 2**40, site="gh03"))

    notices = Outbox(db, readonly=True)
    assert [e.text_zh for e in notices.events_since(0)] == ["中文"] * len(feed) and feed
    assert [s.reason for s in SqliteAlertStore(db, readonly=True).silences()] == ["修棚膜"]
    assert SqliteStore(db, SeriesIndex(village), readonly=True).count() == 0
    with pytest.raises(Exception, match="readonly"):
        open_sqlite(db, readonly=True).execute("CREATE TABLE nope(x)")
    # nothing else was created beside the database (an unescaped URI makes a second file)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and "qyb.sqlite" not in p.name) == []
    assert [p.name for p in tmp_path.iterdir()] == [folder.split("/")[0]]
    writer.close()
    alerts.close()
