-- Posts. `body` is the Markdown source (rendered and sanitized when read); `excerpt` is the
-- author's teaser, the only text of a gated post anyone without access ever receives.
-- `publish_at` is when a scheduled post goes up; `published_at` when it did.
CREATE TABLE IF NOT EXISTS posts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    slug VARCHAR(150) NOT NULL,
    status VARCHAR(12) NOT NULL DEFAULT 'draft',
    visibility VARCHAR(10) NOT NULL DEFAULT 'public',
    required_cents INT UNSIGNED NULL,
    category_id BIGINT UNSIGNED NULL,
    cover_url VARCHAR(500) NULL,
    author_id VARCHAR(64) NULL,
    author_name VARCHAR(100) NOT NULL,
    title VARCHAR(200) NOT NULL,
    excerpt VARCHAR(500) NULL,
    body MEDIUMTEXT NOT NULL,
    publish_at DATETIME(6) NULL,
    published_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_posts_slug (slug),
    KEY ix_posts_public (status, published_at),
    KEY ix_posts_due (status, publish_at),
    KEY ix_posts_category (category_id),
    CONSTRAINT fk_posts_category FOREIGN KEY (category_id) REFERENCES categories (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS post_translations (
    post_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    title VARCHAR(200) NULL,
    excerpt VARCHAR(500) NULL,
    body MEDIUMTEXT NULL,
    PRIMARY KEY (post_id, language),
    CONSTRAINT fk_post_translations FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS post_tags (
    post_id BIGINT UNSIGNED NOT NULL,
    tag_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (post_id, tag_id),
    KEY ix_post_tags_tag (tag_id),
    CONSTRAINT fk_post_tags_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT fk_post_tags_tag FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- What lists, feeds and search read, per post and language, English filling the gaps: the
-- title, the excerpt anyone may see (for a gated post only the author's teaser, never text
-- taken from its body), the reading time, and the text full-text search matches. Bodies of
-- gated posts are never copied here, so no search can find a post by its hidden words.
CREATE TABLE IF NOT EXISTS post_digests (
    post_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    title VARCHAR(200) NOT NULL,
    excerpt VARCHAR(500) NOT NULL,
    reading_minutes INT UNSIGNED NOT NULL,
    search_text MEDIUMTEXT NOT NULL,
    PRIMARY KEY (post_id, language),
    FULLTEXT KEY ft_post_digests_search (search_text),
    CONSTRAINT fk_post_digests_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
