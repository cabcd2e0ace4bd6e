"""Three people on one app at once: two train different models from the attention page's sidebar while
a third keeps using the dialogue-acts page. All finish; nobody sees another's input or job; a model one
of them trained shows up in the other's picker (the store is shared on purpose)."""
from urllib.parse import parse_qs, urlparse

from tests.e2e.helpers import CHART, EXCEPTION, main, settle, start_training, submit_text


def test_two_trainers_and_a_reader_at_once(server, browser, store_copy):
    from playwright.sync_api import expect

    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(3)]
    a, b, c = (ctx.new_page() for ctx in contexts)
    try:
        for pg in (a, b, c):
            pg.set_default_timeout(120_000)
        a.goto(server + "/attention")
        b.goto(server + "/attention")
        c.goto(server + "/dialogue-acts")
        for pg in (a, b, c):
            settle(pg)
        submit_text(a, "the striker scored a goal")
        submit_text(b, "the pizza and the soup")
        for pg, name in [(a, "conc-a"), (b, "conc-b")]:
            start_training(pg, name, {"epochs (passes over the data)": "1", "training sentences": "200"})
            expect(pg.get_by_test_id("stSidebar").get_by_test_id("stProgress")).to_be_visible(timeout=30_000)

        # meanwhile the reader keeps working, and gets answers
        for dialogue, n in [("A: hello\nB: is it cold today\nA: yeah", 3), ("A: hi\nB: did you see the game", 2)]:
            submit_text(c, dialogue)
            expect(main(c).get_by_role("heading", name=f"{n} utterances", exact=False)).to_be_visible(timeout=120_000)
            assert c.locator(EXCEPTION).count() == 0
        assert c.get_by_test_id("stSidebar").get_by_test_id("stProgress").count() == 0   # no one else's job

        # each trainer sees only its own job, and its own text
        sa, sb = a.get_by_test_id("stSidebar"), b.get_by_test_id("stSidebar")
        expect(sa.get_by_text("Trained conc-a")).to_be_visible(timeout=240_000)
        expect(sb.get_by_text("Trained conc-b")).to_be_visible(timeout=240_000)
        assert sa.get_by_text("Trained conc-b").count() == 0 and sb.get_by_text("Trained conc-a").count() == 0
        assert parse_qs(urlparse(a.url).query)["text"] == ["the striker scored a goal"]
        assert parse_qs(urlparse(b.url).query)["text"] == ["the pizza and the soup"]
        expect(sa.get_by_role("combobox", name="Model")).to_have_value("conc-a")
        expect(sb.get_by_role("combobox", name="Model")).to_have_value("conc-b")
        assert (store_copy / "attention" / "conc-a" / "config.json").is_file()
        assert (store_copy / "attention" / "conc-b" / "config.json").is_file()

        # the shared store: after a rerun each picker lists the other's model too
        for pg, other in [(a, "conc-b"), (b, "conc-a")]:
            pg.reload()
            settle(pg)
            pg.get_by_test_id("stSidebar").get_by_role("combobox", name="Model").click()
            expect(pg.get_by_role("option", name=other, exact=True)).to_be_visible()
            pg.keyboard.press("Escape")
            expect(main(pg).get_by_text("Predicted: ")).to_be_visible()
            pg.locator(CHART).first.wait_for(state="visible")
            assert pg.locator(EXCEPTION).count() == 0
    finally:
        for ctx in contexts:
            ctx.close()
