"""Every page loads without a single 5xx response or a traceback in the server's log (a Streamlit /
Starlette version clash once answered every static file, e.g. /favicon.png, with 500 and a traceback)."""
from tests.e2e.helpers import CHART, EXCEPTION, settle

from seqviz.archs import ARCHS


def test_every_page_loads_without_server_errors_or_tracebacks(server, server_log, browser):
    start = server_log.stat().st_size if server_log.exists() else 0
    failures = []
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.set_default_timeout(120_000)
    pg.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    try:
        for path in [""] + [f"/{a}" for a in ARCHS]:
            pg.goto(server + path)
            settle(pg)
            if path:   # an architecture page: its figures drew
                pg.locator(CHART).first.wait_for(state="visible")
            assert pg.locator(EXCEPTION).count() == 0, path
        for static in ("/favicon.png", "/_stcore/health"):   # what a browser asks for on every visit
            r = pg.request.get(server + static)
            assert r.status == 200, (static, r.status)
    finally:
        pg.close()
    assert failures == []
    log = server_log.read_bytes()[start:].decode(errors="replace")
    assert "Traceback" not in log, log[-3000:]
