ALTER TABLE clients DROP COLUMN first_party;
DROP TABLE consents;
