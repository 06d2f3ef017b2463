"""The assistant's knowledge base: help and policy articles seeded from the `*.md` files here.

Each file starts with front matter (`slug`, `title`, `category` between `---` lines), then
the body. `articles_sync()` runs after every migrate: it creates the articles that are
missing and never touches an existing one, so staff edits in the admin survive deploys.
To retire a seeded article, unpublish it; a deleted one comes back at the next migrate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ARTICLES_DIR = Path(__file__).resolve().parent
_FRONT_MATTER_KEYS = {"slug", "title", "category"}


@dataclass(frozen=True)
class ArticleSource:
    slug: str
    title: str
    category: str
    body: str


def article_source_parse(text: str, *, name: str = "") -> ArticleSource:
    lines = text.strip().splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (line.strip() for line in lines[1:]):
        raise ValueError(f"{name}: the file must start with front matter between '---' lines")
    end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if not sep or key.strip() not in _FRONT_MATTER_KEYS:
            raise ValueError(f"{name}: unexpected front matter line {line!r}")
        meta[key.strip()] = value.strip()
    missing = {"slug", "title"} - meta.keys()
    if missing:
        raise ValueError(f"{name}: front matter lacks {', '.join(sorted(missing))}")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise ValueError(f"{name}: the article has no body")
    return ArticleSource(meta["slug"], meta["title"], meta.get("category", ""), body)


def article_sources() -> list[ArticleSource]:
    return [
        article_source_parse(path.read_text(encoding="utf-8"), name=path.name)
        for path in sorted(ARTICLES_DIR.glob("*.md"))
    ]


def articles_sync(*, using: str = "default") -> int:
    """Create the seeded articles that do not exist yet (by slug). Returns how many."""
    from apps.chat.models import KnowledgeArticle

    sources = article_sources()
    existing = set(
        KnowledgeArticle.objects.using(using)
        .filter(slug__in=[source.slug for source in sources])
        .values_list("slug", flat=True)
    )
    created = 0
    for source in sources:
        if source.slug in existing:
            continue
        KnowledgeArticle.objects.using(using).create(
            slug=source.slug,
            title=source.title,
            category=source.category,
            body=source.body,
            published=True,
        )
        created += 1
    return created
