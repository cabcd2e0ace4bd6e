"""The page guides: one text in docs/guide/ for the repository and the app (seqviz.guides)."""
import re

from seqviz import archs, guides


def test_every_page_has_a_guide_and_the_app_shows_it_without_the_repositorys_links():
    for page in ["home", *archs.ARCHS]:
        raw = guides.path(page).read_text(encoding="utf-8")
        shown = guides.for_app(page)
        assert shown and raw.startswith("# ") and not shown.startswith("# ")    # the page has its own title
        assert "#### What to look at" in shown or page == "home"
        assert not re.search(r"\]\((?!https?://)", shown), page      # no link to a file the app does not serve
        assert "![" not in shown                                        # nor a screenshot it cannot show
        rest = re.sub(r"^## Try this\n.*?(?=^## |\Z)", "", raw, flags=re.M | re.S)   # the page's own box shows it
        assert "Try this" not in shown
        for text in re.findall(r"(?<!!)\[([^\]]+)\]\((?!https?://)[^)]*\)", rest):
            assert text in shown                                         # a link's text stays
    assert guides.for_app("no-such-page") is None


def test_links_become_their_text_and_sections_fit_under_the_expander(tmp_path, monkeypatch):
    monkeypatch.setattr(guides, "GUIDES", tmp_path)
    (tmp_path / "x.md").write_text("# X (`/x`)\n\n![shot](../s.png)\n\n## Try\n\nSee [the CLI](../cli.md#predict) "
                                   "and [Keras](https://keras.io).\n", encoding="utf-8")
    assert guides.for_app("x") == "#### Try\n\nSee the CLI and [Keras](https://keras.io)."


def test_the_try_this_items_are_parsed_from_the_guide_and_left_out_of_its_text(tmp_path, monkeypatch):
    monkeypatch.setattr(guides, "GUIDES", tmp_path)
    (tmp_path / "p.md").write_text("# P\n\nIntro.\n\n## Try this\n\nOne click each.\n\n"
                                   "- [Ten digits](?task=digits&text=1+2+3&modes=basic%2Cattention) — basic fails.\n"
                                   "- [Empty](?text=) — nothing.\n\n## What to look at\n\nThis.\n", encoding="utf-8")
    assert guides.tries("p") == [
        guides.Try("Ten digits", {"task": "digits", "text": "1 2 3", "modes": "basic,attention"}, "basic fails."),
        guides.Try("Empty", {"text": ""}, "nothing.")]
    assert guides.for_app("p") == "Intro.\n\n#### What to look at\n\nThis."
    assert guides.tries("absent") == []
