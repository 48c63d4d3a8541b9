"""Bodies are rendered from Markdown, then sanitized: no script, no event handlers, no
javascript: or data: URLs, and links off the site get rel="noopener nofollow"."""

from __future__ import annotations

import re

import pytest
from blog_testkit import FRONTEND, make_post

from tdc_blog.render import Renderer, excerpt_of, plain_text, reading_minutes

renderer = Renderer(FRONTEND)
DANGEROUS_URL = re.compile(r"""(href|src)\s*=\s*["']?\s*(javascript|data|vbscript):""", re.IGNORECASE)


def html(markdown: str) -> str:
    return renderer.html(markdown)


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "Hello <script src='https://evil.example/x.js'></script>",
        "<svg><script>alert(1)</script></svg>",
        "<SCRIPT>alert(1)</SCRIPT>",
    ],
)
def test_no_script(source):
    out = html(source)
    assert "<script" not in out.lower() and "alert(1)" not in out.lower().replace("alert(1)</", "")


@pytest.mark.parametrize(
    "source",
    [
        "<img src='/api/v1/media/1' onerror='alert(1)'>",
        '<p onmouseover="steal()">hi</p>',
        "<a href='https://x.example' onclick='x()'>x</a>",
        "<div style='background:url(javascript:alert(1))'>x</div>",
    ],
)
def test_no_event_handlers_or_styles(source):
    out = html(source).lower()
    assert "onerror" not in out and "onmouseover" not in out and "onclick" not in out and "style" not in out


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "<a href='JaVaScRiPt:alert(1)'>x</a>",
        "<a href=' javascript:alert(1)'>x</a>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
        "<img src='data:image/png;base64,AAAA'>",
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_no_javascript_or_data_urls(source):
    out = html(source).lower()
    # Refused URLs may survive as harmless text (markdown-it leaves `[x](javascript:...)` as
    # written); no attribute may carry them.
    assert not DANGEROUS_URL.search(out) and "<iframe" not in out
    assert "href" not in out or 'href="https' in out
    assert "src=" not in out


def test_external_links_get_noopener_nofollow_and_ours_do_not():
    out = html(
        "[away](https://elsewhere.example/page?a=1&b=2) [home](https://dreamerscave.example/events) "
        "[relative](/blog/other) [sneaky](//elsewhere.example/) [sub](https://evil.dreamerscave.example.net/)"
    )
    assert '<a href="https://elsewhere.example/page?a=1&amp;b=2" rel="noopener nofollow">away</a>' in out
    assert '<a href="https://dreamerscave.example/events">home</a>' in out
    assert '<a href="/blog/other">relative</a>' in out
    assert '<a href="//elsewhere.example/" rel="noopener nofollow">sneaky</a>' in out
    assert '<a href="https://evil.dreamerscave.example.net/" rel="noopener nofollow">sub</a>' in out
    # An author's own rel (opener, say) is dropped, never kept.
    assert html("<a href='https://x.example' rel='opener'>x</a>") == (
        '<p><a href="https://x.example" rel="noopener nofollow">x</a></p>\n'
    )


def test_markdown_features_survive():
    out = html("# Title\n\n**bold** and `code`\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    for piece in ("<h1>Title</h1>", "<strong>bold</strong>", "<code>code</code>", "<li>one</li>", "<td>1</td>"):
        assert piece in out


def test_plain_text_excerpt_and_reading_time():
    assert plain_text("# Hi **there** & <b>you</b>") == "Hi there & you"
    assert reading_minutes("word " * 10) == 1
    assert reading_minutes("word " * 401) == 3
    long = "word " * 100
    cut = excerpt_of(plain_text(long))
    assert len(cut) <= 240 and cut.endswith("…")


async def test_the_api_serves_only_sanitized_bodies(blog):
    post = await make_post(
        blog,
        body="Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [a](javascript:alert(3)) [b](https://x.example)",
    )
    data = (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).json()["data"]
    assert "<script" not in data["body_html"] and "onerror" not in data["body_html"]
    assert not DANGEROUS_URL.search(data["body_html"]) and "href" in data["body_html"]
    assert 'rel="noopener nofollow"' in data["body_html"]
