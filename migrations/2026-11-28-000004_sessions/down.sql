DROP TABLE csrf_keys;
DROP TABLE sessions;
