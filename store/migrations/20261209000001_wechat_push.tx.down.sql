DROP TABLE IF EXISTS wechat_pushes;
