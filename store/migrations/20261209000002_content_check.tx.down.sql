DROP TABLE IF EXISTS media_checks;

--bun:split

DROP TABLE IF EXISTS user_moderation;
