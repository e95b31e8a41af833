DROP TABLE IF EXISTS wechat_access_tokens;
